#ifndef ORCH_PLANS_H
#define ORCH_PLANS_H

#include <stdint.h>

#include <git2.h>

#include "config.h"
#include "store.h"

/*
 * The stored plans as a whole: what `git orchestrate plans` lists and what
 * `git orchestrate forget` deletes.
 */

/* One stored plan at its current head. */
typedef struct {
	char *name;
	char *base;        /* base branch, or NULL */
	char *base_commit; /* recorded base commit (hex), or NULL */
	size_t ntasks;
	size_t counts[ORCH_STATE__COUNT]; /* tasks by state */
	char head[GIT_OID_HEXSZ + 1];     /* the plan ref's commit */
	int64_t changed_ms;               /* its commit time */
	char *change;                     /* its subject: the last change */
	int running; /* 1 when a live lease of the plan is held */
} orch_plan_summary;

/*
 * Every stored plan, sorted by name, into *out (*count entries; free with
 * orch_plans_free).
 */
int orch_plans_list(orch_plan_summary **out, size_t *count, orch_store *store);
void orch_plans_free(orch_plan_summary *list, size_t count);

/* A task branch deleted by orch_plans_forget. */
typedef struct {
	char *task;
	char commit[GIT_OID_HEXSZ + 1]; /* what it pointed to */
} orch_forgotten_branch;

typedef struct {
	orch_forgotten_branch *branches; /* deleted branches of unmerged
	                                    tasks, with their commits */
	size_t nbranches;
	int merged; /* branches of merged tasks deleted (the work is in base) */
	int worktrees; /* kept worktrees removed */
	int locks;     /* stale leases and locks removed */
} orch_forget_result;

void orch_forget_result_clear(orch_forget_result *result);

/*
 * Delete stored plan `plan`: the worktrees kept for its failed attempts
 * (by the kind of worker of `config`, may be NULL, that kept them), its
 * task branches (refs/heads/orchestrate/<plan>/<task>), its leases and locks
 * and finally its plan ref. Notes stay (they carry the durations later plans
 * learn from) and so does merged work. ORCH_ENOTFOUND when no such plan is
 * stored; ORCH_ELOCKED, changing nothing, while a live process holds a
 * lease of the plan (the message names the task, host and pid). *out
 * (cleared first) says what went.
 */
int orch_plans_forget(orch_forget_result *out, orch_store *store,
                      const orch_config *config, const char *plan);

/* What is stored of one task: its state and its output. */
typedef struct {
	char state_path[512]; /* tasks/<id>.json (or tasks/<xx>/<id>.json) */
	char log_path[512];   /* logs/<id>.log likewise */
	orch_task_state state;
	int has_log;  /* 0 when no output was recorded */
	orch_buf log; /* the stored output (its last ORCH_LOG_MAX bytes) */
} orch_task_record;

/*
 * Read task `id` of stored plan `plan` into *out (clear it with
 * orch_task_record_clear, also after an error). ORCH_ENOTFOUND, naming
 * them, when the plan is not stored or has no such task.
 */
int orch_plans_read_task(orch_task_record *out, orch_store *store,
                         const char *plan, const char *id);
void orch_task_record_clear(orch_task_record *record);

#endif
