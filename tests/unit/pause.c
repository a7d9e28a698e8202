/* Unit tests of lib/pause.c: what counts as a rate limit. */
#include "unit.h"

#include "error.h"
#include "pause.h"

TEST(exit_75_is_a_rate_limit_with_or_without_a_pattern)
{
	orch_rate_limit rl;
	char why[160];

	CHECK_INT(orch_rate_limit_compile(&rl, NULL), 0);
	CHECK_INT(orch_rate_limit_hit(why, sizeof(why), &rl, 75, ""), 1);
	CHECK_STR(why, "exit 75");
	CHECK_INT(orch_rate_limit_hit(why, sizeof(why), &rl, 1,
	                              "HTTP 429 Too Many Requests"),
	          0);
	orch_rate_limit_free(&rl);
}

TEST(the_pattern_matches_a_line_of_the_output)
{
	orch_rate_limit rl;
	char why[160];

	CHECK_INT(orch_rate_limit_compile(&rl, "^Error: (429|quota)"), 0);
	CHECK_INT(orch_rate_limit_hit(why, sizeof(why), &rl, 1,
	                              "working\nError: quota exceeded\n"),
	          1);
	CHECK_STR(why, "output matches rate-limit: 'Error: quota'");
	/* ^ is the start of a line, not only of the output */
	CHECK_INT(orch_rate_limit_hit(why, sizeof(why), &rl, 1,
	                              "see Error: 429 above\n"),
	          0);
	orch_rate_limit_free(&rl);
}

TEST(a_long_match_is_shown_cut_with_dots)
{
	orch_rate_limit rl;
	char why[160], out[300];

	memset(out, 'x', 200);
	out[200] = '\0';
	CHECK_INT(orch_rate_limit_compile(&rl, "x+"), 0);
	CHECK_INT(orch_rate_limit_hit(why, sizeof(why), &rl, 1, out), 1);
	CHECK(strstr(why, "...'") != NULL);
	orch_rate_limit_free(&rl);
}

TEST(a_bad_pattern_is_refused_with_the_reason)
{
	orch_rate_limit rl;

	CHECK_INT(orch_rate_limit_compile(&rl, "quota (exceeded"),
	          ORCH_EINVALID);
	CHECK(strstr(orch_error_message(), "quota (exceeded") != NULL);
	CHECK(!rl.compiled);
	orch_rate_limit_free(&rl);
}

TEST(a_pause_is_active_until_its_end)
{
	orch_pause p;

	orch_pause_init(&p);
	CHECK(!orch_pause_active(&p, 1000));
	p.until_ms = 2000;
	CHECK(orch_pause_active(&p, 1999));
	CHECK(!orch_pause_active(&p, 2000));
	orch_pause_clear(&p);
}

static const unit_test tests[] = {
    T(exit_75_is_a_rate_limit_with_or_without_a_pattern),
    T(the_pattern_matches_a_line_of_the_output),
    T(a_long_match_is_shown_cut_with_dots),
    T(a_bad_pattern_is_refused_with_the_reason),
    T(a_pause_is_active_until_its_end),
};

UNIT_MAIN(tests)
