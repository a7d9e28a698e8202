/* Unit tests of lib/redact.c: secrets and their redaction from output. */
#include "unit.h"

#include "error.h"
#include "redact.h"

/* Redact `text` fed in pieces of `piece` bytes; caller frees. */
static char *redact_in_pieces(const orch_secrets *set, const char *text,
                              size_t piece)
{
	orch_redactor redactor = {0};
	orch_buf out = {0};
	size_t len = strlen(text);

	for (size_t at = 0; at < len; at += piece)
		orch_redact_put(&out, &redactor, set, text + at,
		                len - at < piece ? len - at : piece);
	orch_redact_flush(&out, &redactor, set);
	orch_redactor_clear(&redactor);
	orch_buf_puts(&out, "");
	return orch_buf_detach(&out);
}

TEST(values_are_replaced_by_their_names)
{
	orch_secrets set = {0};
	char *got;

	orch_secrets_add(&set, "API_KEY", "sk-12345");
	orch_secrets_add(&set, "TOKEN", "tok");
	got = redact_in_pieces(&set, "key=sk-12345 tok sk-1234 tokto", 1000);
	CHECK_STR(got, "key=[redacted API_KEY] [redacted TOKEN] sk-1234 "
	               "[redacted TOKEN]to");
	free(got);
	orch_secrets_free(&set);
}

TEST(a_value_split_across_reads_is_still_found)
{
	orch_secrets set = {0};
	const char *text = "before sk-12345 middle sk-12345sk-12345 after s";
	const char *expect = "before [redacted K] middle [redacted K][redacted "
	                     "K] after s";

	orch_secrets_add(&set, "K", "sk-12345");
	/* every piece size, so that every split point is crossed */
	for (size_t piece = 1; piece <= strlen(text); piece++) {
		char *got = redact_in_pieces(&set, text, piece);
		CHECK_STR(got, expect);
		free(got);
	}
	orch_secrets_free(&set);
}

TEST(the_longest_value_wins_also_across_reads)
{
	orch_secrets set = {0};

	orch_secrets_add(&set, "SHORT", "abc");
	orch_secrets_add(&set, "LONG", "abcdef");
	for (size_t piece = 1; piece <= 8; piece++) {
		char *got = redact_in_pieces(&set, "xabcdefabcab", piece);
		CHECK_STR(got, "x[redacted LONG][redacted SHORT]ab");
		free(got);
	}
	orch_secrets_free(&set);
}

TEST(a_held_back_tail_comes_out_at_the_end)
{
	orch_secrets set = {0};
	orch_redactor redactor = {0};
	orch_buf out = {0};

	orch_secrets_add(&set, "K", "secret");
	orch_redact_put(&out, &redactor, &set, "line sec", 8);
	/* "sec" may begin the value: held back, nothing more */
	CHECK_INT(out.len, 5);
	orch_redact_flush(&out, &redactor, &set);
	CHECK_STR(out.ptr, "line sec");
	orch_buf_free(&out);
	orch_redactor_clear(&redactor);
	orch_secrets_free(&set);
}

TEST(empty_values_and_empty_sets_change_nothing)
{
	orch_secrets set = {0};
	char *got;

	got = redact_in_pieces(&set, "plain output", 3);
	CHECK_STR(got, "plain output");
	free(got);
	orch_secrets_add(&set, "EMPTY", "");
	got = redact_in_pieces(&set, "plain output", 3);
	CHECK_STR(got, "plain output");
	free(got);
	orch_secrets_free(&set);
}

TEST(values_with_newlines_and_binary_bytes_are_found)
{
	orch_secrets set = {0};
	char *got;

	orch_secrets_add(&set, "PEM", "-----BEGIN\nabc\n\xff-----");
	got = redact_in_pieces(&set, "x-----BEGIN\nabc\n\xff-----\n", 2);
	CHECK_STR(got, "x[redacted PEM]\n");
	free(got);
	orch_secrets_free(&set);
}

TEST(a_name_is_taken_from_the_environment_or_refused_when_unset)
{
	orch_secrets set = {0};

	setenv("ORCH_UNIT_SECRET", "v4lue", 1);
	unsetenv("ORCH_UNIT_UNSET");
	CHECK_INT(orch_secrets_add_env(&set, "ORCH_UNIT_SECRET", "plan 'p'"),
	          0);
	CHECK_STR(orch_secrets_get(&set, "ORCH_UNIT_SECRET"), "v4lue");
	CHECK_INT(orch_secrets_add_env(&set, "ORCH_UNIT_UNSET", "task 't'"),
	          ORCH_EINVALID);
	CHECK(strstr(orch_error_message(), "task 't'") != NULL);
	CHECK(strstr(orch_error_message(), "'ORCH_UNIT_UNSET'") != NULL);
	CHECK(strstr(orch_error_message(), "not set") != NULL);
	CHECK_INT(set.count, 1);
	orch_secrets_free(&set);
	CHECK_INT(set.count, 0);
}

TEST(env_names_must_be_variable_names_left_to_the_user)
{
	static const struct {
		const char *name;
		int valid;
	} cases[] = {
	    {"API_KEY", 1},      {"_x", 1},
	    {"a1", 1},           {"", 0},
	    {"1A", 0},           {"A-B", 0},
	    {"A=B", 0},          {"A B", 0},
	    {"$(id)", 0},        {"ORCHESTRATE_X", 0},
	    {"ORCHESTRATEX", 1}, {"GIT_DIR", 0},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		CHECK_INT(orch_env_name_problem(cases[i].name) == NULL,
		          cases[i].valid);
}

static const unit_test tests[] = {
    T(values_are_replaced_by_their_names),
    T(a_value_split_across_reads_is_still_found),
    T(the_longest_value_wins_also_across_reads),
    T(a_held_back_tail_comes_out_at_the_end),
    T(empty_values_and_empty_sets_change_nothing),
    T(values_with_newlines_and_binary_bytes_are_found),
    T(a_name_is_taken_from_the_environment_or_refused_when_unset),
    T(env_names_must_be_variable_names_left_to_the_user),
};

UNIT_MAIN(tests)
