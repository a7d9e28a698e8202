#ifndef ORCH_STORE_H
#define ORCH_STORE_H

#include <stddef.h>
#include <stdint.h>

#include <git2.h>

#include "plan.h"
#include "util.h"

/*
 * The store: everything git-orchestrate knows, kept in the repository
 * (SPEC 5).
 *
 *   refs/orchestrate/plans/<plan>      one commit per state change; tree:
 *       plan.json                      the normalized plan
 *       tasks/<id>.json                one file per task (state)
 *       logs/<id>.log                  last 1 MiB of the task's output
 *       merges/<n>.json                merge records
 *     Plans of more than ORCH_STORE_FLAT_MAX tasks fan tasks/ and logs/ out
 *     into 256 subdirectories (tasks/<xx>/<id>.json) so that one update
 *     rewrites a few small trees, not one of 100,000 entries. <xx> is the
 *     low byte, in lowercase hex, of the 32-bit FNV-1a hash of the id's
 *     bytes; orch_store_task_path() is the one place that decides.
 *   refs/orchestrate/locks/<plan>/task/<id>   lease of a running task
 *   refs/orchestrate/locks/<plan>/file/<key>  lock of overlapping files
 *   refs/notes/orchestrate             notes on result and merge commits
 *
 * Every ref update is a compare-and-swap on the value read; a lost race
 * re-reads and retries (orch_store_update).
 */

#define ORCH_STORE_FLAT_MAX 1000
#define ORCH_NOTES_REF "refs/notes/orchestrate"
#define ORCH_LOG_MAX (1024 * 1024)

typedef enum {
	ORCH_STATE_PENDING = 0,
	ORCH_STATE_READY,
	ORCH_STATE_RUNNING,
	ORCH_STATE_DONE,
	ORCH_STATE_FAILED,
	ORCH_STATE_TIMEOUT,
	ORCH_STATE_CANCELLED,
	ORCH_STATE_SKIPPED,
	ORCH_STATE_CONFLICT,
	ORCH_STATE_REJECTED,
	ORCH_STATE_MERGED,
	ORCH_STATE__COUNT
} orch_state;

const char *orch_state_name(orch_state state);
/* 0 and *out, or -1 for an unknown name. */
int orch_state_parse(orch_state *out, const char *name);
/* 1 for states a task does not leave by itself (done and after, failed...). */
int orch_state_is_final(orch_state state);

/*
 * The state of one task: the content of tasks/<id>.json. A field added
 * here is added to the states cache too (store_cache.c).
 */
typedef struct {
	orch_state state;
	int attempts;    /* attempts started so far */
	int interrupted; /* of them, ended by no fault of the task (its
	                    orchestrator or worker lost, its lease broken):
	                    they use none of its retries */
	char *worker;    /* worker of the last attempt, or NULL */
	int64_t
	    started_ms; /* wall clock of the last attempt's start, 0 if none */
	int64_t ended_ms;    /* 0 if not ended */
	int64_t duration_ms; /* of the last finished attempt, -1 if none */
	int exit_status;     /* of the last attempt, -1 if none */
	char *commit;        /* result commit (hex), or NULL */
	char *base;          /* commit the last attempt started from, or NULL */
	char *error;         /* why it failed, or NULL */
	char *worktree;      /* kept worktree of a failed attempt, or NULL */
	int64_t not_before_ms; /* retry backoff: not to start before */
	orch_strvec paths;     /* conflicting paths (state conflict) */
	/* Re-run on conflict (merge --rerun, merge = auto-rerun): how many
	 * re-runs so far, the base commit the re-run starts from and the
	 * paths it is to resolve (ORCHESTRATE_CONFLICT_FILES); a retry
	 * clears them. */
	int reruns;
	char *rerun_base;
	orch_strvec rerun_paths;
	orch_strvec workers_tried;
	/* What all attempts took (the run's makespan and task time). */
	int64_t first_started_ms; /* wall clock of the first attempt's start */
	int64_t attempts_ms;      /* sum of the durations of those that ended */
	/* What the last finished attempt's command used, -1 when not known:
	 * CPU time (user + system) and peak resident set size. */
	int64_t cpu_ms;
	int64_t max_rss_kb;
} orch_task_state;

void orch_task_state_init(orch_task_state *state);
void orch_task_state_clear(orch_task_state *state);
void orch_task_state_copy(orch_task_state *dst, const orch_task_state *src);
/*
 * JSON of one state (no id: the file name carries it), one line with keys in
 * a fixed order and default fields left out, so equal states are equal
 * bytes (one shared blob). free() the result.
 */
char *orch_task_state_to_json(const orch_task_state *state);
/* Parse a state into *out (initialised; its old values are replaced). */
int orch_task_state_from_json(orch_task_state *out, const char *json,
                              size_t len);

typedef struct orch_store orch_store;

/* Open the store of `repo` (borrowed: must outlive the store). */
int orch_store_open(orch_store **out, git_repository *repo);
/*
 * Open a store whose plan refs live under `plans_prefix` (e.g. a private
 * namespace fetched from a remote, "refs/orchestrate-sync/<key>/plans/")
 * instead of refs/orchestrate/plans/; for reading. Free with
 * orch_store_free.
 */
int orch_store_open_prefix(orch_store **out, git_repository *repo,
                           const char *plans_prefix);
void orch_store_free(orch_store *store);
git_repository *orch_store_repo(orch_store *store);
/*
 * From now on (a run), the file of a ref this store replaces or deletes
 * (plan states, leases, notes) keeps its inode under a second name in a
 * trash until the store is freed: on ext4 without a journal every freed
 * inode makes the files made in the next minutes slower (trash.h).
 */
void orch_store_keep_replaced(orch_store *store);

/*
 * Shared remote mode (SPEC 8, run --remote): from now on every transition
 * of a plan is pushed to `remote` by compare-and-swap (and re-applied on
 * the remote's new state after a rejection), leases are taken, renewed and
 * broken on `remote`, and the local plan and lock refs are a mirror of the
 * remote's, refreshed by orch_store_refresh. NULL: back to local.
 */
void orch_store_set_remote(orch_store *store, const char *remote);
/*
 * Run plan `plan` stored on `remote` from now on (orch_store_set_remote),
 * after fetching it. ORCH_ENOTFOUND, with a hint, when the remote has no
 * such plan; ORCH_ERROR when it cannot be reached.
 */
int orch_store_attach_remote(orch_store *store, const char *remote,
                             const char *plan);
/* The shared remote, or NULL. */
const char *orch_store_remote(const orch_store *store);
/*
 * Fetch plan `plan`'s ref and leases from the shared remote into the local
 * mirror: always when `force`, else at most every ORCH_REFRESH_MS. 0 without
 * a remote.
 */
int orch_store_refresh(orch_store *store, const char *plan, int force);
#define ORCH_REFRESH_MS 250

/* Names of the stored plans, sorted, appended to *out. */
int orch_store_list_plans(orch_strvec *out, orch_store *store);

/*
 * Store `plan` (already validated; base_commit set) as a new plan ref with
 * every task pending or ready. If the plan exists: replaced when
 * `replace` is set and no task of it has started, else ORCH_EEXISTS with a
 * message and hint. Atomic: the ref is created or replaced by CAS.
 */
int orch_store_create_plan(orch_store *store, const orch_plan *plan,
                           int replace);

/*
 * A plan that names no agent (always the case with --prompts) and has a
 * task without a `run` takes git's `orchestrate.agent` setting, so
 * prompt-only tasks have a command. A plan whose tasks all have a `run`
 * is left without one.
 */
int orch_store_default_agent(orch_plan *plan, orch_store *store);
/*
 * Record plan->base_commit: the tip of plan->base now (the current branch
 * when the plan names none). ORCH_EINVALID when there is no such branch,
 * HEAD is detached or the repository has no commit.
 */
int orch_store_resolve_base(orch_plan *plan, orch_store *store);

/*
 * Read plan.json of plan `name` at its current head; *out_head (may be
 * NULL) gets that head. ORCH_ENOTFOUND names the plan and hints at
 * `git orchestrate plan`. Caller frees with orch_plan_free.
 */
int orch_store_load_plan(orch_plan **out, git_oid *out_head, orch_store *store,
                         const char *name);

/*
 * Plan `name` again when its plan.json changed (`git orchestrate set`):
 * *head and *blob are the plan ref's head and the plan.json blob last seen
 * (zero oids at first), both brought up to date. *out gets the new plan
 * (caller frees with orch_plan_free), or NULL when plan.json is still
 * *blob. `seen` (may be NULL: the ref is read) is the head the caller just
 * read (orch_store_read_states gives it): then an unchanged head costs
 * nothing, a changed one a commit and tree lookup.
 */
int orch_store_reload_plan(orch_plan **out, git_oid *head, git_oid *blob,
                           orch_store *store, const char *name,
                           const git_oid *seen);

/*
 * The state of every task of `plan` at the plan ref's current head, in plan
 * order, into `states` (plan->ntasks entries, initialised by the caller with
 * orch_task_state_init or holding earlier values, which are replaced).
 * Parsed blobs are cached by oid, so re-reading after a few changes is cheap.
 */
int orch_store_read_states(orch_task_state *states, git_oid *out_head,
                           orch_store *store, const orch_plan *plan);

/*
 * What a long-lived reader of one plan's states (a run) read last: the
 * head, the tasks tree, each fan-out subtree and each task's blob. Read
 * with it, an unchanged head costs a ref lookup, and a changed one only
 * the subtrees and tasks that changed: not a walk and copy of every
 * task's state on each transition. The `states` array given with it must
 * be the same each time and changed by nothing else.
 */
typedef struct orch_states_reader orch_states_reader;

orch_states_reader *orch_states_reader_new(const orch_plan *plan);
void orch_states_reader_free(orch_states_reader *reader);
/* orch_store_read_states, reading only what changed since the last call. */
int orch_store_read_states_since(orch_task_state *states, git_oid *out_head,
                                 orch_store *store, const orch_plan *plan,
                                 orch_states_reader *reader);
/*
 * The tasks whose state the last orch_store_read_states_since with
 * `reader` changed (every task the first time), *count of them.
 */
const size_t *orch_states_reader_changed(const orch_states_reader *reader,
                                         size_t *count);

/* A transaction on a plan ref, given to an orch_store_update callback. */
typedef struct orch_txn orch_txn;

/*
 * Return 0 to commit what the callback put, ORCH_ENOCHANGE to commit
 * nothing, or another negative code to abort. The callback may run several
 * times (once per lost race); it must decide from what it reads in `txn`.
 */
typedef int (*orch_store_update_cb)(orch_txn *txn, void *payload);

/*
 * Run `cb` on the plan's current head and commit its changes as one commit
 * with a compare-and-swap of refs/orchestrate/plans/<plan>; on a lost race,
 * back off briefly and run again on the new head. Returns the callback's
 * code, or ORCH_ENOCHANGE when it committed nothing. *out_commit (may be
 * NULL) gets the new head.
 */
int orch_store_update(orch_store *store, const char *plan,
                      orch_store_update_cb cb, void *payload,
                      git_oid *out_commit);

/*
 * Several changes in one commit (SPEC 5: transitions of a short window
 * share one commit): `cb` runs on each of payloads[0..n) in order, on one
 * transaction, each seeing what the ones before it put; results[i] gets
 * what it returned. A change whose callback fails or changes nothing is
 * left out (the others run again without it) and the rest is committed.
 * The commit message is the one change's message, or "N changes" with
 * each change's message one a line after it. Changes of one commit must
 * concern distinct tasks, so that each task's history keeps every
 * transition. Returns 0 when something was committed, ORCH_ENOCHANGE when
 * nothing was, or a negative code when the update itself failed (then no
 * result is meaningful).
 */
int orch_store_update_each(orch_store *store, const char *plan,
                           orch_store_update_cb cb, void *const *payloads,
                           int *results, size_t n, git_oid *out_commit);

const orch_plan *orch_txn_plan(orch_txn *txn);
/* The state of task `id` as of this transaction (including puts). */
int orch_txn_get_task(orch_task_state *out, orch_txn *txn, const char *id);
int orch_txn_put_task(orch_txn *txn, const char *id,
                      const orch_task_state *state);
/*
 * On a shared remote: set `refname` to `oid` there in the same atomic push
 * as this transition (a task's result branch). Locally: nothing (the ref is
 * the caller's to write).
 */
void orch_txn_push_ref(orch_txn *txn, const char *refname, const git_oid *oid);
/*
 * On a shared remote: push this transition only if `refname` still has
 * `oid` there (fencing: a result is recorded only under its own lease).
 */
void orch_txn_expect_ref(orch_txn *txn, const char *refname,
                         const git_oid *oid);
/*
 * On a shared remote: delete `refname` there in the same atomic push, only
 * if it still is `oid` (a lease given back with the outcome it fences).
 */
void orch_txn_delete_ref(orch_txn *txn, const char *refname,
                         const git_oid *oid);
/* Write a file into the state tree (e.g. "merges/3.json"). */
int orch_txn_put_file(orch_txn *txn, const char *path, const void *bytes,
                      size_t len);
/* Task output log (only the last ORCH_LOG_MAX bytes are kept). */
int orch_txn_put_log(orch_txn *txn, const char *id, const void *bytes,
                     size_t len);
/* Read a file of the state tree; ORCH_ENOTFOUND when absent. */
int orch_txn_read_file(orch_buf *out, orch_txn *txn, const char *path);
/* The one-line commit message for this change (printf format). */
void orch_txn_message(orch_txn *txn, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Read a file of the plan's state tree at its head (e.g. a log). */
int orch_store_read_file(orch_buf *out, orch_store *store, const char *plan,
                         const char *path);
/*
 * The same for a file that may be absent: then *found is 0 and nothing is
 * an error (no message is set).
 */
int orch_store_read_file_if(orch_buf *out, int *found, orch_store *store,
                            const char *plan, const char *path);
/*
 * Names of the files directly under directory `dir` of the plan's state tree
 * (e.g. "workers"), in tree order, appended to *out; none when it is absent.
 */
int orch_store_list_dir(orch_strvec *out, orch_store *store, const char *plan,
                        const char *dir);
/* Path of task `id`'s state file / log within the state tree (static buffer).
 */
int orch_store_task_path(char *out, size_t outlen, const orch_plan *plan,
                         const char *id);
int orch_store_log_path(char *out, size_t outlen, const orch_plan *plan,
                        const char *id);

/*
 * The ref name of stored plan `plan` ("refs/orchestrate/plans/<plan>") into
 * `out`; ORCH_ENOTFOUND, naming the plan, when it is not stored.
 */
int orch_store_plan_ref(char *out, size_t outlen, orch_store *store,
                        const char *plan);

/*
 * At the end of a run: pack what it wrote that is still loose, merge the
 * packs the store wrote during it into one, and pack the refs. Safe beside
 * other processes using the repository.
 */
int orch_store_finish(orch_store *store);

/*
 * Objects written through `other`, another handle on the repository of
 * `repo` (a worktree's), go into the run's packs like the store's own
 * (store_pack.c). Nothing when no store of `repo` is open.
 */
int orch_store_record_objects_of(git_repository *other, git_repository *repo);

/* Delete a plan's ref (and its locks), by CAS on its current value. */
int orch_store_delete_plan(orch_store *store, const char *plan);

#endif
