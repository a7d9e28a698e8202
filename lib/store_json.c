/*
 * The JSON of the store: task states (tasks/<id>.json). Keys come in a fixed
 * order and fields at their default value are left out, so that equal states
 * give equal bytes and therefore one shared blob: the 100,000 pending tasks of
 * a new plan are one object, not 100,000.
 */
#include "store.h"
#include "error.h"
#include "json.h"

#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

static const char *const state_names[ORCH_STATE__COUNT] = {
    "pending",   "ready",   "running",  "done",     "failed", "timeout",
    "cancelled", "skipped", "conflict", "rejected", "merged",
};

const char *orch_state_name(orch_state state)
{
	if ((int)state < 0 || state >= ORCH_STATE__COUNT)
		return "unknown";
	return state_names[state];
}

int orch_state_parse(orch_state *out, const char *name)
{
	for (int i = 0; i < ORCH_STATE__COUNT; i++) {
		if (!strcmp(state_names[i], name)) {
			*out = (orch_state)i;
			return 0;
		}
	}
	return -1;
}

int orch_state_is_final(orch_state state)
{
	return state >= ORCH_STATE_DONE && state < ORCH_STATE__COUNT;
}

void orch_task_state_init(orch_task_state *state)
{
	memset(state, 0, sizeof(*state));
	state->state = ORCH_STATE_PENDING;
	state->duration_ms = -1;
	state->exit_status = -1;
	state->cpu_ms = -1;
	state->max_rss_kb = -1;
}

void orch_task_state_clear(orch_task_state *state)
{
	if (!state)
		return;
	free(state->worker);
	free(state->commit);
	free(state->base);
	free(state->error);
	free(state->worktree);
	free(state->rerun_base);
	orch_strvec_free(&state->paths);
	orch_strvec_free(&state->rerun_paths);
	orch_strvec_free(&state->workers_tried);
	orch_task_state_init(state);
}

static void strvec_copy(orch_strvec *dst, const orch_strvec *src)
{
	for (size_t i = 0; i < src->count; i++)
		orch_strvec_push(dst, src->items[i]);
}

void orch_task_state_copy(orch_task_state *dst, const orch_task_state *src)
{
	orch_task_state_clear(dst);
	dst->state = src->state;
	dst->attempts = src->attempts;
	dst->worker = orch_strdup(src->worker);
	dst->started_ms = src->started_ms;
	dst->ended_ms = src->ended_ms;
	dst->duration_ms = src->duration_ms;
	dst->first_started_ms = src->first_started_ms;
	dst->attempts_ms = src->attempts_ms;
	dst->exit_status = src->exit_status;
	dst->cpu_ms = src->cpu_ms;
	dst->max_rss_kb = src->max_rss_kb;
	dst->commit = orch_strdup(src->commit);
	dst->base = orch_strdup(src->base);
	dst->error = orch_strdup(src->error);
	dst->worktree = orch_strdup(src->worktree);
	dst->not_before_ms = src->not_before_ms;
	dst->interrupted = src->interrupted;
	strvec_copy(&dst->paths, &src->paths);
	dst->reruns = src->reruns;
	dst->rerun_base = orch_strdup(src->rerun_base);
	strvec_copy(&dst->rerun_paths, &src->rerun_paths);
	strvec_copy(&dst->workers_tried, &src->workers_tried);
}

char *orch_task_state_to_json(const orch_task_state *state)
{
	cJSON *obj = cJSON_CreateObject();
	char *text;

	orch_json_add_string(obj, "state", orch_state_name(state->state));
	if (state->attempts)
		orch_json_add_number(obj, "attempts", state->attempts);
	orch_json_add_string(obj, "worker", state->worker);
	if (state->started_ms)
		orch_json_add_number(obj, "started", state->started_ms);
	if (state->ended_ms)
		orch_json_add_number(obj, "ended", state->ended_ms);
	if (state->duration_ms >= 0)
		orch_json_add_number(obj, "duration_ms", state->duration_ms);
	/* both only when they differ from the one attempt's (see reading) */
	if (state->first_started_ms != state->started_ms)
		orch_json_add_number(obj, "first_started",
		                     state->first_started_ms);
	if (state->attempts_ms !=
	    (state->duration_ms > 0 ? state->duration_ms : 0))
		orch_json_add_number(obj, "attempts_ms", state->attempts_ms);
	if (state->exit_status != -1)
		orch_json_add_number(obj, "exit", state->exit_status);
	if (state->cpu_ms >= 0)
		orch_json_add_number(obj, "cpu_ms", state->cpu_ms);
	if (state->max_rss_kb >= 0)
		orch_json_add_number(obj, "max_rss_kb", state->max_rss_kb);
	orch_json_add_string(obj, "commit", state->commit);
	orch_json_add_string(obj, "base", state->base);
	orch_json_add_string(obj, "error", state->error);
	orch_json_add_string(obj, "worktree", state->worktree);
	if (state->not_before_ms)
		orch_json_add_number(obj, "not_before", state->not_before_ms);
	if (state->interrupted)
		orch_json_add_number(obj, "interrupted", state->interrupted);
	orch_json_add_strvec(obj, "paths", &state->paths);
	orch_json_add_strvec(obj, "workers_tried", &state->workers_tried);
	if (state->reruns)
		orch_json_add_number(obj, "reruns", state->reruns);
	orch_json_add_string(obj, "rerun_base", state->rerun_base);
	orch_json_add_strvec(obj, "rerun_paths", &state->rerun_paths);
	text = orch_json_print(obj);
	cJSON_Delete(obj);
	if (!text)
		abort(); /* cJSON fails only when out of memory */
	return text;
}

/* The members of a state, in the order orch_task_state_to_json writes. */
enum {
	ST_STATE,
	ST_ATTEMPTS,
	ST_WORKER,
	ST_STARTED,
	ST_ENDED,
	ST_DURATION,
	ST_FIRST_STARTED,
	ST_ATTEMPTS_MS,
	ST_EXIT,
	ST_CPU,
	ST_MAX_RSS,
	ST_COMMIT,
	ST_BASE,
	ST_ERROR,
	ST_WORKTREE,
	ST_NOT_BEFORE,
	ST_INTERRUPTED,
	ST_PATHS,
	ST_WORKERS_TRIED,
	ST_RERUNS,
	ST_RERUN_BASE,
	ST_RERUN_PATHS,
	ST__COUNT
};

static const char *const state_keys[ST__COUNT] = {
    "state",       "attempts",      "worker",      "started",       "ended",
    "duration_ms", "first_started", "attempts_ms", "exit",          "cpu_ms",
    "max_rss_kb",  "commit",        "base",        "error",         "worktree",
    "not_before",  "interrupted",   "paths",       "workers_tried", "reruns",
    "rerun_base",  "rerun_paths",
};

int orch_task_state_from_json(orch_task_state *out, const char *json,
                              size_t len)
{
	static const char what[] = "task state";
	cJSON *obj = NULL;
	const cJSON *items[ST__COUNT], *state;
	int error;

	orch_task_state_clear(out);
	if ((error = orch_json_parse_object(&obj, json, len, what)) < 0)
		return error;
	/* one pass over the members: a status reads 10,000 states */
	orch_json_members(items, obj, state_keys, ST__COUNT);
	state = items[ST_STATE];
	if (!cJSON_IsString(state)) {
		error = orch_error_set("%s: no 'state'", what);
		goto done;
	}
	if (orch_state_parse(&out->state, state->valuestring) < 0) {
		error = orch_error_set("%s: unknown state '%s'", what,
		                       state->valuestring);
		goto done;
	}
	/*
	 * Absent first_started and attempts_ms are those of the last attempt:
	 * so are they after a first attempt, and it is all a record written
	 * before they were kept can tell.
	 */
	out->first_started_ms = -1;
	out->attempts_ms = -1;
	if ((error = orch_json_int_at(&out->attempts, items[ST_ATTEMPTS],
	                              "attempts", what)) < 0 ||
	    (error = orch_json_string_at(&out->worker, items[ST_WORKER],
	                                 "worker", what)) < 0 ||
	    (error = orch_json_int64_at(&out->started_ms, items[ST_STARTED],
	                                "started", what)) < 0 ||
	    (error = orch_json_int64_at(&out->ended_ms, items[ST_ENDED],
	                                "ended", what)) < 0 ||
	    (error = orch_json_int64_at(&out->duration_ms, items[ST_DURATION],
	                                "duration_ms", what)) < 0 ||
	    (error = orch_json_int64_at(&out->first_started_ms,
	                                items[ST_FIRST_STARTED],
	                                "first_started", what)) < 0 ||
	    (error =
	         orch_json_int64_at(&out->attempts_ms, items[ST_ATTEMPTS_MS],
	                            "attempts_ms", what)) < 0 ||
	    (error = orch_json_int_at(&out->exit_status, items[ST_EXIT], "exit",
	                              what)) < 0 ||
	    (error = orch_json_int64_at(&out->cpu_ms, items[ST_CPU], "cpu_ms",
	                                what)) < 0 ||
	    (error = orch_json_int64_at(&out->max_rss_kb, items[ST_MAX_RSS],
	                                "max_rss_kb", what)) < 0 ||
	    (error = orch_json_string_at(&out->commit, items[ST_COMMIT],
	                                 "commit", what)) < 0 ||
	    (error = orch_json_string_at(&out->base, items[ST_BASE], "base",
	                                 what)) < 0 ||
	    (error = orch_json_string_at(&out->error, items[ST_ERROR], "error",
	                                 what)) < 0 ||
	    (error = orch_json_string_at(&out->worktree, items[ST_WORKTREE],
	                                 "worktree", what)) < 0 ||
	    (error =
	         orch_json_int64_at(&out->not_before_ms, items[ST_NOT_BEFORE],
	                            "not_before", what)) < 0 ||
	    (error = orch_json_int_at(&out->interrupted, items[ST_INTERRUPTED],
	                              "interrupted", what)) < 0 ||
	    (error = orch_json_strvec_at(&out->paths, items[ST_PATHS], "paths",
	                                 what)) < 0 ||
	    (error = orch_json_strvec_at(&out->workers_tried,
	                                 items[ST_WORKERS_TRIED],
	                                 "workers_tried", what)) < 0 ||
	    (error = orch_json_int_at(&out->reruns, items[ST_RERUNS], "reruns",
	                              what)) < 0 ||
	    (error = orch_json_string_at(&out->rerun_base, items[ST_RERUN_BASE],
	                                 "rerun_base", what)) < 0 ||
	    (error =
	         orch_json_strvec_at(&out->rerun_paths, items[ST_RERUN_PATHS],
	                             "rerun_paths", what)) < 0)
		goto done;
	if (out->first_started_ms == -1)
		out->first_started_ms = out->started_ms;
	if (out->attempts_ms == -1)
		out->attempts_ms = out->duration_ms > 0 ? out->duration_ms : 0;
done:
	if (error < 0)
		orch_task_state_clear(out);
	cJSON_Delete(obj);
	return error;
}
