#ifndef ORCH_REDACT_H
#define ORCH_REDACT_H

#include <stddef.h>

#include "util.h"

/*
 * Secrets: the variables a plan, a task or a worker names in `env`, with
 * the values they have in the orchestrator's environment. They are set for
 * the task's command and never stored: every value is replaced by
 * "[redacted NAME]" in the output a task prints before that output goes
 * anywhere (orch_redactor).
 */

typedef struct {
	char *name;
	char *value;
} orch_secret;

/* A set of secrets, at most one per name. Zero-init is an empty set. */
typedef struct {
	orch_secret *items;
	size_t count;
	size_t alloc;
	size_t longest; /* length of the longest value */
} orch_secrets;

/*
 * Add `name` with the value it has in this process's environment. When it
 * is not set: ORCH_EINVALID, "WHERE names environment variable 'NAME' in
 * env, which is not set" with a hint. A name already in the set is kept.
 */
int orch_secrets_add_env(orch_secrets *set, const char *name,
                         const char *where);
/* Add `name` = `value` (copied); a name already in the set is kept. */
void orch_secrets_add(orch_secrets *set, const char *name, const char *value);
/* The value of `name` in the set (borrowed), or NULL. */
const char *orch_secrets_get(const orch_secrets *set, const char *name);
/* Free the names and values; the set becomes empty. */
void orch_secrets_free(orch_secrets *set);

/*
 * Redacts a stream of output read in pieces: a value split across two
 * pieces is still found, because the bytes at the end of a piece that may
 * begin a value (at most the longest value's length - 1) are held back
 * until the next piece or orch_redact_flush. Zero-init is ready to use.
 */
typedef struct {
	orch_buf carry;
} orch_redactor;

/*
 * Append `len` bytes of output to *out, with every value of `set` replaced
 * by "[redacted NAME]" (the longest value wins where several match; empty
 * values are left alone).
 */
void orch_redact_put(orch_buf *out, orch_redactor *redactor,
                     const orch_secrets *set, const void *bytes, size_t len);
/* The end of the stream: append what was held back, redacted. */
void orch_redact_flush(orch_buf *out, orch_redactor *redactor,
                       const orch_secrets *set);
void orch_redactor_clear(orch_redactor *redactor);

#endif
