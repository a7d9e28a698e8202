#ifndef ORCH_JSON_H
#define ORCH_JSON_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "util.h"

/*
 * Small cJSON helpers for the JSON git-orchestrate stores: writers that
 * leave out what is at its default, and typed readers of one member.
 */

/*
 * `json` printed on one line with a newline at the end, in memory the
 * caller frees with free() (not cJSON_free). NULL when out of memory.
 */
char *orch_json_print(const cJSON *json);

/* Add string member `key`; nothing when `value` is NULL. */
void orch_json_add_string(cJSON *obj, const char *key, const char *value);
/* Add number member `key`. */
void orch_json_add_number(cJSON *obj, const char *key, int64_t value);
/* Add `vec` as a list of strings; nothing when it is empty. */
void orch_json_add_strvec(cJSON *obj, const char *key, const orch_strvec *vec);

/*
 * Typed readers of member `key` of `obj`: an absent (or null) member keeps
 * *out; one of the wrong type returns ORCH_ERROR with the message
 * "WHAT: 'KEY' is not a string" (or number, list...). Strings are copied
 * (the old *out is freed); list items are appended.
 */
int orch_json_get_string(char **out, const cJSON *obj, const char *key,
                         const char *what);
int orch_json_get_int64(int64_t *out, const cJSON *obj, const char *key,
                        const char *what);
int orch_json_get_int(int *out, const cJSON *obj, const char *key,
                      const char *what);
int orch_json_get_strvec(orch_strvec *out, const cJSON *obj, const char *key,
                         const char *what);

/*
 * The same readers for a member already found (`item`, NULL when absent);
 * `key` names it in messages.
 */
int orch_json_string_at(char **out, const cJSON *item, const char *key,
                        const char *what);
int orch_json_int64_at(int64_t *out, const cJSON *item, const char *key,
                       const char *what);
int orch_json_int_at(int *out, const cJSON *item, const char *key,
                     const char *what);
int orch_json_strvec_at(orch_strvec *out, const cJSON *item, const char *key,
                        const char *what);

/*
 * The members `keys[0..nkeys)` of object `obj` into items[] (NULL when
 * absent; of duplicates the first, as cJSON_GetObjectItemCaseSensitive
 * finds it), in one pass over the members: the key after the last one
 * found is tried first, so members in the order of `keys` cost one
 * comparison each, not a search of the object per key.
 */
void orch_json_members(const cJSON **items, const cJSON *obj,
                       const char *const *keys, size_t nkeys);

/*
 * Parse `len` bytes of `json` that must hold one object; errors name
 * `what` and the byte where parsing stopped. Caller frees *out with
 * cJSON_Delete.
 */
int orch_json_parse_object(cJSON **out, const char *json, size_t len,
                           const char *what);

#endif
