/* Unit tests of lib/shared.c: the share file, its findings, their union. */
#include "unit.h"

#include "error.h"
#include "shared.h"

/* The findings of `text` joined with "|" (caller frees). */
static char *split_joined(const char *text)
{
	orch_strvec findings = {0};
	orch_buf out = {0};

	if (orch_shared_split(&findings, text, strlen(text), "f") < 0)
		return NULL;
	orch_buf_puts(&out, "");
	for (size_t i = 0; i < findings.count; i++)
		orch_buf_printf(&out, "%s%s", i ? "|" : "", findings.items[i]);
	orch_strvec_free(&findings);
	return orch_buf_detach(&out);
}

TEST(findings_are_paragraphs_separated_by_blank_lines)
{
	static const struct {
		const char *text, *expect;
	} cases[] = {
	    {"", ""},
	    {"one", "one"},
	    {"one\n", "one"},
	    {"one\ntwo\n", "one\ntwo"},
	    {"one\n\ntwo\n\n", "one|two"},
	    {"\n\n  \none\n \t\r\n\ntwo", "one|two"},
	    {"  indented ; # kept\n\ttab\n", "  indented ; # kept\n\ttab"},
	    {"a\r\nb\r\n\r\nc", "a\r\nb\r|c"}, /* lines as they are */
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *got = split_joined(cases[i].text);
		CHECK_STR(got, cases[i].expect);
		free(got);
	}
}

TEST(a_share_file_over_the_limit_or_with_a_nul_is_refused_whole)
{
	orch_strvec findings = {0};
	char *big = malloc(ORCH_SHARED_MAX + 2);

	memset(big, 'x', ORCH_SHARED_MAX + 1);
	big[ORCH_SHARED_MAX + 1] = '\0';
	CHECK_INT(
	    orch_shared_split(&findings, big, ORCH_SHARED_MAX + 1, "the file"),
	    ORCH_EINVALID);
	CHECK(strstr(orch_error_message(), "65537 bytes") != NULL);
	CHECK_INT(orch_shared_split(&findings, big, ORCH_SHARED_MAX, "f"), 0);
	CHECK_INT(findings.count, 1);
	orch_strvec_free(&findings);
	CHECK_INT(orch_shared_split(&findings, "a\0b", 3, "f"), ORCH_EINVALID);
	CHECK_INT(findings.count, 0);
	free(big);
}

TEST(share_appends_a_paragraph_and_refuses_what_would_not_be_one)
{
	char path[512];
	orch_buf got = {0};
	FILE *f;

	snprintf(path, sizeof(path), "%s/share", unit_tmpdir());
	CHECK(orch_shared_append(path, "x") < 0); /* no such file */
	f = fopen(path, "w");
	fclose(f);
	CHECK_INT(orch_shared_append(path, "first\nsecond line\n\n"), 0);
	CHECK_INT(orch_shared_append(path, "again"), 0);
	CHECK_INT(orch_shared_append(path, ""), ORCH_EINVALID);
	CHECK_INT(orch_shared_append(path, "\n"), ORCH_EINVALID);
	CHECK_INT(orch_shared_append(path, "a\n\nb"), ORCH_EINVALID);
	CHECK_INT(orch_shared_append(path, "a\n  \nb"), ORCH_EINVALID);
	CHECK_INT(orch_shared_append(path, "\nlead"), ORCH_EINVALID);
	CHECK_INT(orch_read_file(&got, path), 0);
	CHECK_STR(got.ptr, "first\nsecond line\n\nagain\n\n");
	orch_buf_free(&got);
}

TEST(share_refuses_to_grow_the_file_over_the_limit)
{
	char path[512], *text = malloc(ORCH_SHARED_MAX);
	struct stat st;
	FILE *f;

	snprintf(path, sizeof(path), "%s/share", unit_tmpdir());
	f = fopen(path, "w");
	fclose(f);
	memset(text, 'y', ORCH_SHARED_MAX - 3);
	text[ORCH_SHARED_MAX - 3] = '\0';
	/* exactly the limit with its blank line */
	CHECK_INT(orch_shared_append(path, text), 0);
	CHECK_INT(orch_shared_append(path, "z"), ORCH_EINVALID);
	CHECK(stat(path, &st) == 0 && st.st_size == ORCH_SHARED_MAX - 1);
	free(text);
}

TEST(the_union_keeps_the_first_then_what_only_the_second_has)
{
	static const struct {
		const char *first, *second, *expect;
	} cases[] = {
	    {"", "", ""},
	    {"a\n", "", "a\n"},
	    {"", "a\n", "a\n"},
	    {"a\nb\n", "a\nc\n", "a\nb\nc\n"},
	    {"a\nb", "b\nc", "a\nb\nc\n"},
	    {"a\nb\n", "b\na\n", "a\nb\n"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		orch_buf out = {0};
		orch_shared_union(&out, cases[i].first, strlen(cases[i].first),
		                  cases[i].second, strlen(cases[i].second));
		orch_buf_puts(&out, "");
		CHECK_STR(out.ptr, cases[i].expect);
		orch_buf_free(&out);
	}
}

TEST(the_context_names_each_finding_by_task_and_attempt)
{
	orch_finding items[2] = {
	    {"schema", 1, "vps1", 1000, "uses UUID keys"},
	    {"api", 2, NULL, 2000, "two\nlines"},
	};
	orch_findings findings = {items, 2}, none = {NULL, 0};
	orch_buf out = {0};

	orch_shared_format_context(&out, "p", &none);
	CHECK_INT(out.len, 0);
	orch_shared_format_context(&out, "p", &findings);
	CHECK_STR(out.ptr,
	          "# Findings shared by tasks of plan p so far\n"
	          "\n## schema, attempt 1 (on vps1)\n\nuses UUID keys\n"
	          "\n## api, attempt 2\n\ntwo\nlines\n");
	orch_buf_free(&out);
}

static const unit_test tests[] = {
    T(findings_are_paragraphs_separated_by_blank_lines),
    T(a_share_file_over_the_limit_or_with_a_nul_is_refused_whole),
    T(share_appends_a_paragraph_and_refuses_what_would_not_be_one),
    T(share_refuses_to_grow_the_file_over_the_limit),
    T(the_union_keeps_the_first_then_what_only_the_second_has),
    T(the_context_names_each_finding_by_task_and_attempt),
};

UNIT_MAIN(tests)
