#ifndef ORCH_WORKER_H
#define ORCH_WORKER_H

#include <stddef.h>
#include <stdint.h>

#include <git2.h>

#include "config.h"
#include "util.h"

/*
 * A worker runs task attempts: in a worktree of its own on a branch of its
 * own, on this machine (worker_local.c) or over SSH (worker_ssh.c). The
 * scheduler talks to every kind through orch_worker_ops only.
 *
 * Life of a job: start -> poll ... until not RUNNING (read_output between)
 * -> finish. cancel may be called while it runs; poll then reports it ended.
 *
 * An attempt is named by a locator: an opaque string the worker makes from
 * the job's spec before the attempt starts (locator), which the scheduler
 * keeps in the attempt's lease. An orchestrator that finds the lease of a
 * dead one gives the locator back to reap or adopt what is left of it.
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
	/* a re-run on conflict: the conflicting paths, one a line, written
	 * to the file ORCHESTRATE_CONFLICT_FILES names; or NULL */
	const char *conflicts;
	/* what tasks shared so far (orch_shared_format_context), or NULL:
	 * written to ORCHESTRATE_CONTEXT_FILE (empty without) */
	const char *context;
	/* the plan's setup, or NULL: run with sh -c in the worktree slot
	 * before the command when the slot has not run this very text yet */
	const char *setup;
	const char
	    *message; /* commit message of the result (trailers included) */
	/*
	 * "NAME=VALUE" of the variables the plan, the task and the worker
	 * name in `env` (secrets), or NULL: set for the command, never on a
	 * command line, in a file that outlives the attempt, or in a log.
	 */
	const orch_strvec *env;
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
	/* the slot's setup failed ("setup failed on slot N of worker W: exit
	 * status X" in error): the command did not run, and the worker uses
	 * that slot no more until it is closed */
	int setup_failed;
	/* what the command used, when known (cpu_known, rss_known): CPU time
	 * (user + system) and peak resident set size */
	int64_t cpu_ms, max_rss_kb;
	int cpu_known, rss_known;
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
	/*
	 * Optional (NULL: nothing is shared). Once poll reported the job
	 * ended: append what its command wrote to ORCHESTRATE_SHARE_FILE to
	 * *out. ORCH_EINVALID (nothing appended) when it is more than
	 * ORCH_SHARED_MAX bytes; 0 and nothing when it left none.
	 */
	int (*read_shared)(orch_buf *out, orch_worker *worker, orch_job *job);
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
	 * The locator of the attempt `spec` describes, from its plan, task
	 * and attempt only (the rest may be unset); caller frees. Known
	 * before the attempt starts, so that its lease names it before it
	 * can exist. NULL when nothing of it could be found again.
	 */
	char *(*locator)(orch_worker *worker, const orch_job_spec *spec);
	/*
	 * Make sure the attempt at `locator` (started by a dead orchestrator)
	 * no longer runs: kill what is left. 0 when it is gone.
	 */
	int (*reap)(orch_worker *worker, const char *locator);
	/*
	 * Optional (may be NULL: reap is used instead). Take over the attempt
	 * at `locator`, started by a dead orchestrator and described by
	 * `spec`: *out is a job to poll as usual when the attempt still runs
	 * or ended with an exit status that can be collected; ORCH_ENOTFOUND
	 * when nothing is left of it (it must then be run again).
	 */
	int (*adopt)(orch_job **out, orch_worker *worker,
	             const orch_job_spec *spec, const char *locator);
	/*
	 * Optional (NULL: ready when opened). Wait for the end of the first
	 * connection attempt `open` started: 0 when the worker is usable or
	 * merely unreachable for now (down, retried), ORCH_EINVALID (message
	 * set) for what a user must fix (authentication, host key). Opening
	 * several workers first and waiting afterwards connects them in
	 * parallel.
	 */
	int (*ready)(orch_worker *worker);
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
	char down_reason[256]; /* why, without the worker's name */
};

/* A fact `workers check` found about a worker (see orch_worker_check). */
typedef enum {
	ORCH_FACT_TEXT = 0,
	ORCH_FACT_BOOL,
	ORCH_FACT_NUMBER
} orch_fact_type;

typedef struct {
	const char *key;   /* JSON key (static), or NULL: shown as text only */
	const char *label; /* text label (static), or NULL: JSON only */
	orch_fact_type type;
	char *value;   /* TEXT: the value; also what the label shows */
	double number; /* BOOL (0 or 1) and NUMBER */
	char *shown;   /* what the label shows when not `value`, or NULL */
} orch_worker_fact;

/* What `workers check` found about one worker (orch_worker_check_clear). */
typedef struct {
	char *summary; /* one line: where it is ("local, 4 slots", "u@h:22") */
	orch_worker_fact *facts;
	size_t nfacts;
} orch_worker_check_report;

/* Add a fact to a report; strings are copied (NULL `shown`: value). */
void orch_worker_check_text(orch_worker_check_report *report, const char *key,
                            const char *label, const char *value,
                            const char *shown);
void orch_worker_check_bool(orch_worker_check_report *report, const char *key,
                            int value);
void orch_worker_check_number(orch_worker_check_report *report, const char *key,
                              double value);
void orch_worker_check_clear(orch_worker_check_report *report);

/*
 * A kind of worker (local, ssh): what can be done with a configured worker
 * without opening it for a run. orch_worker_kind_of chooses the kind.
 */
typedef struct {
	const char *name; /* "local", "ssh": the kind `workers --json` shows */
	/*
	 * Open the worker `config` describes, for repository `repo`
	 * (borrowed). `token` identifies this orchestrator run; `jobs` (-j N,
	 * 0: as configured) is the number of slots of a worker whose slots
	 * are this machine's (others ignore it).
	 */
	int (*open)(orch_worker **out, const orch_worker_config *config,
	            git_repository *repo, const char *token, int jobs);
	/* Slots of a worker of this kind whose configuration sets none. */
	int (*default_slots)(void);
	/* Where the worker is, for `workers`: "local", "user@host:port". */
	void (*address)(orch_buf *out, const orch_worker_config *config);
	/*
	 * Reach the worker as a run would and describe it into *out (filled
	 * as far as it got, even on failure; caller clears). 0 when usable,
	 * else an error saying why.
	 */
	int (*check)(orch_worker_check_report *out,
	             const orch_worker_config *config, git_repository *repo);
	/*
	 * Remove the worktree kept for a failed attempt, given where finish
	 * said it is (`clean`). 0 when it is gone.
	 */
	int (*remove_kept)(const orch_worker_config *config,
	                   git_repository *repo, const char *location);
	/*
	 * Optional (NULL: none). Append to *out the worktrees kept on this
	 * machine for failed attempts of plan `plan`, as remove_kept takes
	 * them, also those the plan's state no longer names (`clean`).
	 */
	int (*list_kept)(orch_strvec *out, const orch_worker_config *config,
	                 git_repository *repo, const char *plan);
} orch_worker_kind;

extern const orch_worker_kind orch_worker_local_kind;
extern const orch_worker_kind orch_worker_ssh_kind;

/*
 * A sh function for the wrappers of both kinds: `orch_env_file PATH NAMES`
 * exports the KEY=VALUE lines of the worker's env-file PATH ("" for none;
 * "~/" is the home directory), except the names in NAMES (blank-separated:
 * those `env` sets, which win). Blank lines and lines starting with '#' are
 * skipped, "export " before a key is allowed, a value is the rest of the
 * line as it is. The file is read, never run: names are checked and each
 * line is exported as a whole. A bad line fails (status 1, the reason on
 * stderr, without the line's value).
 */
#define ORCH_ENV_FILE_SH                                                       \
	"orch_env_file() {\n"                                                  \
	"  ef_f=$1 ef_n=0\n"                                                   \
	"  case $ef_f in '') return 0 ;; \"~/\"*) ef_f=$HOME/${ef_f#\"~/\"} "  \
	";;"                                                                   \
	" esac\n"                                                              \
	"  [ -r \"$ef_f\" ] && [ ! -d \"$ef_f\" ] || { echo \"error: env-file" \
	" '$ef_f' cannot be read\" >&2; return 1; }\n"                         \
	"  while IFS= read -r ef_l || [ -n \"$ef_l\" ]; do\n"                  \
	"    ef_n=$((ef_n + 1)) ef_l=${ef_l#\"${ef_l%%[! \t]*}\"}\n"           \
	"    case $ef_l in '' | '#'*) continue ;; 'export '*) "                \
	"ef_l=${ef_l#export } ;; esac\n"                                       \
	"    case $ef_l in *=*) ;; *) echo \"error: $ef_f:$ef_n: not a "       \
	"KEY=VALUE line\" >&2; return 1 ;; esac\n"                             \
	"    ef_k=${ef_l%%=*}\n"                                               \
	"    case $ef_k in '' | [0-9]* | *[!A-Za-z0-9_]* | ORCHESTRATE_*) "    \
	"echo \"error: $ef_f:$ef_n: '$ef_k' is not a variable name it may "    \
	"set\" >&2; return 1 ;; esac\n"                                        \
	"    case \" $2 \" in *\" $ef_k \"*) continue ;; esac\n"               \
	"    export \"$ef_k=${ef_l#*=}\"\n"                                    \
	"  done <\"$ef_f\"\n"                                                  \
	"  unset ef_l ef_k\n"                                                  \
	"}\n"

/* The kind of the worker `config` describes (static, never NULL). */
const orch_worker_kind *orch_worker_kind_of(const orch_worker_config *config);

/*
 * Slots of the worker `config` describes when its configuration sets none:
 * its kind's default (CPUs of this machine for local, 1 for ssh).
 */
int orch_worker_default_slots(const orch_worker_config *config);

/*
 * Open the worker described by `config` for repository `repo` (borrowed),
 * through its kind (see orch_worker_kind.open for `token` and `jobs`), and
 * wait until it is ready (ops->ready). The caller closes it with
 * worker->ops->close.
 */
int orch_worker_open(orch_worker **out, const orch_worker_config *config,
                     git_repository *repo, const char *token, int jobs);

/*
 * Open the workers `configs[0..count)` describe, all first, then wait for
 * each to be ready: their connections are made in parallel. *out gets
 * count workers; on an error none is left open (*out NULL).
 */
int orch_worker_open_all(orch_worker ***out,
                         const orch_worker_config *const *configs, size_t count,
                         git_repository *repo, const char *token, int jobs);

/*
 * Point the task branch `branch` at `id` (*out: the reference, caller
 * frees), with reflog message `why`. The caller holds the task's lease, so
 * no live orchestrator writes this branch: a `<branch>.lock` left there is
 * from one killed while it wrote, and is removed. ORCH_ERROR with the
 * message "cannot create branch 'BRANCH': ..." otherwise.
 */
int orch_worker_set_branch(git_reference **out, git_repository *repo,
                           const char *branch, const git_oid *id,
                           const char *why);
/* orch_worker_set_branch at `base` for a new attempt ("start attempt") */
int orch_worker_start_branch(git_reference **out, git_repository *repo,
                             const char *branch, const git_oid *base);

/* 1 when the worker has every capability in `needs`. */
int orch_worker_can_run(const orch_worker *worker, const orch_strvec *needs);

/*
 * Fields every implementation shares: set name, slots (configured, else
 * the kind's default), capabilities. base_clear frees them.
 */
void orch_worker_base_init(orch_worker *worker, const orch_worker_ops *ops,
                           const orch_worker_config *config);
void orch_worker_base_clear(orch_worker *worker);

/*
 * How long an SSH worker waits before it tries to connect again after
 * `failures` failed tries in a row (1 or more): 1 s, doubling, at most
 * 30 s; 30 s at once when the failure is one retrying cannot mend
 * (`hopeless`: a bad configuration or refused key).
 */
int64_t orch_worker_ssh_reconnect_ms(int failures, int hopeless);

#endif
