/*
 * What a plan's runs achieved, computed from its task states. No I/O: the
 * front end reads the states and prints.
 */
#include "metrics.h"

#include <string.h>

/* From a second to four hours: agents and builds take minutes to hours. */
const double orch_metrics_bucket_s[ORCH_METRICS_NBUCKETS] = {
    1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 14400,
};

/* A state whose last attempt ended the task, with its duration recorded. */
static int ended_by_attempt(orch_state state)
{
	switch (state) {
	case ORCH_STATE_DONE:
	case ORCH_STATE_MERGED:
	case ORCH_STATE_FAILED:
	case ORCH_STATE_TIMEOUT:
	case ORCH_STATE_CONFLICT:
	case ORCH_STATE_REJECTED:
		return 1;
	default:
		return 0;
	}
}

void orch_metrics_compute(orch_metrics *out, const orch_task_state *states,
                          size_t ntasks, int64_t now_ms)
{
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < ntasks; i++) {
		const orch_task_state *st = &states[i];
		int running = st->state == ORCH_STATE_RUNNING && st->started_ms;
		int64_t first = st->first_started_ms ? st->first_started_ms
		                                     : st->started_ms;
		int64_t end = running ? now_ms : st->ended_ms;
		int64_t task = st->attempts_ms;

		if ((int)st->state >= 0 && st->state < ORCH_STATE__COUNT)
			out->counts[st->state]++;
		out->attempts += st->attempts;
		if (running && now_ms > st->started_ms)
			task += now_ms - st->started_ms;
		out->task_ms += task;
		if (first > 0 && (!out->started_ms || first < out->started_ms))
			out->started_ms = first;
		if (first > 0 && end > out->ended_ms)
			out->ended_ms = end;
		if (ended_by_attempt(st->state) && st->duration_ms >= 0) {
			out->duration_count++;
			out->duration_sum_ms += st->duration_ms;
			for (int b = 0; b < ORCH_METRICS_NBUCKETS; b++)
				if (st->duration_ms <=
				    orch_metrics_bucket_s[b] * 1000)
					out->duration_le[b]++;
		}
	}
	if (out->started_ms && out->ended_ms > out->started_ms)
		out->makespan_ms = out->ended_ms - out->started_ms;
	if (out->makespan_ms > 0)
		out->speedup = (double)out->task_ms / (double)out->makespan_ms;
}

void orch_metrics_escape(orch_buf *out, const char *value, int help)
{
	for (const char *p = value; *p; p++) {
		if (*p == '\\')
			orch_buf_puts(out, "\\\\");
		else if (*p == '\n')
			orch_buf_puts(out, "\\n");
		else if (*p == '"' && !help)
			orch_buf_puts(out, "\\\"");
		else
			orch_buf_put(out, p, 1);
	}
}
