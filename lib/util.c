#include "util.h"
#include "error.h"

#include <ctype.h>
#include <errno.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void out_of_memory(void)
{
	fputs("fatal: out of memory\n", stderr);
	abort();
}

void *orch_malloc(size_t size)
{
	void *ptr = malloc(size ? size : 1);
	if (!ptr)
		out_of_memory();
	return ptr;
}

void *orch_calloc(size_t count, size_t size)
{
	void *ptr = calloc(count ? count : 1, size ? size : 1);
	if (!ptr)
		out_of_memory();
	return ptr;
}

void *orch_realloc(void *ptr, size_t size)
{
	void *grown = realloc(ptr, size ? size : 1);
	if (!grown)
		out_of_memory();
	return grown;
}

char *orch_strdup(const char *str)
{
	return str ? orch_strndup(str, strlen(str)) : NULL;
}

char *orch_strndup(const char *str, size_t len)
{
	char *copy = orch_malloc(len + 1);
	memcpy(copy, str, len);
	copy[len] = '\0';
	return copy;
}

void orch_buf_grow(orch_buf *buf, size_t extra)
{
	size_t need = buf->len + extra + 1;
	if (need <= buf->alloc)
		return;
	size_t alloc = buf->alloc ? buf->alloc : 64;
	while (alloc < need)
		alloc *= 2;
	buf->ptr = orch_realloc(buf->ptr, alloc);
	buf->alloc = alloc;
}

void orch_buf_put(orch_buf *buf, const void *bytes, size_t len)
{
	orch_buf_grow(buf, len);
	if (len)
		memcpy(buf->ptr + buf->len, bytes, len);
	buf->len += len;
	buf->ptr[buf->len] = '\0';
}

void orch_buf_puts(orch_buf *buf, const char *str)
{
	orch_buf_put(buf, str, strlen(str));
}

void orch_buf_vprintf(orch_buf *buf, const char *fmt, va_list ap)
{
	va_list again;
	int len;

	va_copy(again, ap);
	len = vsnprintf(NULL, 0, fmt, again);
	va_end(again);
	if (len < 0)
		return;
	orch_buf_grow(buf, (size_t)len);
	vsnprintf(buf->ptr + buf->len, (size_t)len + 1, fmt, ap);
	buf->len += (size_t)len;
}

void orch_buf_printf(orch_buf *buf, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	orch_buf_vprintf(buf, fmt, ap);
	va_end(ap);
}

char *orch_buf_detach(orch_buf *buf)
{
	char *str = buf->ptr ? buf->ptr : orch_strdup("");
	buf->ptr = NULL;
	buf->len = buf->alloc = 0;
	return str;
}

void orch_buf_clear(orch_buf *buf)
{
	buf->len = 0;
	if (buf->ptr)
		buf->ptr[0] = '\0';
}

void orch_buf_free(orch_buf *buf)
{
	free(buf->ptr);
	buf->ptr = NULL;
	buf->len = buf->alloc = 0;
}

void orch_strvec_push_take(orch_strvec *vec, char *owned)
{
	if (vec->count + 1 >= vec->alloc) {
		vec->alloc = vec->alloc ? vec->alloc * 2 : 4;
		vec->items =
		    orch_realloc(vec->items, vec->alloc * sizeof(char *));
	}
	vec->items[vec->count++] = owned;
	vec->items[vec->count] = NULL;
}

void orch_strvec_push(orch_strvec *vec, const char *str)
{
	orch_strvec_push_take(vec, orch_strdup(str));
}

void orch_strvec_split(orch_strvec *vec, const char *str, const char *seps)
{
	const char *p = str;

	while (p && *p) {
		size_t len = strcspn(p, seps);
		const char *start = p, *end = p + len;
		while (start < end && isspace((unsigned char)*start))
			start++;
		while (end > start && isspace((unsigned char)end[-1]))
			end--;
		if (end > start)
			orch_strvec_push_take(
			    vec, orch_strndup(start, (size_t)(end - start)));
		p += len;
		if (*p)
			p++;
	}
}

int orch_strvec_contains(const orch_strvec *vec, const char *str)
{
	for (size_t i = 0; i < vec->count; i++)
		if (!strcmp(vec->items[i], str))
			return 1;
	return 0;
}

void orch_strvec_free(orch_strvec *vec)
{
	for (size_t i = 0; i < vec->count; i++)
		free(vec->items[i]);
	free(vec->items);
	vec->items = NULL;
	vec->count = vec->alloc = 0;
}

int orch_write_all(int fd, const void *bytes, size_t len)
{
	const char *p = bytes;

	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int orch_read_file(orch_buf *out, const char *path)
{
	FILE *fp = fopen(path, "rb");
	char chunk[65536];
	size_t n;

	if (!fp)
		return orch_error_os("cannot read '%s'", path);
	while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
		orch_buf_put(out, chunk, n);
	if (ferror(fp)) {
		fclose(fp);
		return orch_error_os("cannot read '%s'", path);
	}
	fclose(fp);
	if (!out->ptr)
		orch_buf_grow(out, 0), out->ptr[0] = '\0';
	return 0;
}

int orch_parse_duration(int64_t *out_ms, const char *str)
{
	char *end;
	double value;
	int64_t unit = 1000;

	while (isspace((unsigned char)*str))
		str++;
	if (!isdigit((unsigned char)*str))
		return -1;
	errno = 0;
	value = strtod(str, &end);
	if (errno || value < 0)
		return -1;
	if (!strcmp(end, "ms"))
		unit = 1;
	else if (!strcmp(end, "s") || !*end)
		unit = 1000;
	else if (!strcmp(end, "m"))
		unit = 60 * 1000;
	else if (!strcmp(end, "h"))
		unit = 3600 * 1000;
	else
		return -1;
	if (value * unit > 9e15)
		return -1;
	*out_ms = (int64_t)(value * unit + 0.5);
	return 0;
}

void orch_format_duration(char *out, size_t outlen, int64_t ms)
{
	if (ms < 0)
		snprintf(out, outlen, "-");
	else if (ms < 1000)
		snprintf(out, outlen, "%dms", (int)ms);
	else if (ms < 60000)
		snprintf(out, outlen, "%.1fs", ms / 1000.0);
	else if (ms < 3600000)
		snprintf(out, outlen, "%dm%02ds", (int)(ms / 60000),
		         (int)(ms / 1000 % 60));
	else
		snprintf(out, outlen, "%dh%02dm", (int)(ms / 3600000),
		         (int)(ms / 60000 % 60));
}

int64_t orch_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void orch_format_time(char *out, size_t outlen, int64_t ms)
{
	time_t secs = (time_t)(ms / 1000);
	struct tm tm;

	if (!localtime_r(&secs, &tm) ||
	    !strftime(out, outlen, "%Y-%m-%d %H:%M:%S", &tm))
		snprintf(out, outlen, "?");
}

int64_t orch_monotonic_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int orch_id_valid(const char *id)
{
	size_t len = strlen(id);

	if (len < 1 || len > 100 || id[0] == '.' || id[0] == '-')
		return 0;
	if (strstr(id, ".."))
		return 0;
	if (len >= 5 && !strcmp(id + len - 5, ".lock"))
		return 0;
	for (const char *p = id; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '.' && *p != '_' &&
		    *p != '-')
			return 0;
	return 1;
}

int orch_env_names_add(orch_strvec *names, const char *value, char **bad,
                       const char **problem)
{
	orch_strvec given = {0};
	int error = 0;

	*bad = NULL;
	orch_strvec_split(&given, value, ", \t");
	for (size_t i = 0; i < given.count && !error; i++)
		if ((*problem = orch_env_name_problem(given.items[i]))) {
			*bad = orch_strdup(given.items[i]);
			error = -1;
		}
	for (size_t i = 0; i < given.count && !error; i++)
		if (!orch_strvec_contains(names, given.items[i]))
			orch_strvec_push(names, given.items[i]);
	orch_strvec_free(&given);
	return error;
}

const char *orch_env_name_problem(const char *name)
{
	size_t len = strlen(name);

	if (len < 1 || len > 128 || isdigit((unsigned char)name[0]))
		return "not a variable name";
	for (const char *p = name; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '_')
			return "not a variable name";
	if (!strncmp(name, "ORCHESTRATE_", 12))
		return "ORCHESTRATE_* variables are set by git orchestrate";
	/* the local worker drops these: git in the task must see its
	 * worktree */
	if (!strcmp(name, "GIT_DIR") || !strcmp(name, "GIT_WORK_TREE") ||
	    !strcmp(name, "GIT_INDEX_FILE"))
		return "it would point git in the task at another repository";
	return NULL;
}

uint32_t orch_hash_fnv1a(const char *str, size_t len)
{
	uint32_t hash = 2166136261u;

	for (size_t i = 0; i < len; i++) {
		hash ^= (unsigned char)str[i];
		hash *= 16777619u;
	}
	return hash;
}

/* Slot of `key`: where it is, or the empty slot where it would go. */
static size_t strmap_slot(const orch_strmap *map, const char *key)
{
	size_t mask = map->cap - 1;
	size_t i = orch_hash_fnv1a(key, strlen(key)) & mask;

	while (map->keys[i] && strcmp(map->keys[i], key))
		i = (i + 1) & mask;
	return i;
}

static void strmap_grow(orch_strmap *map)
{
	orch_strmap bigger = {0};

	bigger.cap = map->cap ? map->cap * 2 : 16;
	bigger.keys = orch_calloc(bigger.cap, sizeof(*bigger.keys));
	bigger.values = orch_calloc(bigger.cap, sizeof(*bigger.values));
	for (size_t i = 0; i < map->cap; i++) {
		if (map->keys[i]) {
			size_t slot = strmap_slot(&bigger, map->keys[i]);
			bigger.keys[slot] =
			    map->keys[i]; /* moved, not copied */
			bigger.values[slot] = map->values[i];
			bigger.count++;
		}
	}
	free(map->keys);
	free(map->values);
	*map = bigger;
}

void orch_strmap_set(orch_strmap *map, const char *key, size_t value)
{
	size_t slot;

	if ((map->count + 1) * 2 > map->cap)
		strmap_grow(map);
	slot = strmap_slot(map, key);
	if (!map->keys[slot]) {
		map->keys[slot] = orch_strdup(key);
		map->count++;
	}
	map->values[slot] = value;
}

int orch_strmap_get(size_t *out, const orch_strmap *map, const char *key)
{
	size_t slot;

	if (!map->cap)
		return 0;
	slot = strmap_slot(map, key);
	if (!map->keys[slot])
		return 0;
	if (out)
		*out = map->values[slot];
	return 1;
}

void orch_strmap_clear(orch_strmap *map)
{
	for (size_t i = 0; i < map->cap; i++)
		free(map->keys[i]);
	free(map->keys);
	free(map->values);
	memset(map, 0, sizeof(*map));
}

static int remove_entry(const char *path, const struct stat *st, int flag,
                        struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP)
		return rmdir(path);
	return unlink(path);
}

int orch_remove_tree(const char *path)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -1;
	return nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS) < 0 ? -1 : 0;
}
