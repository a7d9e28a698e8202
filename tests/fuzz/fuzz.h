#ifndef ORCH_FUZZ_H
#define ORCH_FUZZ_H

/*
 * Helpers shared by the fuzz targets (tests/fuzz/<target>.c). Each target
 * defines LLVMFuzzerTestOneInput; `make fuzz` links it with libFuzzer, and
 * the normal builds link it with replay.c, which feeds it the seed corpus
 * and the regression inputs (tests/fuzz/<target>/).
 *
 * The readers that take a path get the input through files in one scratch
 * directory per process, emptied after every input: nothing of the library
 * API changes for the fuzzers.
 */

#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/stat.h>

#include "error.h"
#include "plan.h"

/* Stop on a broken property: libFuzzer and the replay both report it. */
#define FUZZ_ASSERT(cond)                                                      \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "%s:%d: %s does not hold\n", __FILE__, \
			        __LINE__, #cond);                              \
			abort();                                               \
		}                                                              \
	} while (0)

static char fuzz_dir_path[512];

static inline void fuzz_dir_remove(void)
{
	if (fuzz_dir_path[0])
		rmdir(fuzz_dir_path);
}

/*
 * The scratch directory of this process, created on first use under
 * $ORCH_TEST_TMP, $TMPDIR or /tmp and removed at exit (when empty).
 */
static inline const char *fuzz_dir(void)
{
	const char *base;

	if (fuzz_dir_path[0])
		return fuzz_dir_path;
	base = getenv("ORCH_TEST_TMP");
	if (!base || !*base)
		base = getenv("TMPDIR");
	if (!base || !*base)
		base = "/tmp";
	/* one per process: mkdir fails if another left it there */
	snprintf(fuzz_dir_path, sizeof(fuzz_dir_path), "%s/orch-fuzz-%ld", base,
	         (long)getpid());
	if (mkdir(fuzz_dir_path, 0700) < 0) {
		perror(fuzz_dir_path);
		abort();
	}
	atexit(fuzz_dir_remove);
	return fuzz_dir_path;
}

/* "<scratch>/<name>" into out. */
static inline void fuzz_path(char *out, size_t outlen, const char *name)
{
	if ((size_t)snprintf(out, outlen, "%s/%s", fuzz_dir(), name) >= outlen)
		abort();
}

/* Write `len` bytes to `path`, replacing it. */
static inline void fuzz_write(const char *path, const void *bytes, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	const char *p = bytes;

	if (fd < 0) {
		perror(path);
		abort();
	}
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n <= 0) {
			perror(path);
			abort();
		}
		p += n;
		len -= (size_t)n;
	}
	close(fd);
}

/*
 * Several files in one input: a line "@@ NAME" starts the file NAME (the
 * text before the first such line is the file `first`). Calls `fn` with
 * each name (NUL-terminated, at most 255 bytes; longer ones are cut) and
 * its bytes, at most `max` times.
 */
typedef void (*fuzz_file_fn)(const char *name, const uint8_t *bytes, size_t len,
                             void *payload);

/* Where the next "@@ " line starts at or after `pos`; `size` if none. */
static inline size_t fuzz_next_marker(const uint8_t *data, size_t size,
                                      size_t pos)
{
	for (size_t i = pos; i + 3 <= size; i++)
		if ((i == 0 || data[i - 1] == '\n') &&
		    !memcmp(data + i, "@@ ", 3))
			return i;
	return size;
}

static inline void fuzz_split(const uint8_t *data, size_t size,
                              const char *first, size_t max, fuzz_file_fn fn,
                              void *payload)
{
	char name[256];
	size_t pos = 0, marker = fuzz_next_marker(data, size, 0), count = 0;

	snprintf(name, sizeof(name), "%s", first);
	if (marker > 0) {
		fn(name, data, marker, payload);
		count++;
	}
	while (marker < size && count < max) {
		const uint8_t *nl;
		size_t namelen;

		pos = marker + 3;
		nl = memchr(data + pos, '\n', size - pos);
		namelen = nl ? (size_t)(nl - (data + pos)) : size - pos;
		if (namelen >= sizeof(name))
			namelen = sizeof(name) - 1;
		memcpy(name, data + pos, namelen);
		name[namelen] = '\0';
		pos = nl ? (size_t)(nl - data) + 1 : size;
		marker = fuzz_next_marker(data, size, pos);
		fn(name, data + pos, marker - pos, payload);
		count++;
	}
}

/* A name usable as a file of the scratch directory. */
static inline int fuzz_name_ok(const char *name)
{
	return *name && !strchr(name, '/') && strcmp(name, ".") &&
	       strcmp(name, "..") && strlen(name) < 200;
}

/*
 * A plan that was read must survive plan.json: written, read back and
 * written again, the two texts are the same. Aborts otherwise.
 */
static inline void fuzz_plan_round_trip(const orch_plan *plan)
{
	orch_plan *again = NULL;
	char *json = NULL, *json_again = NULL;

	for (size_t i = 0; i < plan->ntasks; i++)
		FUZZ_ASSERT(orch_plan_find(plan, plan->tasks[i].id) == (long)i);
	FUZZ_ASSERT(orch_plan_to_json(&json, plan) == 0);
	if (orch_plan_from_json(&again, json, strlen(json)) < 0) {
		fprintf(stderr, "plan.json does not read back: %s\n%s\n",
		        orch_error_message(), json);
		abort();
	}
	FUZZ_ASSERT(orch_plan_to_json(&json_again, again) == 0);
	FUZZ_ASSERT(!strcmp(json, json_again));
	orch_plan_free(again);
	free(json);
	free(json_again);
}

#endif
