#ifndef ORCH_RUN_H
#define ORCH_RUN_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "lease.h"
#include "metrics.h"
#include "store.h"
#include "util.h"
#include "worker.h"

/*
 * The run loop: dispatches a stored plan's ready tasks onto worker slots
 * (priority, then longest remaining critical path), enforces timeouts,
 * retries with backoff, records every transition in the store under a
 * lease, and resumes what a dead orchestrator left behind. It prints
 * nothing: progress goes to the on_event callback.
 */

typedef enum {
	ORCH_RUN_EVENT_START, /* an attempt started (or was adopted) */
	ORCH_RUN_EVENT_END,   /* an attempt ended; state = what was recorded */
	ORCH_RUN_EVENT_TICK,  /* about once a second, for a live status line */
	ORCH_RUN_EVENT_NOTE   /* something worth a line: message */
} orch_run_event_kind;

typedef struct {
	orch_run_event_kind kind;
	const char *task;   /* START, END */
	const char *worker; /* START, END */
	int attempt;
	orch_state state;    /* END: recorded state (ready again for a retry) */
	int64_t duration_ms; /* END */
	const char *message; /* END: why it failed; NOTE: the note */
	/*
	 * TICK only (they take a pass over the plan): the whole plan's
	 * counts now, time since the run started, the estimate of what is
	 * left (-1 when unknown), and the wall-clock ms until which a rate
	 * limit pauses dispatch (0: none).
	 */
	size_t done, running, queued, failed;
	int64_t elapsed_ms;
	int64_t eta_ms;
	int64_t paused_until_ms;
} orch_run_event;

/*
 * Opens the worker `config` describes for a run, as orch_worker_open does
 * (the default); a test passes its own to drive the loop with fakes.
 */
typedef int (*orch_run_open_worker_fn)(orch_worker **out,
                                       const orch_worker_config *config,
                                       git_repository *repo, const char *token,
                                       int jobs, void *payload);

typedef struct {
	const char *plan;
	int jobs;      /* -j N: slots of this machine's worker; 0: configured */
	int jobs_auto; /* -j auto: this machine's slots follow its load */
	/* -j auto's test knob: a file "LOAD MEM_KB" read instead of the
	 * machine's figures, or NULL */
	const char *autojobs_probe;
	const orch_strvec
	    *only; /* --worker NAME...: use only these (may be NULL) */
	int merge; /* merge each task as soon as it is done */
	volatile int *interrupted; /* set asynchronously to stop (Ctrl-C) */
	void (*on_event)(const orch_run_event *event, void *payload);
	void *payload;
	/* How workers are opened: NULL for orch_worker_open. */
	orch_run_open_worker_fn open_worker;
	void *open_worker_payload;
	/* Knobs for the tests (the front end reads them); 0: the default. */
	int64_t retry_base_ms; /* backoff before the first retry: 1 s */
	int64_t lease_ttl_ms;  /* how long a lease lasts: ORCH_LEASE_TTL_MS */
	int64_t log_flush_ms;  /* running output into the state: every 10 s */
	int64_t rate_limit_first_ms; /* first pause: ORCH_PAUSE_FIRST_MS */
	int crash_before_record;     /* die (SIGKILL) between a result commit
	                                and its record */
	/*
	 * --wait-workers: how long the run waits while every worker able to
	 * run a ready task is down (lost during the run) before it stops
	 * with an error; 0: ORCH_RUN_WAIT_WORKERS_MS, < 0: not at all.
	 */
	int64_t wait_workers_ms;
} orch_run_options;

#define ORCH_RUN_WAIT_WORKERS_MS (10 * 60 * 1000)

typedef struct {
	size_t counts[ORCH_STATE__COUNT];
	int interrupted;
	orch_metrics achieved; /* makespan, task time, speedup of the plan */
	orch_plan_estimate estimate; /* what `plan` estimated; slots 0: none */
} orch_run_summary;

/*
 * Run plan opts->plan until no task can make progress. Returns 0 when the
 * loop ended normally (see summary counts for failures), ORCH_EINTR when
 * interrupted (running attempts were stopped and recorded ready again), or
 * an error: ORCH_ERROR naming each worker when no worker able to run a
 * ready task can be reached at the start, or none came back within
 * opts->wait_workers_ms (the state is saved: a later run resumes). Safe to run
 * concurrently with other orchestrators of the same plan: they share the work
 * through leases.
 */
int orch_run(orch_run_summary *out, orch_store *store,
             const orch_config *config, const orch_run_options *opts);

/* What the runs of a plan recorded of a worker (workers/<name>.json). */
typedef struct {
	char *name;
	int down;
	char *reason;   /* why it is down, "" when up */
	int slots;      /* -j auto: the slots it was last given, else 0 */
	char *autojobs; /* -j auto: what they followed, else "" */
} orch_worker_status;

/*
 * The workers recorded in plan `plan`'s state, into *out (*count entries,
 * sorted by name; free with orch_run_workers_free).
 */
int orch_run_read_workers(orch_worker_status **out, size_t *count,
                          orch_store *store, const char *plan);
void orch_run_workers_free(orch_worker_status *list, size_t count);

/*
 * 1 when nobody renews `lease` any more: it expired, or its owner was a
 * process of this host that is gone.
 */
int orch_run_lease_is_stale(const orch_lease *lease);

#endif
