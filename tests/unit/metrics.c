#include "unit.h"
#include "metrics.h"
#include "util.h"

/* A task that ran `attempts` times from `first` on, the last from `start`. */
static void ran(orch_task_state *st, orch_state state, int attempts,
                int64_t first, int64_t start, int64_t end, int64_t total)
{
	orch_task_state_init(st);
	st->state = state;
	st->attempts = attempts;
	st->first_started_ms = first;
	st->started_ms = start;
	st->ended_ms = end;
	if (end)
		st->duration_ms = end - start;
	st->attempts_ms = total;
}

TEST(makespan_runs_from_the_first_start_to_the_last_end)
{
	orch_task_state st[4];
	orch_metrics m;

	/* retried: its first attempt is the plan's first start */
	ran(&st[0], ORCH_STATE_DONE, 2, 1000, 8000, 10000, 4000);
	ran(&st[1], ORCH_STATE_FAILED, 1, 2000, 2000, 12000, 10000);
	ran(&st[2], ORCH_STATE_MERGED, 1, 3000, 3000, 4000, 1000);
	orch_task_state_init(&st[3]); /* never ran */
	orch_metrics_compute(&m, st, 4, 99999);
	CHECK_INT(m.started_ms, 1000);
	CHECK_INT(m.ended_ms, 12000);
	CHECK_INT(m.makespan_ms, 11000);
	CHECK_INT(m.task_ms, 15000);
	CHECK(m.speedup > 1.36 && m.speedup < 1.37);
	CHECK_INT(m.attempts, 4);
	CHECK_INT(m.counts[ORCH_STATE_DONE], 1);
	CHECK_INT(m.counts[ORCH_STATE_PENDING], 1);
	for (int i = 0; i < 4; i++)
		orch_task_state_clear(&st[i]);
}

TEST(a_running_attempt_counts_up_to_now)
{
	orch_task_state st[2];
	orch_metrics m;

	ran(&st[0], ORCH_STATE_DONE, 1, 1000, 1000, 2000, 1000);
	ran(&st[1], ORCH_STATE_RUNNING, 2, 1500, 3000, 0, 500);
	orch_metrics_compute(&m, st, 2, 7000);
	CHECK_INT(m.makespan_ms, 6000);
	CHECK_INT(m.task_ms, 1000 + 500 + 4000);
	/* only attempts that ended a task are in the histogram */
	CHECK_INT(m.duration_count, 1);
	for (int i = 0; i < 2; i++)
		orch_task_state_clear(&st[i]);
}

TEST(nothing_ran_is_a_zero_makespan_and_no_speedup)
{
	orch_task_state st;
	orch_metrics m;

	orch_task_state_init(&st);
	orch_metrics_compute(&m, &st, 1, 5000);
	CHECK_INT(m.started_ms, 0);
	CHECK_INT(m.makespan_ms, 0);
	CHECK(m.speedup == 0);
	orch_metrics_compute(&m, NULL, 0, 5000);
	CHECK_INT(m.task_ms, 0);
}

TEST(the_histogram_counts_each_ended_task_in_every_bucket_it_fits)
{
	static const int64_t ms[] = {0, 1000, 1001, 59000, 3600000, 86400000};
	orch_task_state st[6];
	orch_metrics m;

	for (int i = 0; i < 6; i++)
		ran(&st[i], i % 2 ? ORCH_STATE_TIMEOUT : ORCH_STATE_DONE, 1, 1,
		    1, 1 + ms[i], ms[i]);
	st[5].state = ORCH_STATE_CANCELLED; /* not an attempt's outcome */
	orch_metrics_compute(&m, st, 6, 0);
	CHECK_INT(m.duration_count, 5);
	CHECK_INT(m.duration_sum_ms, 1000 + 1001 + 59000 + 3600000);
	CHECK_INT(m.duration_le[0], 2); /* le 1 s: 0 and 1000 ms */
	CHECK_INT(m.duration_le[1], 3); /* le 5 s */
	CHECK_INT(m.duration_le[4], 4); /* le 60 s */
	CHECK_INT(m.duration_le[9], 5); /* le 3600 s */
	CHECK_INT(m.duration_le[ORCH_METRICS_NBUCKETS - 1], 5);
	for (int i = 1; i < ORCH_METRICS_NBUCKETS; i++)
		CHECK(orch_metrics_bucket_s[i] > orch_metrics_bucket_s[i - 1]);
	for (int i = 0; i < 6; i++)
		orch_task_state_clear(&st[i]);
}

TEST(label_values_and_help_texts_are_escaped_as_the_format_says)
{
	orch_buf out = {0};

	orch_metrics_escape(&out, "a\\b\"c\nd", 0);
	CHECK_STR(out.ptr, "a\\\\b\\\"c\\nd");
	orch_buf_clear(&out);
	orch_metrics_escape(&out, "a\\b\"c\nd", 1);
	CHECK_STR(out.ptr, "a\\\\b\"c\\nd");
	orch_buf_free(&out);
}

/* clang-format off */
static const unit_test tests[] = {
	T(makespan_runs_from_the_first_start_to_the_last_end),
	T(a_running_attempt_counts_up_to_now),
	T(nothing_ran_is_a_zero_makespan_and_no_speedup),
	T(the_histogram_counts_each_ended_task_in_every_bucket_it_fits),
	T(label_values_and_help_texts_are_escaped_as_the_format_says),
};
/* clang-format on */

UNIT_MAIN(tests)
