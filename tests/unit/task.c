#include "unit.h"
#include "error.h"
#include "task.h"
#include "util.h"

/*
 * Every (state, event) pair: what the event makes of a task in that state.
 * An expected state means the event applies and leaves the task there; a
 * negative code means it does not and the record is left untouched.
 */

#define P ORCH_STATE_PENDING
#define R ORCH_STATE_READY
#define U ORCH_STATE_RUNNING
#define D ORCH_STATE_DONE
#define F ORCH_STATE_FAILED
#define TO ORCH_STATE_TIMEOUT
#define C ORCH_STATE_CANCELLED
#define S ORCH_STATE_SKIPPED
#define K ORCH_STATE_CONFLICT
#define J ORCH_STATE_REJECTED
#define M ORCH_STATE_MERGED
#define INV ORCH_EINVALID
#define NOC ORCH_ENOCHANGE
#define EXI ORCH_EEXISTS

/* One row per event, one column per state in enum order. */
static const int expected[ORCH_TASK_EVENT__COUNT][ORCH_STATE__COUNT] = {
    /*                 P    R    U    D    F    TO   C    S    K    J    M */
    [ORCH_TASK_EVENT_PROMOTE] = {R, NOC, INV, INV, INV, INV, INV, INV, INV, INV,
                                 INV},
    [ORCH_TASK_EVENT_CLAIM] = {U, U, INV, INV, INV, INV, INV, INV, INV, INV,
                               INV},
    [ORCH_TASK_EVENT_END] = {NOC, NOC, F, NOC, NOC, NOC, NOC, NOC, NOC, NOC,
                             NOC},
    [ORCH_TASK_EVENT_SKIP] = {S, S, INV, INV, INV, INV, INV, NOC, INV, INV,
                              INV},
    [ORCH_TASK_EVENT_UNSKIP] = {INV, INV, INV, INV, INV, INV, INV, P, INV, INV,
                                INV},
    [ORCH_TASK_EVENT_CANCEL] = {C, C, C, INV, NOC, NOC, NOC, INV, INV, INV,
                                INV},
    [ORCH_TASK_EVENT_RETRY] = {INV, INV, INV, INV, P, P, P, P, P, P, INV},
    [ORCH_TASK_EVENT_FORGET_WORKTREE] = {P, R, U, D, F, TO, C, S, K, J, M},
    [ORCH_TASK_EVENT_PUSHED] = {D, D, D, EXI, D, D, INV, INV, EXI, EXI, EXI},
    [ORCH_TASK_EVENT_MERGED] = {INV, INV, INV, M, INV, INV, INV, INV, INV, INV,
                                INV},
    [ORCH_TASK_EVENT_UNMERGED] = {INV, INV, INV, INV, INV, INV, INV, INV, INV,
                                  INV, D},
    [ORCH_TASK_EVENT_MERGE_CONFLICT] = {INV, INV, INV, K, INV, INV, INV, INV,
                                        INV, INV, INV},
    [ORCH_TASK_EVENT_REJECTED] = {INV, INV, INV, J, INV, INV, INV, INV, INV,
                                  INV, INV},
};

/* A task in `state` as a run would leave it: one attempt, a worktree. */
static void state_in(orch_task_state *st, orch_state state)
{
	orch_task_state_init(st);
	st->state = state;
	st->attempts = 1;
	st->worker = orch_strdup("w1");
	st->worktree = orch_strdup("/kept");
	if (state == D || state == M || state == K || state == J)
		st->commit =
		    orch_strdup("1111111111111111111111111111111111111111");
}

static int apply(orch_task_state *st, orch_task_event event)
{
	orch_strvec paths = {0};
	int error;

	switch (event) {
	case ORCH_TASK_EVENT_PROMOTE:
		return orch_task_promote(st, "t");
	case ORCH_TASK_EVENT_CLAIM:
		return orch_task_claim(st, "t", 1, "w2", "base", 1000);
	case ORCH_TASK_EVENT_END: {
		orch_task_outcome o = {0};
		o.attempt = 1;
		o.state = ORCH_STATE_FAILED;
		o.exit_status = 3;
		o.error = "exit status 3";
		return orch_task_end(st, "t", &o);
	}
	case ORCH_TASK_EVENT_SKIP:
		return orch_task_skip(st, "t", "dep", ORCH_STATE_FAILED);
	case ORCH_TASK_EVENT_UNSKIP:
		return orch_task_unskip(st, "t");
	case ORCH_TASK_EVENT_CANCEL:
		return orch_task_cancel(st, "t");
	case ORCH_TASK_EVENT_RETRY:
		return orch_task_retry(st, "t", 1);
	case ORCH_TASK_EVENT_FORGET_WORKTREE:
		return orch_task_forget_worktree(st, "t");
	case ORCH_TASK_EVENT_PUSHED:
		return orch_task_record_pushed(
		    st, "t", "2222222222222222222222222222222222222222", "hub",
		    1000);
	case ORCH_TASK_EVENT_MERGED:
		return orch_task_merged(st, "t");
	case ORCH_TASK_EVENT_UNMERGED:
		return orch_task_unmerged(st, "t");
	case ORCH_TASK_EVENT_MERGE_CONFLICT:
		orch_strvec_push(&paths, "a.c");
		error = orch_task_merge_conflict(st, "t", &paths, "conflicts");
		orch_strvec_free(&paths);
		return error;
	case ORCH_TASK_EVENT_REJECTED:
		return orch_task_rejected(st, "t", "verify failed");
	default:
		return ORCH_ERROR;
	}
}

TEST(every_event_applies_exactly_to_the_states_its_rule_names)
{
	for (int e = 0; e < ORCH_TASK_EVENT__COUNT; e++) {
		for (int s = 0; s < ORCH_STATE__COUNT && !unit_failed; s++) {
			orch_task_state st, before;
			int want = expected[e][s], got;
			char *json_before, *json_after;

			state_in(&st, (orch_state)s);
			orch_task_state_init(&before);
			orch_task_state_copy(&before, &st);
			orch_error_clear();
			got = apply(&st, (orch_task_event)e);
			json_before = orch_task_state_to_json(&before);
			json_after = orch_task_state_to_json(&st);
			if (want < 0) {
				if (got != want && !unit_failed) {
					unit_failed = 1;
					snprintf(
					    unit_why, sizeof(unit_why),
					    "%s on %s returned %d, expected "
					    "%d",
					    orch_task_event_name(e),
					    orch_state_name(s), got, want);
				}
				/* refused or nothing to do: untouched */
				CHECK_STR(json_after, json_before);
			} else if ((got != 0 || (int)st.state != want) &&
			           !unit_failed) {
				unit_failed = 1;
				snprintf(unit_why, sizeof(unit_why),
				         "%s on %s returned %d and gave %s, "
				         "expected %s",
				         orch_task_event_name(e),
				         orch_state_name(s), got,
				         orch_state_name(st.state),
				         orch_state_name(want));
			}
			free(json_before);
			free(json_after);
			orch_task_state_clear(&st);
			orch_task_state_clear(&before);
		}
	}
}

TEST(a_refused_event_names_the_task_and_both_states)
{
	orch_task_state st;
	state_in(&st, ORCH_STATE_MERGED);
	CHECK_INT(orch_task_claim(&st, "auth-api", 1, "w", "b", 0),
	          ORCH_EINVALID);
	CHECK(strstr(orch_error_message(), "'auth-api'") != NULL);
	CHECK(strstr(orch_error_message(), "merged") != NULL);
	CHECK(strstr(orch_error_message(), "running") != NULL);
	orch_task_state_clear(&st);
}

TEST(a_pending_task_is_claimed_only_once_its_dependencies_succeeded)
{
	orch_task_state st;
	orch_task_state_init(&st);
	CHECK_INT(orch_task_claim(&st, "t", 0, "w", "b", 0), ORCH_EINVALID);
	CHECK_INT(st.state, ORCH_STATE_PENDING);
	CHECK_INT(st.attempts, 0);
	CHECK_INT(orch_task_claim(&st, "t", 1, "w", "b", 5), 0);
	CHECK_INT(st.state, ORCH_STATE_RUNNING);
	CHECK_INT(st.attempts, 1);
	CHECK_STR(st.worker, "w");
	CHECK_STR(st.base, "b");
	CHECK_INT(st.started_ms, 5);
	orch_task_state_clear(&st);
}

TEST(a_claim_records_each_worker_tried_once_and_drops_the_kept_worktree)
{
	orch_task_state st;
	state_in(&st, ORCH_STATE_READY);
	CHECK_INT(orch_task_claim(&st, "t", 1, "w1", "b", 0), 0);
	CHECK(st.worktree == NULL);
	st.state = ORCH_STATE_READY;
	CHECK_INT(orch_task_claim(&st, "t", 1, "w2", "b", 0), 0);
	st.state = ORCH_STATE_READY;
	CHECK_INT(orch_task_claim(&st, "t", 1, "w1", "b", 0), 0);
	CHECK_INT(st.workers_tried.count, 2);
	CHECK_INT(st.attempts, 4);
	orch_task_state_clear(&st);
}

TEST(an_attempt_ends_only_if_it_is_the_one_running)
{
	orch_task_state st;
	orch_task_outcome o = {0};
	state_in(&st, ORCH_STATE_RUNNING);
	st.attempts = 2;
	o.attempt = 1;
	o.state = ORCH_STATE_DONE;
	o.commit = "abc";
	CHECK_INT(orch_task_end(&st, "t", &o), ORCH_ENOCHANGE);
	CHECK_INT(st.state, ORCH_STATE_RUNNING);
	o.attempt = 2;
	o.commit = NULL;
	CHECK_INT(orch_task_end(&st, "t", &o), ORCH_EINVALID);
	o.commit = "abc";
	o.duration_ms = 42;
	CHECK_INT(orch_task_end(&st, "t", &o), 0);
	CHECK_INT(st.state, ORCH_STATE_DONE);
	CHECK_STR(st.commit, "abc");
	CHECK_INT(st.duration_ms, 42);
	orch_task_state_clear(&st);
}

TEST(an_attempt_cannot_end_in_a_state_no_attempt_ends_in)
{
	orch_task_state st;
	orch_task_outcome o = {0};
	state_in(&st, ORCH_STATE_RUNNING);
	o.attempt = 1;
	o.state = ORCH_STATE_MERGED;
	CHECK_INT(orch_task_end(&st, "t", &o), ORCH_EINVALID);
	o.state = ORCH_STATE_SKIPPED;
	CHECK_INT(orch_task_end(&st, "t", &o), ORCH_EINVALID);
	CHECK_INT(st.state, ORCH_STATE_RUNNING);
	orch_task_state_clear(&st);
}

TEST(retry_clears_the_error_backoff_and_paths_and_readies_a_root_task)
{
	orch_task_state st;
	orch_strvec paths = {0};
	state_in(&st, ORCH_STATE_DONE);
	orch_strvec_push(&paths, "x.c");
	CHECK_INT(orch_task_merge_conflict(&st, "t", &paths, "why"), 0);
	CHECK_INT(st.paths.count, 1);
	st.not_before_ms = 99;
	CHECK_INT(orch_task_retry(&st, "t", 0), 0);
	CHECK_INT(st.state, ORCH_STATE_READY);
	CHECK_INT(st.paths.count, 0);
	CHECK(st.error == NULL);
	CHECK_INT(st.not_before_ms, 0);
	orch_strvec_free(&paths);
	orch_task_state_clear(&st);
}

TEST(a_rerun_keeps_the_conflict_paths_and_base_and_a_retry_forgets_them)
{
	orch_task_state st, copy;
	orch_strvec paths = {0};
	char *json;

	state_in(&st, ORCH_STATE_DONE);
	orch_strvec_push(&paths, "a file.c");
	CHECK_INT(orch_task_rerun(&st, "t", 0, "abc"), ORCH_EINVALID);
	CHECK_INT(orch_task_merge_conflict(&st, "t", &paths, "why"), 0);
	CHECK_INT(orch_task_rerun(&st, "t", 1, "abc"), 0);
	CHECK_INT(st.state, ORCH_STATE_PENDING);
	CHECK_INT(st.reruns, 1);
	CHECK_STR(st.rerun_base, "abc");
	CHECK_INT(st.rerun_paths.count, 1);
	CHECK_STR(st.rerun_paths.items[0], "a file.c");
	CHECK_INT(st.paths.count, 0);
	CHECK(st.error == NULL);
	/* kept in the stored state */
	json = orch_task_state_to_json(&st);
	orch_task_state_init(&copy);
	CHECK_INT(orch_task_state_from_json(&copy, json, strlen(json)), 0);
	CHECK_INT(copy.reruns, 1);
	CHECK_STR(copy.rerun_base, "abc");
	CHECK_STR(copy.rerun_paths.items[0], "a file.c");
	free(json);
	orch_task_state_clear(&copy);
	/* a retry starts over */
	st.state = ORCH_STATE_CONFLICT;
	CHECK_INT(orch_task_retry(&st, "t", 0), 0);
	CHECK_INT(st.reruns, 0);
	CHECK(st.rerun_base == NULL);
	CHECK_INT(st.rerun_paths.count, 0);
	orch_strvec_free(&paths);
	orch_task_state_clear(&st);
}

TEST(a_pushed_result_is_recorded_once_and_never_replaces_another)
{
	orch_task_state st;
	orch_task_state_init(&st);
	CHECK_INT(orch_task_record_pushed(&st, "t", "aaa", "hub", 7), 0);
	CHECK_INT(st.state, ORCH_STATE_DONE);
	CHECK_INT(st.attempts, 1);
	CHECK_STR(st.commit, "aaa");
	CHECK_INT(orch_task_record_pushed(&st, "t", "aaa", "hub", 8),
	          ORCH_ENOCHANGE);
	CHECK_INT(orch_task_record_pushed(&st, "t", "bbb", "hub", 9),
	          ORCH_EEXISTS);
	CHECK(strstr(orch_error_message(), "aaa") != NULL);
	CHECK(strstr(orch_error_message(), "bbb") != NULL);
	CHECK_STR(st.commit, "aaa");
	orch_task_state_clear(&st);
}

TEST(a_pushed_result_of_a_running_attempt_keeps_its_attempt_number)
{
	orch_task_state st;
	state_in(&st, ORCH_STATE_RUNNING);
	CHECK_INT(orch_task_record_pushed(&st, "t", "aaa", NULL, 7), 0);
	CHECK_INT(st.attempts, 1);
	CHECK_STR(st.worker, "w1");
	orch_task_state_clear(&st);
}

TEST(skip_says_which_dependency_and_unskip_forgets_it)
{
	orch_task_state st;
	orch_task_state_init(&st);
	CHECK_INT(orch_task_skip(&st, "t", "schema", ORCH_STATE_TIMEOUT), 0);
	CHECK_STR(st.error, "dependency 'schema' timeout");
	CHECK_INT(orch_task_unskip(&st, "t"), 0);
	CHECK_INT(st.state, ORCH_STATE_PENDING);
	CHECK(st.error == NULL);
	orch_task_state_clear(&st);
}

TEST(interrupted_attempts_use_none_of_the_retries)
{
	orch_task_state st;
	orch_task_outcome o = {0};
	state_in(&st, ORCH_STATE_RUNNING);
	/* retries = 1: attempt 1 interrupted, attempt 2 failed: one left */
	o.attempt = 1;
	o.state = ORCH_STATE_READY;
	o.interrupted = 1;
	CHECK_INT(orch_task_end(&st, "t", &o), 0);
	CHECK_INT(st.interrupted, 1);
	CHECK_INT(orch_task_claim(&st, "t", 1, "w", "b", 0), 0);
	CHECK(!orch_task_retries_exhausted(&st, 2, 1));
	CHECK(orch_task_retries_exhausted(&st, 3, 1));
	/* a failed attempt that is run again is no interruption */
	o.attempt = 2;
	o.interrupted = 0;
	CHECK_INT(orch_task_end(&st, "t", &o), 0);
	CHECK_INT(st.interrupted, 1);
	orch_task_state_clear(&st);
}

TEST(attempts_add_up_to_the_task_time_from_the_first_start)
{
	orch_task_state st;
	orch_task_outcome o = {0};

	orch_task_state_init(&st);
	st.state = ORCH_STATE_READY;
	CHECK_INT(orch_task_claim(&st, "t", 1, "w", "b", 1000), 0);
	o.attempt = 1;
	o.state = ORCH_STATE_READY;
	o.duration_ms = 2000;
	o.now_ms = 3000;
	CHECK_INT(orch_task_end(&st, "t", &o), 0);
	CHECK_INT(orch_task_claim(&st, "t", 1, "w", "b", 5000), 0);
	o.attempt = 2;
	o.state = ORCH_STATE_DONE;
	o.duration_ms = 500;
	o.now_ms = 5500;
	o.commit = "c";
	CHECK_INT(orch_task_end(&st, "t", &o), 0);
	CHECK_INT(st.first_started_ms, 1000);
	CHECK_INT(st.started_ms, 5000);
	CHECK_INT(st.duration_ms, 500);
	CHECK_INT(st.attempts_ms, 2500);
	orch_task_state_clear(&st);
}

TEST(success_and_dead_end_states_are_disjoint)
{
	for (int s = 0; s < ORCH_STATE__COUNT; s++)
		CHECK(!(orch_state_is_success(s) && orch_state_is_dead_end(s)));
	CHECK(orch_state_is_success(ORCH_STATE_MERGED));
	CHECK(orch_state_is_dead_end(ORCH_STATE_REJECTED));
	CHECK(!orch_state_is_dead_end(ORCH_STATE_RUNNING));
}

/* clang-format off */
static const unit_test tests[] = {
	T(every_event_applies_exactly_to_the_states_its_rule_names),
	T(a_refused_event_names_the_task_and_both_states),
	T(a_pending_task_is_claimed_only_once_its_dependencies_succeeded),
	T(a_claim_records_each_worker_tried_once_and_drops_the_kept_worktree),
	T(an_attempt_ends_only_if_it_is_the_one_running),
	T(an_attempt_cannot_end_in_a_state_no_attempt_ends_in),
	T(retry_clears_the_error_backoff_and_paths_and_readies_a_root_task),
	T(a_rerun_keeps_the_conflict_paths_and_base_and_a_retry_forgets_them),
	T(a_pushed_result_is_recorded_once_and_never_replaces_another),
	T(a_pushed_result_of_a_running_attempt_keeps_its_attempt_number),
	T(skip_says_which_dependency_and_unskip_forgets_it),
	T(interrupted_attempts_use_none_of_the_retries),
	T(attempts_add_up_to_the_task_time_from_the_first_start),
	T(success_and_dead_end_states_are_disjoint),
};
/* clang-format on */

UNIT_MAIN(tests)
