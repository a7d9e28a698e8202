/*
 * The JSON of the store: task states (tasks/<id>.json) and leases (the
 * blobs lock refs point to). Keys come in a fixed order and fields at their
 * default value are left out, so that equal states give equal bytes and
 * therefore one shared blob: the 100,000 pending tasks of a new plan are
 * one object, not 100,000.
 */
#include "store.h"
#include "error.h"

#include <math.h>
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
	orch_strvec_free(&state->paths);
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
	dst->exit_status = src->exit_status;
	dst->commit = orch_strdup(src->commit);
	dst->base = orch_strdup(src->base);
	dst->error = orch_strdup(src->error);
	dst->worktree = orch_strdup(src->worktree);
	dst->not_before_ms = src->not_before_ms;
	strvec_copy(&dst->paths, &src->paths);
	strvec_copy(&dst->workers_tried, &src->workers_tried);
}

/* cJSON allocates with its own hooks: copy its text into a free()-able one. */
static char *print_json(const cJSON *json)
{
	char *text = cJSON_PrintUnformatted(json);
	orch_buf buf = {0};

	if (!text)
		return NULL;
	orch_buf_puts(&buf, text);
	orch_buf_puts(&buf, "\n");
	cJSON_free(text);
	return orch_buf_detach(&buf);
}

static void add_string(cJSON *obj, const char *key, const char *value)
{
	if (value)
		cJSON_AddItemToObject(obj, key, cJSON_CreateString(value));
}

static void add_number(cJSON *obj, const char *key, int64_t value)
{
	cJSON_AddItemToObject(obj, key, cJSON_CreateNumber((double)value));
}

static void add_strvec(cJSON *obj, const char *key, const orch_strvec *vec)
{
	cJSON *array;

	if (!vec->count)
		return;
	array = cJSON_CreateArray();
	for (size_t i = 0; i < vec->count; i++)
		cJSON_AddItemToArray(array, cJSON_CreateString(vec->items[i]));
	cJSON_AddItemToObject(obj, key, array);
}

char *orch_task_state_to_json(const orch_task_state *state)
{
	cJSON *obj = cJSON_CreateObject();
	char *text;

	add_string(obj, "state", orch_state_name(state->state));
	if (state->attempts)
		add_number(obj, "attempts", state->attempts);
	add_string(obj, "worker", state->worker);
	if (state->started_ms)
		add_number(obj, "started", state->started_ms);
	if (state->ended_ms)
		add_number(obj, "ended", state->ended_ms);
	if (state->duration_ms >= 0)
		add_number(obj, "duration_ms", state->duration_ms);
	if (state->exit_status != -1)
		add_number(obj, "exit", state->exit_status);
	add_string(obj, "commit", state->commit);
	add_string(obj, "base", state->base);
	add_string(obj, "error", state->error);
	add_string(obj, "worktree", state->worktree);
	if (state->not_before_ms)
		add_number(obj, "not_before", state->not_before_ms);
	add_strvec(obj, "paths", &state->paths);
	add_strvec(obj, "workers_tried", &state->workers_tried);
	text = print_json(obj);
	cJSON_Delete(obj);
	if (!text)
		abort(); /* cJSON fails only when out of memory */
	return text;
}

/*
 * Typed readers of one member: absent (or null) keeps the default; a
 * member of the wrong type is an error naming `what` and the key.
 */
static int get_string(char **out, const cJSON *obj, const char *key,
                      const char *what)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);

	if (!item || cJSON_IsNull(item))
		return 0;
	if (!cJSON_IsString(item))
		return orch_error_set("%s: '%s' is not a string", what, key);
	free(*out);
	*out = orch_strdup(item->valuestring);
	return 0;
}

static int get_int64(int64_t *out, const cJSON *obj, const char *key,
                     const char *what)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);

	if (!item || cJSON_IsNull(item))
		return 0;
	if (!cJSON_IsNumber(item) || !isfinite(item->valuedouble) ||
	    fabs(item->valuedouble) > 9007199254740992.0)
		return orch_error_set("%s: '%s' is not a number", what, key);
	*out = (int64_t)item->valuedouble;
	return 0;
}

static int get_int(int *out, const cJSON *obj, const char *key,
                   const char *what)
{
	int64_t value = *out;
	int error;

	if ((error = get_int64(&value, obj, key, what)) < 0)
		return error;
	if (value < -2147483647 || value > 2147483647)
		return orch_error_set("%s: '%s' is out of range", what, key);
	*out = (int)value;
	return 0;
}

static int get_strvec(orch_strvec *out, const cJSON *obj, const char *key,
                      const char *what)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key), *elem;

	if (!item || cJSON_IsNull(item))
		return 0;
	if (!cJSON_IsArray(item))
		return orch_error_set("%s: '%s' is not a list", what, key);
	cJSON_ArrayForEach(elem, item)
	{
		if (!cJSON_IsString(elem))
			return orch_error_set(
			    "%s: '%s' holds something else than strings", what,
			    key);
		orch_strvec_push(out, elem->valuestring);
	}
	return 0;
}

static int parse_object(cJSON **out, const char *json, size_t len,
                        const char *what)
{
	const char *end = NULL;
	cJSON *obj = cJSON_ParseWithLengthOpts(json, len, &end, 0);

	if (!obj) {
		size_t at = end && end >= json ? (size_t)(end - json) : 0;
		return orch_error_set("%s: malformed JSON at byte %zu", what,
		                      at);
	}
	if (!cJSON_IsObject(obj)) {
		cJSON_Delete(obj);
		return orch_error_set("%s: not a JSON object", what);
	}
	*out = obj;
	return 0;
}

int orch_task_state_from_json(orch_task_state *out, const char *json,
                              size_t len)
{
	static const char what[] = "task state";
	cJSON *obj = NULL;
	const cJSON *state;
	int error;

	orch_task_state_clear(out);
	if ((error = parse_object(&obj, json, len, what)) < 0)
		return error;
	state = cJSON_GetObjectItemCaseSensitive(obj, "state");
	if (!cJSON_IsString(state)) {
		error = orch_error_set("%s: no 'state'", what);
		goto done;
	}
	if (orch_state_parse(&out->state, state->valuestring) < 0) {
		error = orch_error_set("%s: unknown state '%s'", what,
		                       state->valuestring);
		goto done;
	}
	if ((error = get_int(&out->attempts, obj, "attempts", what)) < 0 ||
	    (error = get_string(&out->worker, obj, "worker", what)) < 0 ||
	    (error = get_int64(&out->started_ms, obj, "started", what)) < 0 ||
	    (error = get_int64(&out->ended_ms, obj, "ended", what)) < 0 ||
	    (error = get_int64(&out->duration_ms, obj, "duration_ms", what)) <
	        0 ||
	    (error = get_int(&out->exit_status, obj, "exit", what)) < 0 ||
	    (error = get_string(&out->commit, obj, "commit", what)) < 0 ||
	    (error = get_string(&out->base, obj, "base", what)) < 0 ||
	    (error = get_string(&out->error, obj, "error", what)) < 0 ||
	    (error = get_string(&out->worktree, obj, "worktree", what)) < 0 ||
	    (error = get_int64(&out->not_before_ms, obj, "not_before", what)) <
	        0 ||
	    (error = get_strvec(&out->paths, obj, "paths", what)) < 0 ||
	    (error = get_strvec(&out->workers_tried, obj, "workers_tried",
	                        what)) < 0)
		goto done;
done:
	if (error < 0)
		orch_task_state_clear(out);
	cJSON_Delete(obj);
	return error;
}

void orch_lease_clear(orch_lease *lease)
{
	if (!lease)
		return;
	free(lease->host);
	free(lease->token);
	free(lease->task);
	free(lease->worker);
	free(lease->remote_pid);
	memset(lease, 0, sizeof(*lease));
}

char *orch_lease_to_json(const orch_lease *lease)
{
	cJSON *obj = cJSON_CreateObject();
	char *text;

	add_string(obj, "host", lease->host);
	add_number(obj, "pid", lease->pid);
	add_string(obj, "token", lease->token);
	add_number(obj, "expires", lease->expires_ms);
	add_string(obj, "task", lease->task);
	add_string(obj, "worker", lease->worker);
	if (lease->attempt)
		add_number(obj, "attempt", lease->attempt);
	if (lease->task_pid)
		add_number(obj, "task_pid", lease->task_pid);
	add_string(obj, "remote_pid", lease->remote_pid);
	text = print_json(obj);
	cJSON_Delete(obj);
	if (!text)
		abort();
	return text;
}

int orch_lease_from_json(orch_lease *out, const char *json, size_t len)
{
	static const char what[] = "lease";
	cJSON *obj = NULL;
	int error;

	memset(out, 0, sizeof(*out));
	if ((error = parse_object(&obj, json, len, what)) < 0)
		return error;
	if ((error = get_string(&out->host, obj, "host", what)) < 0 ||
	    (error = get_int(&out->pid, obj, "pid", what)) < 0 ||
	    (error = get_string(&out->token, obj, "token", what)) < 0 ||
	    (error = get_int64(&out->expires_ms, obj, "expires", what)) < 0 ||
	    (error = get_string(&out->task, obj, "task", what)) < 0 ||
	    (error = get_string(&out->worker, obj, "worker", what)) < 0 ||
	    (error = get_int(&out->attempt, obj, "attempt", what)) < 0 ||
	    (error = get_int(&out->task_pid, obj, "task_pid", what)) < 0 ||
	    (error = get_string(&out->remote_pid, obj, "remote_pid", what)) < 0)
		goto done;
done:
	if (error < 0)
		orch_lease_clear(out);
	cJSON_Delete(obj);
	return error;
}
