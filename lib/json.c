/*
 * Helpers for reading and writing JSON with cJSON, shared by the modules that
 * keep JSON in the repository (task states, leases, plans).
 */
#include "json.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

/* cJSON allocates with its own hooks: copy its text into a free()-able one. */
char *orch_json_print(const cJSON *json)
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

void orch_json_add_string(cJSON *obj, const char *key, const char *value)
{
	if (value)
		cJSON_AddItemToObject(obj, key, cJSON_CreateString(value));
}

void orch_json_add_number(cJSON *obj, const char *key, int64_t value)
{
	cJSON_AddItemToObject(obj, key, cJSON_CreateNumber((double)value));
}

void orch_json_add_strvec(cJSON *obj, const char *key, const orch_strvec *vec)
{
	cJSON *array;

	if (!vec->count)
		return;
	array = cJSON_CreateArray();
	for (size_t i = 0; i < vec->count; i++)
		cJSON_AddItemToArray(array, cJSON_CreateString(vec->items[i]));
	cJSON_AddItemToObject(obj, key, array);
}

/*
 * Typed readers of one member: absent (or null) keeps the default; a
 * member of the wrong type is an error naming `what` and the key.
 */
void orch_json_members(const cJSON **items, const cJSON *obj,
                       const char *const *keys, size_t nkeys)
{
	size_t next = 0;

	memset(items, 0, nkeys * sizeof(*items));
	for (const cJSON *member = obj ? obj->child : NULL; member;
	     member = member->next) {
		if (!member->string)
			continue;
		for (size_t n = 0; n < nkeys; n++) {
			size_t k = (next + n) % nkeys;
			if (!strcmp(member->string, keys[k])) {
				if (!items[k])
					items[k] = member;
				next = k + 1;
				break;
			}
		}
	}
}

int orch_json_string_at(char **out, const cJSON *item, const char *key,
                        const char *what)
{
	if (!item || cJSON_IsNull(item))
		return 0;
	if (!cJSON_IsString(item))
		return orch_error_set("%s: '%s' is not a string", what, key);
	free(*out);
	*out = orch_strdup(item->valuestring);
	return 0;
}

int orch_json_get_string(char **out, const cJSON *obj, const char *key,
                         const char *what)
{
	return orch_json_string_at(
	    out, cJSON_GetObjectItemCaseSensitive(obj, key), key, what);
}

int orch_json_int64_at(int64_t *out, const cJSON *item, const char *key,
                       const char *what)
{
	if (!item || cJSON_IsNull(item))
		return 0;
	if (!cJSON_IsNumber(item) || !isfinite(item->valuedouble) ||
	    fabs(item->valuedouble) > 9007199254740992.0)
		return orch_error_set("%s: '%s' is not a number", what, key);
	*out = (int64_t)item->valuedouble;
	return 0;
}

int orch_json_get_int64(int64_t *out, const cJSON *obj, const char *key,
                        const char *what)
{
	return orch_json_int64_at(
	    out, cJSON_GetObjectItemCaseSensitive(obj, key), key, what);
}

int orch_json_int_at(int *out, const cJSON *item, const char *key,
                     const char *what)
{
	int64_t value = *out;
	int error;

	if ((error = orch_json_int64_at(&value, item, key, what)) < 0)
		return error;
	if (value < -2147483647 || value > 2147483647)
		return orch_error_set("%s: '%s' is out of range", what, key);
	*out = (int)value;
	return 0;
}

int orch_json_get_int(int *out, const cJSON *obj, const char *key,
                      const char *what)
{
	return orch_json_int_at(out, cJSON_GetObjectItemCaseSensitive(obj, key),
	                        key, what);
}

int orch_json_strvec_at(orch_strvec *out, const cJSON *item, const char *key,
                        const char *what)
{
	const cJSON *elem;

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

int orch_json_get_strvec(orch_strvec *out, const cJSON *obj, const char *key,
                         const char *what)
{
	return orch_json_strvec_at(
	    out, cJSON_GetObjectItemCaseSensitive(obj, key), key, what);
}

int orch_json_parse_object(cJSON **out, const char *json, size_t len,
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
