#ifndef ORCH_MERGE_H
#define ORCH_MERGE_H

#include <stddef.h>
#include <stdint.h>

#include <git2.h>

#include "store.h"
#include "util.h"

/*
 * Merging task branches back (SPEC 5, 6). Three layers:
 *
 *  - analysis, in memory: each branch against the base tip and every pair
 *    of branches, merged with libgit2 into an index, never the work tree;
 *  - the repository-level steps, usable without a plan: build the chain of
 *    merge commits on a base tip without moving any ref, run a verify
 *    command in a temporary worktree, move a branch by compare-and-swap
 *    (updating the work tree it is checked out in), push with a lease;
 *  - the plan-level operations on the store: orch_merge_run (the `merge`
 *    command), orch_merge_task (merge one task as soon as it is done, for
 *    `run --merge` and `merge = auto`) and orch_merge_rollback.
 */

/* ---- analysis ---------------------------------------------------------- */

/* One branch of an analysis. */
typedef struct {
	char *id;           /* task id (or any label) */
	git_oid commit;     /* its tip */
	int conflicts_base; /* 1 when merging it into the base tip conflicts */
	orch_strvec paths;  /* the conflicting paths against the base */
} orch_merge_branch;

/* A pair of branches whose merge conflicts. */
typedef struct {
	size_t a, b;       /* positions in branches[], a < b */
	orch_strvec paths; /* conflicting paths */
} orch_merge_pair;

typedef struct {
	git_oid base;                /* the base tip analysed against */
	orch_merge_branch *branches; /* in the order given */
	size_t nbranches;
	orch_merge_pair *pairs; /* conflicting pairs only, sorted by (a, b) */
	size_t npairs;
	size_t merges_done;    /* merges actually computed in memory */
	size_t merges_skipped; /* merges the first pass proved clean */
} orch_merge_analysis;

/* Flags of orch_merge_analyze. */
#define ORCH_MERGE_ANALYZE_ALL                                                 \
	1 /* no first pass: merge every pair as whole trees with libgit2       \
	   */

/*
 * Analyse `n` branches (ids[i] at commits[i]) against `base`: each one
 * merged into the base tip and every pair merged with each other, in
 * memory. Each side's changed files since the merge base are found by
 * walking both trees in step (orch_merge_changes, cached per merge base
 * and tip); a pair whose changed paths are disjoint and do not collide as
 * file against directory is clean without a merge, an overlapping pair is
 * merged file by file (git_merge_file on the three blobs) the way
 * `git merge-tree` decides: add/add, modify/delete, distinct types, mode
 * and binary conflicts. A pair with several merge bases, or whose common
 * paths may be a rename on one side (that side added and deleted files),
 * is merged as whole trees with libgit2 instead, which follows file
 * renames. Conflicting paths are reported as git names them, except that a
 * file against a directory is reported at its own path (git's `path~branch`
 * is where it moves the file). ORCH_MERGE_ANALYZE_ALL merges every pair as
 * whole trees (for tests). Caller frees *out with orch_merge_analysis_free.
 */
int orch_merge_analyze(orch_merge_analysis **out, git_repository *repo,
                       const git_oid *base, const char *const *ids,
                       const git_oid *commits, size_t n, unsigned flags);

/* A file (any entry but a tree) that differs between two trees. */
typedef struct {
	char *path;
	uint32_t old_mode, new_mode; /* 0: absent on that side */
	git_oid old_id, new_id;
} orch_merge_change;

/*
 * The files that differ between the trees of commits `from` and `to`,
 * sorted by path (strcmp), found by walking both trees in step in git's
 * tree order and descending only into subtrees whose ids differ: the work
 * is proportional to the changes, not to the size of the tree. A file
 * replaced by a directory (or the reverse) is a deletion plus additions.
 * Caller frees *out with orch_merge_changes_free.
 */
int orch_merge_changes(orch_merge_change **out, size_t *out_count,
                       git_repository *repo, const git_oid *from,
                       const git_oid *to);
void orch_merge_changes_free(orch_merge_change *changes, size_t count);

/*
 * Analyse the done tasks of stored plan `plan` (in merge order) against
 * branch `into` (NULL: the plan's base), whose name goes to *out_into
 * (malloc'd). Changes nothing. Caller frees *out.
 */
int orch_merge_analyze_plan(orch_merge_analysis **out, char **out_into,
                            orch_store *store, const char *plan,
                            const char *into);

/* 1 when pair (a, b) conflicts; *out_paths (may be NULL) borrows its paths. */
int orch_merge_analysis_pair(const orch_strvec **out_paths,
                             const orch_merge_analysis *analysis, size_t a,
                             size_t b);
void orch_merge_analysis_free(orch_merge_analysis *analysis);

/*
 * Merge `theirs` into `ours` in memory. Returns 0 and *out_tree (may be
 * NULL) when clean, ORCH_ECONFLICT with the conflicting paths appended to
 * `conflicts` (may be NULL) when not.
 */
int orch_merge_trees_of(git_oid *out_tree, orch_strvec *conflicts,
                        git_repository *repo, const git_oid *ours,
                        const git_oid *theirs);

/*
 * The start commit of task `task` of plan `plan`: `base` with the result
 * commits of its dependencies `deps` merged in, one after the other
 * (fast-forward where possible, else a merge commit made in memory). On
 * conflict returns ORCH_ECONFLICT with the paths appended to `conflicts`
 * (may be NULL).
 */
int orch_merge_start_commit(git_oid *out, orch_strvec *conflicts,
                            git_repository *repo, const git_oid *base,
                            const git_oid *deps, size_t ndeps, const char *plan,
                            const char *task);

/* ---- building, verifying, moving ---------------------------------------- */

/* One task to merge, and what became of it in orch_merge_build. */
typedef struct {
	const char *id;    /* task id, borrowed */
	git_oid commit;    /* the task's result commit */
	int conflicted;    /* out: 1 when it conflicted (left out) */
	orch_strvec paths; /* out: the conflicting paths */
	git_oid merged;    /* out: its merge (or squash) commit in the chain */
} orch_merge_item;

/* Flags of orch_merge_build. */
#define ORCH_MERGE_SQUASH 1 /* one single-parent commit per task */

/*
 * Merge items[0..n) one after the other onto `base`, each as a merge commit
 * (message naming plan and task, with Orchestrate-Plan/-Task/-Commit
 * trailers) or a squash commit. An item that conflicts with the chain so far
 * is marked conflicted and skipped; the others go on. Writes commits to the
 * object database only: no ref moves. *out_tip is the last commit (equal to
 * `base` when nothing merged).
 */
int orch_merge_build(git_oid *out_tip, git_repository *repo,
                     const git_oid *base, orch_merge_item *items, size_t n,
                     const char *plan, unsigned flags);

/*
 * Run `command` with `sh -c` (the plan author's own text, like a task's
 * command) in a temporary worktree of `commit` under $GIT_DIR, removed
 * afterwards, with ORCHESTRATE_PLAN and ORCHESTRATE_COMMIT set. *out_status
 * gets the exit status (-1 if killed); the last 64 KiB of its output are
 * appended to `output` (may be NULL). Returns an error only when the
 * command could not be run at all.
 */
int orch_merge_verify(int *out_status, orch_buf *output, git_repository *repo,
                      const git_oid *commit, const char *command,
                      const char *plan);

/*
 * Where `branch` (short name) is checked out: the work tree path into
 * *out_path (malloc'd, NULL when checked out nowhere) and whether it has
 * uncommitted changes to tracked files in *out_dirty.
 */
int orch_merge_checkout_state(char **out_path, int *out_dirty,
                              git_repository *repo, const char *branch);

/*
 * Move refs/heads/<branch> from `expected` to `target` by compare-and-swap.
 * When the branch is checked out in a work tree (main or linked), that work
 * tree's files and index are updated as `git merge` would, and only when it
 * is clean: a dirty one returns ORCH_ELOCKED (message and hint say what to
 * do) and nothing moves. ORCH_EMODIFIED when the branch is no longer at
 * `expected`: nothing is overwritten.
 */
int orch_merge_move_branch(git_repository *repo, const char *branch,
                           const git_oid *expected, const git_oid *target,
                           const char *reflog);

/*
 * Push refs/heads/<branch> to its upstream (branch.<b>.remote and .merge)
 * with a lease on the remote-tracking value. A rejected push returns
 * ORCH_EMODIFIED with git's reason in the message; the local branch stays.
 */
int orch_merge_push(git_repository *repo, const char *branch);

/* ---- plan-level operations ---------------------------------------------- */

typedef enum {
	ORCH_MERGE_EVENT_CONFLICT, /* task left unmerged: paths */
	ORCH_MERGE_EVENT_VERIFY,   /* a verify ran: tasks = the set, status */
	ORCH_MERGE_EVENT_REJECTED, /* task found to break verify */
	ORCH_MERGE_EVENT_MERGED    /* task merged into the base */
} orch_merge_event_kind;

typedef struct {
	orch_merge_event_kind kind;
	const char *task;         /* CONFLICT, REJECTED, MERGED */
	const orch_strvec *paths; /* CONFLICT */
	size_t ntasks; /* VERIFY: how many tasks in the set (0: the base
	                  alone, verified when the whole set fails) */
	int status;    /* VERIFY: exit status */
	const git_oid
	    *commit; /* VERIFY: what was verified; MERGED: merge commit */
} orch_merge_event;

typedef struct {
	const char *plan;
	const char *into;   /* --into BRANCH; NULL: the plan's base */
	const char *verify; /* --verify CMD; NULL: the plan's verify */
	int squash;         /* --squash */
	int push;           /* --push after a successful move */
	void (*on_event)(const orch_merge_event *event, void *payload);
	void *payload;
} orch_merge_options;

typedef struct {
	char *into;             /* the branch merged into */
	git_oid base_before;    /* its tip before */
	git_oid base_after;     /* its tip after (== before when not moved) */
	int moved;              /* 1 when the branch was moved */
	orch_strvec merged;     /* task ids merged */
	orch_strvec conflicted; /* task ids left in state conflict */
	orch_strvec rejected;   /* task ids found to break verify */
	int verify_runs;        /* verify runs, bisection included */
	int verify_failed;      /* 1 when some verify failed */
	int record;             /* number n of merges/<n>.json, 0 if none */
	orch_buf verify_output; /* output of the last failed verify */
	char *push_error;       /* why --push failed, or NULL */
} orch_merge_result;

void orch_merge_result_init(orch_merge_result *result);
void orch_merge_result_clear(orch_merge_result *result);

/*
 * The `merge` command: take the plan's done tasks in dependency order, then
 * priority, merge them onto the base tip in memory (orch_merge_build),
 * verify the result (opts->verify or the plan's), bisect a failing set to
 * find the culprits (verify on halves; a tree is verified once per merge),
 * and move the base branch by CAS to
 * the last verified result (orch_merge_move_branch). Records
 * merges/<n>.json and sets task states merged, conflict and rejected in one
 * store update; notes each merge commit. Returns 0 even when tasks
 * conflicted or were rejected (see *out); ORCH_EMODIFIED when the base
 * branch moved meanwhile (nothing overwritten, states unchanged),
 * ORCH_ELOCKED when its work tree is dirty, ORCH_ENOCHANGE when no task is
 * done, ORCH_ERROR (verify_failed set, nothing merged or recorded) when
 * the set fails verify and so does the base alone. *out must be
 * initialised and is filled in all cases.
 */
int orch_merge_run(orch_merge_result *out, orch_store *store,
                   const orch_merge_options *opts);

/*
 * Merge the one done task `task` right away (for `run --merge` and
 * `merge = auto`; the run loop calls it after recording the task done).
 * Same steps and results as orch_merge_run restricted to that task: its
 * branch already holds its dependencies' results, since it started from
 * them. The caller calls it in dependency order as tasks finish.
 */
int orch_merge_task(orch_merge_result *out, orch_store *store,
                    const orch_merge_options *opts, const char *task);

/* What orch_merge_rerun did. */
typedef struct {
	char *base;            /* the plan's base branch */
	git_oid base_tip;      /* its tip: where the re-runs start from */
	orch_strvec rerun;     /* tasks set to run again (pending or ready) */
	orch_strvec exhausted; /* tasks left in conflict: rerun-limit reached */
	int limit;             /* the plan's rerun-limit */
} orch_rerun_result;

void orch_rerun_result_clear(orch_rerun_result *result);

/*
 * Re-run on conflict (merge --rerun, merge = auto-rerun): each task of plan
 * `plan` in state conflict (only task `only` when not NULL) that has been
 * re-run fewer times than the plan's rerun-limit goes back to pending (or
 * ready), to run again from the tip of the plan's base branch as it is now
 * (the tasks merged so far), with its conflicting paths kept for
 * ORCHESTRATE_CONFLICT_FILES. One store update, whose message names each
 * task, its re-run count and paths. The others are listed in
 * out->exhausted. ORCH_ENOCHANGE when no task was set to run again.
 * *out must be zeroed; clear it with orch_rerun_result_clear.
 */
int orch_merge_rerun(orch_rerun_result *out, orch_store *store,
                     const char *plan, const char *only);

/*
 * The text of ORCHESTRATE_CONFLICT_FILES for `paths`: each path on a line
 * of its own; a path holding a newline, a double quote, a backslash or
 * another control character is written in double quotes with C escapes, as
 * git quotes such names. Caller frees.
 */
char *orch_merge_conflict_list(const orch_strvec *paths);

/* What orch_merge_rollback did. */
typedef struct {
	int record;      /* the merge record undone */
	int reverted;    /* 1: revert commits were added; 0: branch reset */
	char *into;      /* branch */
	git_oid before;  /* its tip before the rollback */
	git_oid after;   /* its tip after */
	size_t ncommits; /* revert commits added */
} orch_rollback_result;

void orch_rollback_result_clear(orch_rollback_result *result);

/*
 * Undo the plan's last merge not yet undone: when the branch is still at
 * that merge's result, put it back to the commit before by CAS; otherwise,
 * with `revert`, add revert commits of the merge commits on top (later work
 * is kept); without it, ORCH_EINVALID with an explanation and a hint. The
 * tasks go back to done and the record is marked undone. ORCH_ENOTFOUND
 * when the plan has no merge to undo.
 */
int orch_merge_rollback(orch_rollback_result *out, orch_store *store,
                        const char *plan, int revert);

#endif
