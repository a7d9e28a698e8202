#ifndef ORCH_UNIT_H
#define ORCH_UNIT_H

/*
 * A minimal unit test harness: each tests/unit/<module>.c lists its tests
 * in a table and ends with UNIT_MAIN(table). Output is one line per test,
 * "ok - module: name" or "not ok - module: name: file:line: what", which
 * tests/run.sh counts.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

typedef struct {
	const char *name;
	void (*fn)(void);
} unit_test;

extern int unit_failed;
extern char unit_why[1024];

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond) && !unit_failed) {                                 \
			unit_failed = 1;                                       \
			snprintf(unit_why, sizeof(unit_why), "%s:%d: %s",      \
			         __FILE__, __LINE__, #cond);                   \
		}                                                              \
	} while (0)

#define CHECK_STR(actual, expected)                                            \
	do {                                                                   \
		const char *a_ = (actual), *e_ = (expected);                   \
		if ((!a_ || !e_ || strcmp(a_, e_)) && !(a_ == e_) &&           \
		    !unit_failed) {                                            \
			unit_failed = 1;                                       \
			snprintf(unit_why, sizeof(unit_why),                   \
			         "%s:%d: got '%s', expected '%s'", __FILE__,   \
			         __LINE__, a_ ? a_ : "(null)",                 \
			         e_ ? e_ : "(null)");                          \
		}                                                              \
	} while (0)

#define CHECK_INT(actual, expected)                                            \
	do {                                                                   \
		long long a_ = (long long)(actual),                            \
		          e_ = (long long)(expected);                          \
		if (a_ != e_ && !unit_failed) {                                \
			unit_failed = 1;                                       \
			snprintf(unit_why, sizeof(unit_why),                   \
			         "%s:%d: %s is %lld, expected %lld", __FILE__, \
			         __LINE__, #actual, a_, e_);                   \
		}                                                              \
	} while (0)

#define TEST(name) static void name(void)
#define T(name)                                                                \
	{                                                                      \
#name, name                                                    \
	}

int unit_failed;
char unit_why[1024];

/* A fresh empty directory for this test run (removed by the runner). */
static inline const char *unit_tmpdir(void)
{
	static char path[256];
	static unsigned counter;
	const char *base = getenv("ORCH_TEST_TMP");
	snprintf(path, sizeof(path), "%s/unit-%d-%u", base ? base : "/tmp",
	         (int)getpid(), counter++);
	if (mkdir(path, 0700) != 0)
		abort();
	return path;
}

#define UNIT_MAIN(table)                                                       \
	int main(void)                                                         \
	{                                                                      \
		int failures = 0;                                              \
		const char *module = __FILE__;                                 \
		const char *slash = strrchr(module, '/');                      \
		if (slash)                                                     \
			module = slash + 1;                                    \
		for (size_t i = 0; i < sizeof(table) / sizeof(table[0]);       \
		     i++) {                                                    \
			unit_failed = 0;                                       \
			unit_why[0] = '\0';                                    \
			table[i].fn();                                         \
			if (unit_failed) {                                     \
				failures++;                                    \
				printf("not ok - %s: %s: %s\n", module,        \
				       table[i].name, unit_why);               \
			} else {                                               \
				printf("ok - %s: %s\n", module,                \
				       table[i].name);                         \
			}                                                      \
			fflush(stdout);                                        \
		}                                                              \
		return failures ? 1 : 0;                                       \
	}

#endif
