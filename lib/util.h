#ifndef ORCH_UTIL_H
#define ORCH_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Small helpers shared by every module: growable strings and string lists,
 * file reading, durations and time. Allocation failure aborts (we cannot
 * report anything sensible without memory).
 */

/* A growable byte buffer, always NUL-terminated. Zero-init is an empty buf. */
typedef struct {
	char *ptr;
	size_t len;
	size_t alloc;
} orch_buf;

void orch_buf_grow(orch_buf *buf, size_t extra);
void orch_buf_put(orch_buf *buf, const void *bytes, size_t len);
void orch_buf_puts(orch_buf *buf, const char *str);
/* Append formatted text (vprintf: `ap` is consumed). */
void orch_buf_vprintf(orch_buf *buf, const char *fmt, va_list ap);
void orch_buf_printf(orch_buf *buf, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Hand the string to the caller (free with free()); buf becomes empty. */
char *orch_buf_detach(orch_buf *buf);
void orch_buf_clear(orch_buf *buf);
void orch_buf_free(orch_buf *buf);

/* A list of owned strings. Zero-init is an empty list. */
typedef struct {
	char **items;
	size_t count;
	size_t alloc;
} orch_strvec;

void orch_strvec_push(orch_strvec *vec, const char *str);
void orch_strvec_push_take(orch_strvec *vec, char *owned);
/* Split `str` on any of `seps`, trim blanks, skip empty items, append. */
void orch_strvec_split(orch_strvec *vec, const char *str, const char *seps);
int orch_strvec_contains(const orch_strvec *vec, const char *str);
void orch_strvec_free(orch_strvec *vec);

/*
 * A map from strings (copied in) to size_t values: open addressing with
 * linear probing, FNV-1a hashes. Zero-init is an empty map.
 */
typedef struct {
	char **keys;
	size_t *values;
	size_t cap; /* a power of two, or 0 */
	size_t count;
} orch_strmap;

/* Map `key` to `value`, replacing the value it had. */
void orch_strmap_set(orch_strmap *map, const char *key, size_t value);
/* 1 and *out (may be NULL) when `key` is in the map, else 0. */
int orch_strmap_get(size_t *out, const orch_strmap *map, const char *key);
/* Free the keys and the table; the map is empty again. */
void orch_strmap_clear(orch_strmap *map);

/* 32-bit FNV-1a hash of `len` bytes (offset basis 2166136261). */
uint32_t orch_hash_fnv1a(const char *str, size_t len);

void *orch_malloc(size_t size);
void *orch_calloc(size_t count, size_t size);
void *orch_realloc(void *ptr, size_t size);
char *orch_strdup(const char *str);
char *orch_strndup(const char *str, size_t len);

/*
 * Write the `len` bytes at `bytes` to `fd`, again where a write was
 * interrupted or short. 0, or -1 with errno set (EIO when the system wrote
 * nothing without saying why). Sets no error message.
 */
int orch_write_all(int fd, const void *bytes, size_t len);

/* Read a whole file into *out (NUL-terminated). Sets the error on failure. */
int orch_read_file(orch_buf *out, const char *path);

/*
 * rm -rf `path`, for our own directories only (symbolic links are removed,
 * not followed). 0, or -1 with errno set; a missing path is 0.
 */
int orch_remove_tree(const char *path);

/*
 * Parse a duration: a number with an optional suffix ms, s, m, h (no suffix:
 * seconds), e.g. "30m", "1h", "90". Returns 0 and *out_ms, or -1 (no error
 * message set: the caller knows the file and line).
 */
int orch_parse_duration(int64_t *out_ms, const char *str);
/* Format milliseconds as git-orchestrate prints them: "4m12s", "850ms". */
void orch_format_duration(char *out, size_t outlen, int64_t ms);

/* Wall clock in milliseconds since the epoch; monotonic clock in ms. */
int64_t orch_now_ms(void);
/* Wall-clock `ms` as local "YYYY-MM-DD HH:MM:SS" ("?" when it cannot be). */
void orch_format_time(char *out, size_t outlen, int64_t ms);
int64_t orch_monotonic_ms(void);

/*
 * Task ids and plan names: 1-100 characters of A-Z a-z 0-9 . _ -, not
 * starting with '.' or '-', no "..", not ending in ".lock".
 */
int orch_id_valid(const char *id);

/*
 * Names given to `env` (plan, task, worker): NULL when `name` is a valid
 * environment variable name (1-128 characters of A-Z a-z 0-9 _, not
 * starting with a digit) that git orchestrate leaves to the user, else why
 * not (static text).
 */
const char *orch_env_name_problem(const char *name);

/*
 * Add the names of an `env` value (separated by commas or blanks) to
 * *names, a name given twice kept once. When one is not a variable name,
 * nothing is added and -1 returned: *bad (caller frees) is that name and
 * *problem what is wrong with it, for the caller's message, whose hint
 * ends with ORCH_ENV_HINT.
 */
int orch_env_names_add(orch_strvec *names, const char *value, char **bad,
                       const char **problem);
#define ORCH_ENV_HINT                                                          \
	"env takes names of environment variables (A-Z a-z 0-9 _), e.g. "      \
	"env = ANTHROPIC_API_KEY, NPM_TOKEN"

#endif
