#include "unit.h"
#include "store.h"
#include "sync.h"

/*
 * The per-task merge rule of sync: which of two records of one task wins.
 * `second` is 1 when the second parent's (this clone's) record wins.
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

static const struct {
	orch_state first;
	int first_attempts;
	orch_state second;
	int second_attempts;
	int second_wins;
} picks[] = {
    /* the later attempt wins, whatever the states */
    {D, 1, R, 2, 1},
    {R, 2, D, 1, 0},
    {M, 1, U, 2, 1},
    {C, 0, D, 1, 1},
    {F, 3, P, 2, 0},
    /* within one attempt, the further state */
    {P, 0, R, 0, 1},
    {R, 0, P, 0, 0},
    {R, 0, C, 0, 1},
    {U, 1, D, 1, 1},
    {U, 1, F, 1, 1},
    {U, 1, C, 1, 1},
    {C, 1, D, 1, 1},
    {D, 1, TO, 1, 0},
    {D, 1, K, 1, 1},
    {J, 1, D, 1, 0},
    {D, 1, M, 1, 1},
    {K, 1, M, 1, 1},
    {M, 1, J, 1, 0},
    /* equal ones keep the first */
    {D, 1, D, 1, 0},
    {F, 1, C, 1, 0},
    {C, 1, F, 1, 0},
    {S, 0, C, 0, 0},
    {K, 1, J, 1, 0},
    {R, 0, R, 0, 0},
};

TEST(the_later_attempt_then_the_further_state_wins)
{
	for (size_t i = 0; i < sizeof(picks) / sizeof(picks[0]); i++) {
		orch_task_state a, b;
		orch_task_state_init(&a);
		orch_task_state_init(&b);
		a.state = picks[i].first;
		a.attempts = picks[i].first_attempts;
		b.state = picks[i].second;
		b.attempts = picks[i].second_attempts;
		if (orch_sync_pick(&a, &b) != picks[i].second_wins &&
		    !unit_failed) {
			unit_failed = 1;
			snprintf(unit_why, sizeof(unit_why),
			         "row %zu: %s (%d) vs %s (%d)", i,
			         orch_state_name(a.state), a.attempts,
			         orch_state_name(b.state), b.attempts);
		}
		orch_task_state_clear(&a);
		orch_task_state_clear(&b);
	}
}

TEST(a_rerun_set_up_wins_over_the_conflict_it_follows)
{
	orch_task_state conflict, rerun;

	orch_task_state_init(&conflict);
	orch_task_state_init(&rerun);
	conflict.state = ORCH_STATE_CONFLICT;
	conflict.attempts = rerun.attempts = 1;
	rerun.state = ORCH_STATE_READY;
	rerun.reruns = 1;
	CHECK(orch_sync_pick(&conflict, &rerun));
	CHECK(!orch_sync_pick(&rerun, &conflict));
	/* a later attempt still comes first */
	conflict.attempts = 2;
	CHECK(!orch_sync_pick(&conflict, &rerun));
	orch_task_state_clear(&conflict);
	orch_task_state_clear(&rerun);
}

TEST(states_are_ranked_as_documented)
{
	static const int rank[ORCH_STATE__COUNT] = {
	    [ORCH_STATE_PENDING] = 0,  [ORCH_STATE_READY] = 1,
	    [ORCH_STATE_RUNNING] = 2,  [ORCH_STATE_FAILED] = 3,
	    [ORCH_STATE_TIMEOUT] = 3,  [ORCH_STATE_CANCELLED] = 3,
	    [ORCH_STATE_SKIPPED] = 3,  [ORCH_STATE_DONE] = 4,
	    [ORCH_STATE_CONFLICT] = 5, [ORCH_STATE_REJECTED] = 5,
	    [ORCH_STATE_MERGED] = 6,
	};
	for (int s = 0; s < ORCH_STATE__COUNT; s++)
		CHECK_INT(orch_sync_state_rank((orch_state)s), rank[s]);
}

/*
 * Whichever side is first, the same record wins unless the two tie: the
 * merged state does not depend on which clone synced first.
 */
TEST(the_winner_does_not_depend_on_the_order_except_on_ties)
{
	for (int sa = 0; sa < ORCH_STATE__COUNT; sa++)
		for (int sb = 0; sb < ORCH_STATE__COUNT; sb++)
			for (int aa = 0; aa < 3; aa++)
				for (int ab = 0; ab < 3; ab++) {
					orch_task_state a, b;
					int tie, ab_pick, ba_pick;
					orch_task_state_init(&a);
					orch_task_state_init(&b);
					a.state = (orch_state)sa;
					a.attempts = aa;
					b.state = (orch_state)sb;
					b.attempts = ab;
					tie = aa == ab &&
					      orch_sync_state_rank(a.state) ==
					          orch_sync_state_rank(b.state);
					ab_pick = orch_sync_pick(&a, &b);
					ba_pick = orch_sync_pick(&b, &a);
					if (tie)
						CHECK(!ab_pick && !ba_pick);
					else
						CHECK(ab_pick != ba_pick);
				}
}

static const unit_test tests[] = {
    T(the_later_attempt_then_the_further_state_wins),
    T(a_rerun_set_up_wins_over_the_conflict_it_follows),
    T(states_are_ranked_as_documented),
    T(the_winner_does_not_depend_on_the_order_except_on_ties),
};

UNIT_MAIN(tests)
