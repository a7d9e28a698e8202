/*
 * Secrets and their redaction from task output. A secret's value lives
 * only in this process's memory (and in the environment of the task that
 * needs it); what is stored of a task's output went through
 * orch_redact_put first.
 */
#include "redact.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"

void orch_secrets_add(orch_secrets *set, const char *name, const char *value)
{
	orch_secret *secret;
	size_t len = strlen(value);

	if (orch_secrets_get(set, name))
		return;
	if (set->count == set->alloc) {
		set->alloc = set->alloc ? set->alloc * 2 : 8;
		set->items =
		    orch_realloc(set->items, set->alloc * sizeof(*set->items));
	}
	secret = &set->items[set->count++];
	secret->name = orch_strdup(name);
	secret->value = orch_strdup(value);
	if (len > set->longest)
		set->longest = len;
}

int orch_secrets_add_env(orch_secrets *set, const char *name, const char *where)
{
	const char *value;

	if (orch_secrets_get(set, name))
		return 0;
	if (!(value = getenv(name))) {
		orch_error_set("%s names environment variable '%s' in env, "
		               "which is not set",
		               where, name);
		orch_error_hint("export %s before running, or remove it from "
		                "env",
		                name);
		return ORCH_EINVALID;
	}
	orch_secrets_add(set, name, value);
	return 0;
}

const char *orch_secrets_get(const orch_secrets *set, const char *name)
{
	for (size_t i = 0; i < set->count; i++)
		if (!strcmp(set->items[i].name, name))
			return set->items[i].value;
	return NULL;
}

void orch_secrets_free(orch_secrets *set)
{
	for (size_t i = 0; i < set->count; i++) {
		/* do not leave the value in freed memory */
		volatile char *p = set->items[i].value;
		while (*p)
			*p++ = '\0';
		free(set->items[i].name);
		free(set->items[i].value);
	}
	free(set->items);
	memset(set, 0, sizeof(*set));
}

/*
 * Redact `len` bytes at `bytes` into *out. Unless `final`, a tail that may
 * still become a value is not written: its offset goes to *held.
 */
static void redact(orch_buf *out, size_t *held, const orch_secrets *set,
                   const char *bytes, size_t len, int final)
{
	size_t i = 0, run = 0;

	*held = len;
	while (i < len) {
		const orch_secret *best = NULL;
		size_t best_len = 0, left = len - i;
		int partial = 0;
		for (size_t k = 0; k < set->count; k++) {
			const char *value = set->items[k].value;
			size_t vlen;
			if (!value[0] || value[0] != bytes[i])
				continue;
			vlen = strlen(value);
			if (vlen > left) {
				/* may match once more output arrives */
				if (!final && !memcmp(bytes + i, value, left))
					partial = 1;
			} else if (vlen > best_len &&
			           !memcmp(bytes + i, value, vlen)) {
				best = &set->items[k];
				best_len = vlen;
			}
		}
		if (partial) {
			/* a longer value may still match here: decide later */
			orch_buf_put(out, bytes + run, i - run);
			*held = i;
			return;
		}
		if (best) {
			orch_buf_put(out, bytes + run, i - run);
			orch_buf_printf(out, "[redacted %s]", best->name);
			i += best_len;
			run = i;
			continue;
		}
		i++;
	}
	orch_buf_put(out, bytes + run, len - run);
}

void orch_redact_put(orch_buf *out, orch_redactor *redactor,
                     const orch_secrets *set, const void *bytes, size_t len)
{
	orch_buf *carry = &redactor->carry;
	size_t held;

	if (!len)
		return;
	if (!set || !set->count) {
		orch_buf_put(out, bytes, len);
		return;
	}
	orch_buf_put(carry, bytes, len);
	redact(out, &held, set, carry->ptr, carry->len, 0);
	memmove(carry->ptr, carry->ptr + held, carry->len - held);
	carry->len -= held;
	carry->ptr[carry->len] = '\0';
}

void orch_redact_flush(orch_buf *out, orch_redactor *redactor,
                       const orch_secrets *set)
{
	size_t held;

	if (redactor->carry.len && set)
		redact(out, &held, set, redactor->carry.ptr,
		       redactor->carry.len, 1);
	else if (redactor->carry.len)
		orch_buf_put(out, redactor->carry.ptr, redactor->carry.len);
	orch_buf_clear(&redactor->carry);
}

void orch_redactor_clear(orch_redactor *redactor)
{
	orch_buf_free(&redactor->carry);
}
