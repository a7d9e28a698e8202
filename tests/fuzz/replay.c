/*
 * Replay of a fuzz target without libFuzzer, for `make test`: the target's
 * seed corpus and the inputs the fuzzers found (tests/fuzz/<target>/ and
 * its regressions/) go through LLVMFuzzerTestOneInput one by one, built
 * with the normal compiler, in the normal and the sanitizer builds. A crash,
 * a sanitizer report or a leak makes the binary fail; the last "# FILE"
 * line of its output names the input.
 *
 * With arguments, replays those files or directories instead.
 * FUZZ_TARGET, the target's name, comes from the Makefile.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "error.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int name_compare(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int replay_file(const char *path)
{
	orch_buf bytes = {0};
	char *copy;

	if (orch_read_file(&bytes, path) < 0) {
		printf("not ok - fuzz: %s: %s\n", FUZZ_TARGET,
		       orch_error_message());
		orch_buf_free(&bytes);
		return -1;
	}
	printf("# %s\n", path);
	fflush(stdout);
	/* an exact-size copy, so that ASan sees a read past the end */
	copy = malloc(bytes.len ? bytes.len : 1);
	if (!copy)
		abort();
	if (bytes.len)
		memcpy(copy, bytes.ptr, bytes.len);
	LLVMFuzzerTestOneInput((const uint8_t *)copy, bytes.len);
	free(copy);
	orch_buf_free(&bytes);
	return 0;
}

/* Every regular file of `dir` and of its subdirectories, in name order. */
static int replay_dir(const char *dir, size_t *count)
{
	orch_strvec names = {0};
	struct dirent *entry;
	DIR *dh = opendir(dir);
	int error = 0;

	if (!dh) {
		if (errno == ENOENT)
			return 0;
		printf("not ok - fuzz: %s: cannot read '%s': %s\n", FUZZ_TARGET,
		       dir, strerror(errno));
		return -1;
	}
	while ((entry = readdir(dh)) != NULL)
		if (entry->d_name[0] != '.')
			orch_strvec_push(&names, entry->d_name);
	closedir(dh);
	if (names.count)
		qsort(names.items, names.count, sizeof(char *), name_compare);
	for (size_t i = 0; i < names.count && !error; i++) {
		orch_buf path = {0};
		struct stat st;
		orch_buf_printf(&path, "%s/%s", dir, names.items[i]);
		if (stat(path.ptr, &st) < 0) {
			printf("not ok - fuzz: %s: cannot stat '%s'\n",
			       FUZZ_TARGET, path.ptr);
			error = -1;
		} else if (S_ISDIR(st.st_mode)) {
			error = replay_dir(path.ptr, count);
		} else if (S_ISREG(st.st_mode)) {
			if ((error = replay_file(path.ptr)) == 0)
				(*count)++;
		}
		orch_buf_free(&path);
	}
	orch_strvec_free(&names);
	return error;
}

int main(int argc, char **argv)
{
	size_t count = 0;
	int error = 0;

	if (argc < 2) {
		error = replay_dir("tests/fuzz/" FUZZ_TARGET, &count);
	} else {
		for (int i = 1; i < argc && !error; i++) {
			struct stat st;
			if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode)) {
				error = replay_dir(argv[i], &count);
			} else if ((error = replay_file(argv[i])) == 0) {
				count++;
			}
		}
	}
	if (error)
		return 1;
	if (!count) {
		printf("not ok - fuzz: %s: no input to replay (run from the "
		       "top of the source tree)\n",
		       FUZZ_TARGET);
		return 1;
	}
	printf("ok - fuzz: %s: %zu inputs replayed\n", FUZZ_TARGET, count);
	return 0;
}
