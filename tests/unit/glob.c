/* Unit tests of lib/glob.c: which path globs can match a common path. */
#include "unit.h"

#include "glob.h"

TEST(overlap_table)
{
	static const struct {
		const char *a, *b;
		int expected;
	} cases[] = {
	    /* literals */
	    {"api/auth.c", "api/auth.c", 1},
	    {"api/auth.c", "api/auth.h", 0},
	    {"API/auth.c", "api/auth.c", 0},
	    {"./api/auth.c", "api/auth.c", 1},
	    {"/api//auth.c", "api/auth.c", 1},
	    {"api/./auth.c", "api/auth.c", 1},
	    /* a directory covers what is below it */
	    {"api", "api/x.c", 1},
	    {"api/", "api/sub/x.c", 1},
	    {"api", "apix/x.c", 0},
	    {"api", "ap", 0},
	    {"api/auth.c", "api", 1},
	    {"api/", "api/*.c", 1},
	    {"api", "*/x.c", 1},
	    {"src/*/", "src/lib/x/y.c", 1},
	    {".", "anything/at/all", 1},
	    /* star stays within one component */
	    {"api/*.c", "api/*.h", 0},
	    {"api/*.c", "api/auth.c", 1},
	    {"api/*.c", "api/sub/auth.c", 0},
	    {"a/*", "a/b/c", 0},
	    {"a/*", "a/b", 1},
	    {"a/*", "a", 1},
	    {"*.c", "x.c", 1},
	    {"*.c", "dir/x.c", 0},
	    {"a*b", "ab", 1},
	    {"a*b", "a/b", 0},
	    {"*x*", "*y*", 1},
	    {"a*", "*b", 1},
	    {"x*", "*y/z", 0},
	    {"x*/z", "*y/z", 1},
	    {"*.c", "*.h", 0},
	    {"foo*.c", "*bar.c", 1},
	    {"foo*", "bar*", 0},
	    /* question mark */
	    {"a?c", "abc", 1},
	    {"a?c", "a/c", 0},
	    {"a?c", "ac", 0},
	    {"??", "*", 1},
	    {"???", "ab", 0},
	    /* classes */
	    {"[ab].c", "c.c", 0},
	    {"[ab].c", "b.c", 1},
	    {"[a-c].c", "b.c", 1},
	    {"[a-c].c", "[x-z].c", 0},
	    {"[a-c].c", "[c-e].c", 1},
	    {"[!ab].c", "a.c", 0},
	    {"[!ab].c", "z.c", 1},
	    {"[^ab].c", "b.c", 0},
	    {"[!a]", "[!b]", 1},
	    {"[]]", "]", 1},
	    {"[]a]", "a", 1},
	    {"[[:digit:]]x", "7x", 1},
	    {"[[:digit:]]x", "ax", 0},
	    {"a[/]b", "a/b", 0},
	    {"[ab", "[ab", 1},
	    {"[ab", "a", 0},
	    /* double star crosses directories */
	    {"a/**", "a/b/c", 1},
	    {"a/**", "b/c", 0},
	    {"**", "x/y/z.c", 1},
	    {"**/*.h", "api/*.h", 1},
	    {"**/*.h", "api/x.c", 0},
	    {"a/**/b", "a/b", 1},
	    {"a/**/b", "a/x/y/b", 1},
	    {"a/**/b.c", "a/x/y/c.c", 0},
	    {"a/**/b", "a/x/y/c", 1}, /* c may be a directory */
	    {"**/test/*.c", "src/test/x.c", 1},
	    {"**/test/*.c", "src/tests/x.c", 0},
	    {"src/**/*.c", "src/*.h", 0},
	    {"src/**/*.c", "src/*/*.c", 1},
	    {"docs/**", "**/*.md", 1},
	    {"a**b", "a/x/b", 1},
	    {"a**", "ab/c", 1},
	    /* a literal name with an extension is a file, else a directory */
	    {"**/*.h", "src/main.c", 0},
	    {"docs/v1.2", "docs/v1.2/x", 0},
	    {"docs/v1.2/", "docs/v1.2/x", 1},
	    {".github", ".github/workflows/ci.yml", 1},
	    /* escapes */
	    {"a\\*", "a*", 1},
	    {"a\\*", "ab", 0},
	    {"a\\?", "a?", 1},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int ab = orch_glob_overlap(cases[i].a, cases[i].b);
		int ba = orch_glob_overlap(cases[i].b, cases[i].a);
		if (ab != cases[i].expected || ba != cases[i].expected) {
			if (!unit_failed) {
				unit_failed = 1;
				snprintf(unit_why, sizeof(unit_why),
				         "'%s' vs '%s': got %d/%d, expected %d",
				         cases[i].a, cases[i].b, ab, ba,
				         cases[i].expected);
			}
		}
	}
}

TEST(literal_lead_stops_at_the_first_wildcard)
{
	static const struct {
		const char *pattern, *lead;
	} cases[] = {
	    {"src/mod1_*.c", "src/mod1_"},
	    {"api/x.c", "api/x.c"},
	    {"./api//x.c", "api/x.c"},
	    {"**/*.h", ""},
	    {"a/b?/c", "a/b"},
	    {"a\\*", "a"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *lead = orch_glob_literal_lead(cases[i].pattern);
		CHECK_STR(lead, cases[i].lead);
		free(lead);
	}
}

TEST(compiled_globs_intersect_as_their_patterns_overlap)
{
	orch_glob a = {0}, b = {0}, c = {0};
	orch_glob_scratch scratch = {0};

	orch_glob_compile(&a, "api/*.c");
	orch_glob_compile(&b, "api/auth.c");
	orch_glob_compile(&c, "api/*.h");
	CHECK_INT(orch_glob_intersect(&a, &b, &scratch), 1);
	CHECK_INT(orch_glob_intersect(&a, &c, &scratch), 0);
	CHECK_INT(orch_glob_intersect(&b, &c, &scratch), 0);
	CHECK_INT(orch_glob_intersect(&c, &c, &scratch), 1);
	orch_glob_free(&a);
	orch_glob_free(&b);
	orch_glob_free(&c);
	orch_glob_scratch_free(&scratch);
}

static const unit_test tests[] = {
    T(overlap_table),
    T(literal_lead_stops_at_the_first_wildcard),
    T(compiled_globs_intersect_as_their_patterns_overlap),
};

UNIT_MAIN(tests)
