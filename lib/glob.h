#ifndef ORCH_GLOB_H
#define ORCH_GLOB_H

#include <stddef.h>

/*
 * Path globs as tasks declare them in `files`: *, ?, [...] (ranges,
 * negation, [:classes:]), ** across '/', and \ escapes. The question asked
 * of them is not whether a path matches but whether two globs can match a
 * common path.
 */

/*
 * 1 when two path globs (*, ?, [...], ** across '/', \ escapes) can match
 * a common path. A glob that names a directory also covers what is below
 * it: one ending in '/', or whose last component is literal without an
 * extension: "api" meets "api/x.c", but "api/x.c" is a file and "a/?"
 * does not meet "a/b/c".
 */
int orch_glob_overlap(const char *a, const char *b);

/* A compiled glob (an automaton). Zero-init is empty; free with orch_glob_free.
 */
typedef struct {
	struct orch_glob_token *tokens;
	size_t ntokens;
	size_t alloc;
} orch_glob;

/* Work space of orch_glob_intersect, reused across calls. Zero-init. */
typedef struct {
	unsigned char *visited;
	size_t visited_alloc;
	size_t *stack;
	size_t stack_alloc;
} orch_glob_scratch;

/* Compile `pattern` into `glob` (empty, zero-initialised). */
void orch_glob_compile(orch_glob *glob, const char *pattern);
void orch_glob_free(orch_glob *glob);
void orch_glob_scratch_free(orch_glob_scratch *scratch);

/* orch_glob_overlap of two compiled globs, using `scratch`. */
int orch_glob_intersect(const orch_glob *a, const orch_glob *b,
                        orch_glob_scratch *scratch);

/*
 * The literal lead of `pattern`: the components before the first one with
 * a wildcard, then the characters of that one before its first wildcard
 * ("src/mod1_" for "src/mod1_*.c"). Every path the glob matches starts
 * with it. Caller frees with free().
 */
char *orch_glob_literal_lead(const char *pattern);

#endif
