#ifndef ORCH_WORKER_H
#define ORCH_WORKER_H

#include <stddef.h>
#include <stdint.h>

#include <git2.h>

#include "config.h"
#include "lease.h"
#include "store.h"
#include "util.h"

/*
 * A worker runs task attempts: in a worktree of its own on a branch of its
 * own, on this machine (worker_local.c) or over SSH (worker_ssh.c). The
 * scheduler talks to every kind through orch_worker_ops only.
 *
 * Life of a job: start -> poll ... until not RUNNING (read_output between)
 * -> finish. cancel may be called while it runs; poll then reports it ended.
 */

typedef struct orch_worker orch_worker;
typedef struct orch_job orch_job;

/* What to run: all borrowed, valid for the call to start. */
typedef struct {
	const char *plan;
	const char *task;
	int attempt;
	const char
	    *base; /* hex commit the branch starts from (in the local repo) */
	const char *branch;  /* "refs/heads/orchestrate/<plan>/<task>" */
	const char *command; /* run with sh -c in the worktree root */
	const char *prompt;  /* or NULL: written to ORCHESTRATE_PROMPT_FILE */
	const char
	    *message; /* commit message of the result (trailers included) */
} orch_job_spec;

typedef enum {
	ORCH_JOB_RUNNING = 0,
	ORCH_JOB_EXITED, /* the command ended; see exit_status, result */
	ORCH_JOB_LOST /* the worker lost it (connection dropped...); see error
	               */
} orch_job_phase;

typedef struct {
	orch_job_phase phase;
	int exit_status; /* exit code, 128+signal when killed */
	int has_result;  /* exit 0 and the result commit is in the local repo */
	git_oid result;  /* result commit, on `branch` in the local repo */
	char error[512]; /* what went wrong, when phase is LOST or no result */
} orch_job_result;

typedef struct {
	/* Start an attempt; *out is the job. ORCH_ERROR with message if not. */
	int (*start)(orch_job **out, orch_worker *worker,
	             const orch_job_spec *spec);
	/* Non-blocking: how the job is doing; on exit 0 the result commit is
	 * made. */
	int (*poll)(orch_job_result *out, orch_worker *worker, orch_job *job);
	/* Append output produced since the last call to *out. */
	int (*read_output)(orch_buf *out, orch_worker *worker, orch_job *job);
	/* Terminate the job's whole process group (TERM, then KILL after a
	 * grace). */
	int (*cancel)(orch_worker *worker, orch_job *job);
	/*
	 * Release the job; remove its worktree unless `keep`, in which case
	 * *out_worktree (may be NULL) gets where it is (caller frees).
	 */
	int (*finish)(orch_worker *worker, orch_job *job, int keep,
	              char **out_worktree);
	/*
	 * Make sure an attempt started by a dead orchestrator (described by
	 * its lease) no longer runs: kill what is left. 0 when it is gone.
	 */
	int (*reap)(orch_worker *worker, const orch_lease *lease);
	/*
	 * Optional (may be NULL: reap is used instead). Take over an attempt
	 * started by a dead orchestrator, described by its lease and `spec`:
	 * *out is a job to poll as usual when the attempt still runs or ended
	 * with an exit status that can be collected; ORCH_ENOTFOUND when
	 * nothing is left of it (it must then be run again).
	 */
	int (*adopt)(orch_job **out, orch_worker *worker,
	             const orch_job_spec *spec, const orch_lease *lease);
	/* Close connections and free the worker. */
	void (*close)(orch_worker *worker);
} orch_worker_ops;

struct orch_worker {
	const orch_worker_ops *ops;
	char *name;
	int slots;
	orch_strvec capabilities;
	int running; /* jobs started and not finished (kept by the scheduler) */
	int down;    /* unusable now */
	char down_reason[256];
};

/*
 * Open the worker described by `config` for repository `repo` (borrowed).
 * `token` identifies this orchestrator run (for pid files and leases).
 */
int orch_worker_open(orch_worker **out, const orch_worker_config *config,
                     git_repository *repo, const char *token);

/* 1 when the worker has every capability in `needs`. */
int orch_worker_can_run(const orch_worker *worker, const orch_strvec *needs);

/* Implementations, called by orch_worker_open only. */
int orch_worker_local_new(orch_worker **out, const orch_worker_config *config,
                          git_repository *repo, const char *token);
int orch_worker_ssh_new(orch_worker **out, const orch_worker_config *config,
                        git_repository *repo, const char *token);

/* Where a local attempt of plan/task writes its pid file (caller frees). */
char *orch_worker_local_pid_path(git_repository *repo, const char *plan,
                                 const char *task);

/* Remove a local worktree kept for a failed task, given its path (clean). */
int orch_worker_local_remove(git_repository *repo, const char *path);

/* Fields every implementation shares: set name, slots, capabilities. */
void orch_worker_base_init(orch_worker *worker, const orch_worker_ops *ops,
                           const orch_worker_config *config, int default_slots);
void orch_worker_base_clear(orch_worker *worker);

#endif
