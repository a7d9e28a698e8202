#ifndef ORCH_SYNC_H
#define ORCH_SYNC_H

#include <stddef.h>

#include <git2.h>

#include "store.h"
#include "util.h"

/*
 * Exchanging plan state with a shared remote (SPEC 8, `sync`).
 *
 * The remote's plan refs, task branches and notes are fetched into a
 * private namespace of this clone, refs/orchestrate-sync/<key>/ (plans/,
 * heads/, notes/), never over local refs. Then, per plan:
 *
 *   - one side lacks it or is an ancestor of the other: the other side is
 *     fast-forwarded (the remote by a compare-and-swap push, the local ref
 *     by a compare-and-swap update);
 *   - the sides diverged: a merge commit with the remote's head as first
 *     parent and the local head as second, pushed by CAS and then set
 *     locally. Its tree is the union of both trees; plan.json must be the
 *     same on both sides (else the plan is refused); for a task present on
 *     both sides the record chosen by orch_sync_pick wins, and the task's
 *     log goes with its record; for any other path the first parent wins.
 *     The commit is deterministic: a fixed identity, the later of the
 *     parents' committer times and a message that depends only on the
 *     parents, so whichever clone writes it, it has the same id.
 *
 * A rejected push fetches again and starts the plan over (bounded).
 */

/*
 * How far a state is, within one attempt, for orch_sync_pick:
 *   pending 0 < ready 1 < running 2 < failed, timeout, cancelled,
 *   skipped 3 < done 4 < conflict, rejected 5 < merged 6.
 * A result (done) outranks the ways an attempt stops without one, and what
 * the merge step makes of a result comes after the result.
 */
int orch_sync_state_rank(orch_state state);

/*
 * The per-task merge rule: 0 to keep `first` (the remote's record), 1 to
 * take `second` (this clone's). The record of the later attempt (more
 * attempts) wins; within one attempt the one re-run on conflict more often
 * (a re-run set up is later than the conflict it follows), then the further
 * state (by orch_sync_state_rank); equal ones keep the first.
 */
int orch_sync_pick(const orch_task_state *first, const orch_task_state *second);

/* What sync did to one plan, one set of task branches or the notes. */
typedef enum {
	ORCH_SYNC_UP_TO_DATE = 0,
	ORCH_SYNC_FETCHED, /* the local side moved to the remote's */
	ORCH_SYNC_PUSHED,  /* the remote moved to the local side */
	ORCH_SYNC_MERGED,  /* diverged: merged, pushed and set locally */
	ORCH_SYNC_REFUSED  /* diverged and cannot be merged: see `why` */
} orch_sync_action;

typedef struct {
	char *plan;
	orch_sync_action action;
	size_t tasks_merged; /* merged: tasks whose records differed */
	char *why;           /* refused: the reason */
} orch_sync_plan_result;

typedef struct {
	orch_sync_plan_result *plans;
	size_t nplans;
	size_t branches_fetched; /* task branches created or fast-forwarded */
	size_t branches_pushed;  /* local task branches the remote lacked */
	orch_sync_action notes;
} orch_sync_report;

void orch_sync_report_clear(orch_sync_report *report);

/*
 * The remote to use when none is given: the upstream remote of the current
 * branch, else "origin". Caller frees *out.
 */
int orch_sync_default_remote(char **out, git_repository *repo);

/*
 * Sync every plan, the task branches and the notes with `remote` (see
 * above) into *out (cleared by the caller with orch_sync_report_clear).
 * ORCH_ERROR, naming the remote and with a hint, when it cannot be
 * reached: then no ref of this clone has changed. A refused plan is not an
 * error: it is in the report and the other plans are synced.
 */
int orch_sync_run(orch_sync_report *out, git_repository *repo,
                  const char *remote);

/*
 * Fetch the remote's plan refs into a private namespace of this clone
 * and open a store on them (orch_store_open_prefix), for reading the
 * remote's state without changing local refs. Free with
 * orch_sync_remote_close, which deletes the fetched refs.
 */
typedef struct orch_sync_remote orch_sync_remote;
int orch_sync_remote_open(orch_sync_remote **out, orch_store **out_store,
                          git_repository *repo, const char *remote);
void orch_sync_remote_close(orch_sync_remote *fetched);

#endif
