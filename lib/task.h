#ifndef ORCH_TASK_H
#define ORCH_TASK_H

#include <stdint.h>

#include "graph.h"
#include "plan.h"
#include "store.h"
#include "util.h"

/*
 * The task state machine (SPEC 5): the only code that changes a task's
 * state. One function per event; each checks that the event applies to the
 * task's current state and changes the state record in place, or leaves it
 * untouched and returns:
 *
 *   ORCH_EINVALID   the event does not apply to the current state; the
 *                   message names the task and both states
 *   ORCH_ENOCHANGE  the task already is where the event would take it
 *
 *   pending  --promote--> ready --claim--> running --end--> done | ready |
 *   failed | timeout | cancelled | conflict;  done --merged--> merged
 *   --unmerged--> done; done --conflict/rejected--> conflict | rejected;
 *   pending | ready --skip--> skipped --unskip--> pending;
 *   pending | ready | running --cancel--> cancelled;
 *   failed | timeout | cancelled | skipped | conflict | rejected --retry-->
 *   pending | ready;  pending | ready | running | failed | timeout
 *   --pushed--> done.
 *
 * The functions on one record are pure (no repository); the *_dependents
 * walks apply an event to the dependents of a task inside a store
 * transaction.
 */

/* Done or merged: a dependency that lets its dependents start. */
int orch_state_is_success(orch_state state);
/* A state whose dependents can never start (failed, skipped...). */
int orch_state_is_dead_end(orch_state state);

/* The events, for tests and messages. */
typedef enum {
	ORCH_TASK_EVENT_PROMOTE = 0,
	ORCH_TASK_EVENT_CLAIM,
	ORCH_TASK_EVENT_END,
	ORCH_TASK_EVENT_SKIP,
	ORCH_TASK_EVENT_UNSKIP,
	ORCH_TASK_EVENT_CANCEL,
	ORCH_TASK_EVENT_RETRY,
	ORCH_TASK_EVENT_FORGET_WORKTREE,
	ORCH_TASK_EVENT_PUSHED,
	ORCH_TASK_EVENT_MERGED,
	ORCH_TASK_EVENT_UNMERGED,
	ORCH_TASK_EVENT_MERGE_CONFLICT,
	ORCH_TASK_EVENT_REJECTED,
	ORCH_TASK_EVENT__COUNT
} orch_task_event;

const char *orch_task_event_name(orch_task_event event);

/* pending -> ready, once every dependency succeeded (the caller checks). */
int orch_task_promote(orch_task_state *st, const char *id);

/*
 * ready (or pending with `deps_done`) -> running: a new attempt on `worker`
 * from commit `base` (hex), started at `now_ms`.
 */
int orch_task_claim(orch_task_state *st, const char *id, int deps_done,
                    const char *worker, const char *base, int64_t now_ms);

/* How an attempt ended. Strings are borrowed and copied. */
typedef struct {
	int attempt;      /* the attempt that ended */
	orch_state state; /* done, ready (run again), failed, timeout,
	                     cancelled or conflict */
	int exit_status;
	int64_t duration_ms;
	int64_t now_ms;
	const char *commit;       /* done: the result commit (hex) */
	const char *error;        /* why it did not succeed, or NULL */
	const char *worktree;     /* a kept worktree, or NULL */
	int64_t not_before_ms;    /* ready: retry backoff */
	const orch_strvec *paths; /* conflict: the paths */
	int interrupted; /* ready: no fault of the task, uses no retry */
	/* what the command used, when known (cpu_known, rss_known) */
	int64_t cpu_ms, max_rss_kb;
	int cpu_known, rss_known;
} orch_task_outcome;

/*
 * 1 when a task whose attempt `attempt` just failed has no retry left:
 * attempts that were interrupted (orch_task_outcome.interrupted) do not
 * count.
 */
int orch_task_retries_exhausted(const orch_task_state *st, int attempt,
                                int retries);

/*
 * running (attempt `o->attempt`) -> o->state. ORCH_ENOCHANGE when the task
 * is no longer running that attempt (cancelled meanwhile): the caller keeps
 * what is there.
 */
int orch_task_end(orch_task_state *st, const char *id,
                  const orch_task_outcome *o);

/* pending | ready -> skipped, because dependency `dep` is in `dep_state`. */
int orch_task_skip(orch_task_state *st, const char *id, const char *dep,
                   orch_state dep_state);
/* skipped -> pending (its dependency is retried). */
int orch_task_unskip(orch_task_state *st, const char *id);
/*
 * pending | ready | running -> cancelled. ORCH_ENOCHANGE for a task that
 * failed or timed out already (nothing left to cancel).
 */
int orch_task_cancel(orch_task_state *st, const char *id);
/*
 * failed | timeout | cancelled | skipped | conflict | rejected -> pending
 * (or ready when `has_deps` is 0), with the backoff, error and paths
 * cleared.
 */
int orch_task_retry(orch_task_state *st, const char *id, int has_deps);
/*
 * Re-run on conflict: conflict -> pending (or ready when `has_deps` is 0),
 * to run again from commit `base` (hex: the base branch as it is now), its
 * conflicting paths kept as the paths to resolve (rerun_paths) and the
 * re-run counted. The caller checks the plan's rerun-limit.
 */
int orch_task_rerun(orch_task_state *st, const char *id, int has_deps,
                    const char *base);
/* Any state: forget the kept worktree (removed by clean). */
int orch_task_forget_worktree(orch_task_state *st, const char *id);
/*
 * A result pushed to a shared remote: pending | ready | running | failed |
 * timeout -> done with `commit` (hex). ORCH_ENOCHANGE when done (or
 * merged) with that commit already; ORCH_EEXISTS when done or merged with
 * another commit (the message says which); ORCH_EINVALID for the rest.
 */
int orch_task_record_pushed(orch_task_state *st, const char *id,
                            const char *commit, const char *worker,
                            int64_t now_ms);
/* done -> merged, when the merged result is kept. */
int orch_task_merged(orch_task_state *st, const char *id);
/* merged -> done, when its merge is rolled back. */
int orch_task_unmerged(orch_task_state *st, const char *id);
/* done -> conflict on `paths`, with `why`. */
int orch_task_merge_conflict(orch_task_state *st, const char *id,
                             const orch_strvec *paths, const char *why);
/* done -> rejected: the merged result failed verify (`why`). */
int orch_task_rejected(orch_task_state *st, const char *id, const char *why);

/* Within a store transaction. */

/* *out = 1 when every dependency of task `task` of `plan` succeeded. */
int orch_task_deps_done(int *out, orch_txn *txn, const orch_plan *plan,
                        size_t task);
/*
 * The first dependency of `task` in a dead-end state, into *out_dep (index
 * into plan->tasks) and *out_state; *out_dep = (size_t)-1 when none.
 */
int orch_task_dead_dep(size_t *out_dep, orch_state *out_state, orch_txn *txn,
                       const orch_plan *plan, size_t task);
/* After `task` succeeded: its pending dependents whose deps all did -> ready.
 */
int orch_task_promote_dependents(orch_txn *txn, const orch_plan *plan,
                                 const orch_graph *graph, size_t task);
/*
 * After `task` is retried: the tasks skipped because of it (transitively)
 * -> pending. *out_count (may be NULL) gets how many.
 */
int orch_task_unskip_dependents(size_t *out_count, orch_txn *txn,
                                const orch_plan *plan, const orch_graph *graph,
                                size_t task);

/* On a stored plan: each is one store transaction (CAS, retried). */

/*
 * Cancel task `id` of plan `plan`. *out_before gets the state it had.
 * ORCH_ENOCHANGE when it is already failed, timed out or cancelled;
 * ORCH_EINVALID for an unknown task or one that ended otherwise;
 * ORCH_ENOTFOUND for an unknown plan.
 */
int orch_task_cancel_stored(orch_state *out_before, orch_store *store,
                            const char *plan, const char *id);
/*
 * Retry task `id` of plan `plan`, and make pending again the tasks skipped
 * because of it. Errors as orch_task_cancel_stored.
 */
int orch_task_retry_stored(orch_state *out_before, orch_store *store,
                           const char *plan, const char *id);
/*
 * Change task `id` of plan `plan` by `assignments` ("KEY=VALUE": priority,
 * timeout, retries, needs; see orch_plan_set_task) in plan.json, as one
 * commit "set ID KEY=VALUE...". Only a pending or ready task can be set:
 * ORCH_EINVALID otherwise, and for a bad key, value or task (nothing is
 * changed then). ORCH_ENOCHANGE when it already has those values;
 * ORCH_ENOTFOUND for an unknown plan. A running scheduler picks the change
 * up when it next reads the plan's state.
 */
int orch_task_set_stored(orch_store *store, const char *plan, const char *id,
                         const orch_strvec *assignments);

/*
 * Forget the kept worktrees of the tasks `ids` of plan `plan` (they were
 * removed). ORCH_ENOCHANGE when none had one.
 */
int orch_task_forget_worktrees_stored(orch_store *store, const char *plan,
                                      const orch_strvec *ids);

#endif
