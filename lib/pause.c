/*
 * The fleet-wide pause on rate limits: pause.json in a plan's state.
 */
#include "pause.h"
#include "error.h"
#include "json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void orch_pause_init(orch_pause *pause)
{
	memset(pause, 0, sizeof(*pause));
}

void orch_pause_clear(orch_pause *pause)
{
	free(pause->task);
	free(pause->reason);
	orch_pause_init(pause);
}

int orch_pause_active(const orch_pause *pause, int64_t now_ms)
{
	return pause->until_ms > now_ms;
}

static int pause_from_json(orch_pause *out, const orch_buf *json)
{
	const char *what = ORCH_PAUSE_FILE;
	cJSON *root = NULL;
	int error;

	if ((error =
	         orch_json_parse_object(&root, json->ptr, json->len, what)) < 0)
		return error;
	if ((error = orch_json_get_int64(&out->until_ms, root, "until_ms",
	                                 what)) < 0 ||
	    (error = orch_json_get_int64(&out->since_ms, root, "since_ms",
	                                 what)) < 0 ||
	    (error = orch_json_get_int(&out->level, root, "level", what)) < 0 ||
	    (error = orch_json_get_string(&out->task, root, "task", what)) <
	        0 ||
	    (error = orch_json_get_int(&out->attempt, root, "attempt", what)) <
	        0 ||
	    (error = orch_json_get_string(&out->reason, root, "reason", what)) <
	        0)
		orch_pause_clear(out);
	cJSON_Delete(root);
	return error;
}

static int pause_put(orch_txn *txn, const orch_pause *pause)
{
	cJSON *root = cJSON_CreateObject();
	char *text;
	int error;

	orch_json_add_number(root, "since_ms", pause->since_ms);
	orch_json_add_number(root, "until_ms", pause->until_ms);
	orch_json_add_number(root, "level", pause->level);
	orch_json_add_string(root, "task", pause->task);
	orch_json_add_number(root, "attempt", pause->attempt);
	orch_json_add_string(root, "reason", pause->reason);
	text = orch_json_print(root);
	cJSON_Delete(root);
	if (!text)
		return orch_error_set("out of memory");
	error = orch_txn_put_file(txn, ORCH_PAUSE_FILE, text, strlen(text));
	free(text);
	return error;
}

/* The pause recorded in a transaction's tree; none: an inactive one. */
static int pause_get(orch_pause *out, orch_txn *txn)
{
	orch_buf json = {0};
	int error;

	orch_pause_init(out);
	error = orch_txn_read_file(&json, txn, ORCH_PAUSE_FILE);
	if (error == ORCH_ENOTFOUND)
		error = 0;
	else if (error == 0)
		error = pause_from_json(out, &json);
	orch_buf_free(&json);
	return error;
}

int orch_pause_read(orch_pause *out, orch_store *store, const char *plan)
{
	orch_buf json = {0};
	int error, found;

	orch_pause_init(out);
	error = orch_store_read_file_if(&json, &found, store, plan,
	                                ORCH_PAUSE_FILE);
	if (error == 0 && found)
		error = pause_from_json(out, &json);
	orch_buf_free(&json);
	return error;
}

int orch_pause_hit(orch_pause *out, orch_txn *txn, const orch_plan *plan,
                   const char *task, int attempt, const char *reason,
                   int64_t now_ms, int64_t first_ms)
{
	orch_pause p;
	int64_t longest = plan->rate_limit_wait_ms > 0
	                      ? plan->rate_limit_wait_ms
	                      : ORCH_RATE_LIMIT_WAIT_MS;
	int error;

	if ((error = pause_get(&p, txn)) < 0)
		return error;
	/* a limit met during the pause is the same one: keep the pause */
	if (!orch_pause_active(&p, now_ms)) {
		int64_t ms = first_ms > 0 ? first_ms : ORCH_PAUSE_FIRST_MS;
		for (int i = 0; i < p.level && ms < longest; i++)
			ms *= 2;
		if (ms > longest)
			ms = longest;
		p.level++;
		p.since_ms = now_ms;
		p.until_ms = now_ms + ms;
		free(p.task);
		free(p.reason);
		p.task = orch_strdup(task);
		p.reason = orch_strdup(reason);
		p.attempt = attempt;
		error = pause_put(txn, &p);
	}
	if (error == 0 && out) {
		orch_pause_clear(out);
		*out = p;
	} else {
		orch_pause_clear(&p);
	}
	return error;
}

int orch_pause_reset(orch_txn *txn)
{
	orch_pause p;
	int error;

	if ((error = pause_get(&p, txn)) < 0)
		return error;
	if (p.level > 0) {
		p.level = 0;
		error = pause_put(txn, &p);
	}
	orch_pause_clear(&p);
	return error;
}

int orch_rate_limit_compile(orch_rate_limit *out, const char *pattern)
{
	char msg[256];
	int rc;

	memset(out, 0, sizeof(*out));
	if (!pattern || !*pattern)
		return 0;
	if ((rc = regcomp(&out->re, pattern, REG_EXTENDED | REG_NEWLINE))) {
		regerror(rc, &out->re, msg, sizeof(msg));
		orch_error_set("bad rate-limit pattern '%s': %s", pattern, msg);
		orch_error_hint("rate-limit is a POSIX extended regular "
		                "expression, e.g. rate-limit = rate limit|"
		                "429|quota exceeded");
		return ORCH_EINVALID;
	}
	out->compiled = 1;
	return 0;
}

void orch_rate_limit_free(orch_rate_limit *rl)
{
	if (rl->compiled)
		regfree(&rl->re);
	rl->compiled = 0;
}

int orch_rate_limit_hit(char *why, size_t whylen, const orch_rate_limit *rl,
                        int exit_status, const char *output)
{
	regmatch_t m;

	if (exit_status == ORCH_RATE_LIMIT_EXIT) {
		snprintf(why, whylen, "exit %d", ORCH_RATE_LIMIT_EXIT);
		return 1;
	}
	if (rl->compiled && output && regexec(&rl->re, output, 1, &m, 0) == 0) {
		int len = (int)(m.rm_eo - m.rm_so);
		snprintf(why, whylen, "output matches rate-limit: '%.*s%s'",
		         len > 80 ? 80 : len, output + m.rm_so,
		         len > 80 ? "..." : "");
		return 1;
	}
	return 0;
}
