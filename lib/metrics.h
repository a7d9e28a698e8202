#ifndef ORCH_METRICS_H
#define ORCH_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"
#include "util.h"

/*
 * What a plan's runs achieved, from its stored task states (SPEC 6): the
 * makespan, the task time and the speedup that parallelism bought, the
 * tasks by state and the durations behind the Prometheus histogram of
 * `status --format=prometheus`.
 */

/* Upper bounds of the task duration histogram's buckets, in seconds. */
#define ORCH_METRICS_NBUCKETS 12
extern const double orch_metrics_bucket_s[ORCH_METRICS_NBUCKETS];

typedef struct {
	size_t counts[ORCH_STATE__COUNT]; /* tasks by state */
	int64_t attempts;                 /* attempts started, all tasks */
	int64_t started_ms;  /* wall clock of the first attempt's start, 0 when
	                        none started */
	int64_t ended_ms;    /* of the last attempt's end; `now` while one
	                        runs; 0 when none started */
	int64_t makespan_ms; /* ended_ms - started_ms */
	int64_t task_ms;     /* sum of the attempts' durations (the running
	                        ones up to `now`) */
	double speedup;      /* task_ms / makespan_ms; 0 when makespan is 0 */
	/*
	 * The last attempt's duration of each task that ended in it (done,
	 * merged, failed, timeout, conflict, rejected): how many, their sum,
	 * and how many are at most each bound (cumulative, as Prometheus
	 * counts them).
	 */
	size_t duration_count;
	int64_t duration_sum_ms;
	size_t duration_le[ORCH_METRICS_NBUCKETS];
} orch_metrics;

/*
 * Compute *out from the `ntasks` states of a plan in one pass; `now_ms` is
 * the wall clock that running attempts count up to. Cannot fail.
 */
void orch_metrics_compute(orch_metrics *out, const orch_task_state *states,
                          size_t ntasks, int64_t now_ms);

/*
 * Append `value` to *out escaped as the Prometheus text format wants a
 * label value (backslash, double quote and newline), or, with `help`, a
 * HELP text (backslash and newline).
 */
void orch_metrics_escape(orch_buf *out, const char *value, int help);

#endif
