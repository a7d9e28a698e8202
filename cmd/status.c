/* git orchestrate status: the state of a plan's tasks, as a table or JSON. */
#include <float.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cmd.h"
#include "metrics.h"
#include "plan.h"
#include "pause.h"
#include "run.h"
#include "store.h"
#include "sync.h"
#include "util.h"
#include "synopsis.h"

static const char status_usage[] = SYNOPSIS_STATUS;

static int64_t task_duration(const orch_task_state *st, int64_t now)
{
	if (st->state == ORCH_STATE_RUNNING && st->started_ms)
		return now - st->started_ms;
	return st->duration_ms;
}

/* A peak RSS for the table: "640K", "12.5M", "1.2G"; "-" when not known. */
static void format_rss(char *out, size_t outlen, int64_t kb)
{
	if (kb < 0)
		snprintf(out, outlen, "-");
	else if (kb < 1024)
		snprintf(out, outlen, "%lldK", (long long)kb);
	else if (kb < 1024 * 1024)
		snprintf(out, outlen, "%.1fM", kb / 1024.0);
	else
		snprintf(out, outlen, "%.1fG", kb / (1024.0 * 1024.0));
}

/* The workers recorded in the plan's state. */
typedef struct {
	orch_worker_status *list;
	size_t count;
} workers_seen;

/* Point at where a failed task's output is: `git orchestrate log`. */
static void print_log_hint(const orch_plan *plan, const orch_task_state *states)
{
	orch_buf failed = {0};
	const char *first = NULL;
	size_t n = 0;

	for (size_t i = 0; i < plan->ntasks; i++) {
		if (states[i].state != ORCH_STATE_FAILED &&
		    states[i].state != ORCH_STATE_TIMEOUT)
			continue;
		if (!first)
			first = plan->tasks[i].id;
		if (n < 5)
			orch_buf_printf(&failed, "%s%s", n ? ", " : "",
			                plan->tasks[i].id);
		else if (n == 5)
			orch_buf_puts(&failed, ", ...");
		n++;
	}
	if (n == 1)
		printf("hint: 'git orchestrate log %s %s' shows the "
		       "transitions and output of %s\n",
		       plan->name, first, first);
	else if (n > 1)
		printf("hint: 'git orchestrate log %s TASK' shows a failed "
		       "task's transitions and output (%s)\n",
		       plan->name, failed.ptr);
	orch_buf_free(&failed);
}

/* "paused until ... (rate limit: TASK attempt N, why)" */
static void pause_text(char *out, size_t outlen, const orch_pause *pause)
{
	char until[64];

	orch_format_time(until, sizeof(until), pause->until_ms);
	snprintf(out, outlen, "paused until %s (rate limit: %s attempt %d, %s)",
	         until, pause->task ? pause->task : "?", pause->attempt,
	         pause->reason ? pause->reason : "?");
}

static void print_table(const orch_plan *plan, const orch_task_state *states,
                        const orch_metrics *m, const workers_seen *workers,
                        const orch_pause *pause, int64_t now)
{
	int width = 4;
	char dur[32], achieved[224], cpu[32], rss[32];

	for (size_t i = 0; i < plan->ntasks; i++) {
		int len = (int)strlen(plan->tasks[i].id);
		if (len > width)
			width = len;
	}
	if (width > 40)
		width = 40;
	printf("plan %s (base %s)\n", plan->name,
	       plan->base ? plan->base : "?");
	printf("%-*s  %-9s  %8s  %-12s  %9s  %8s  %7s\n", width, "TASK",
	       "STATE", "ATTEMPTS", "WORKER", "DURATION", "CPU", "MAX RSS");
	for (size_t i = 0; i < plan->ntasks; i++) {
		const orch_task_state *st = &states[i];
		int64_t d = task_duration(st, now);
		orch_format_duration(dur, sizeof(dur), d);
		if (st->cpu_ms >= 0)
			orch_format_duration(cpu, sizeof(cpu), st->cpu_ms);
		else
			snprintf(cpu, sizeof(cpu), "-");
		format_rss(rss, sizeof(rss), st->max_rss_kb);
		printf("%-*s  %-9s  %8d  %-12s  %9s  %8s  %7s", width,
		       plan->tasks[i].id, orch_state_name(st->state),
		       st->attempts, st->worker ? st->worker : "-", dur, cpu,
		       rss);
		if (st->state == ORCH_STATE_CONFLICT && st->paths.count) {
			printf("  conflicts in");
			for (size_t k = 0; k < st->paths.count; k++)
				printf(" %s", st->paths.items[k]);
		} else if (st->error && !orch_state_is_final(st->state) &&
		           st->state != ORCH_STATE_RUNNING) {
			printf("  last: %s", st->error);
		} else if (st->error && st->state != ORCH_STATE_DONE &&
		           st->state != ORCH_STATE_MERGED) {
			printf("  %s", st->error);
		}
		if (st->reruns)
			printf("  (re-run %d on conflict)", st->reruns);
		if (st->worktree)
			printf("  (worktree kept: %s)", st->worktree);
		printf("\n");
	}
	printf("%zu task%s:", plan->ntasks, plan->ntasks == 1 ? "" : "s");
	for (int s = 0; s < ORCH_STATE__COUNT; s++)
		if (m->counts[s])
			printf(" %zu %s", m->counts[s],
			       orch_state_name((orch_state)s));
	cli_format_achieved(achieved, sizeof(achieved), m, &plan->estimate);
	printf("; %s\n", achieved);
	if (orch_pause_active(pause, now)) {
		char text[512];
		pause_text(text, sizeof(text), pause);
		printf("%s\n", text);
	}
	for (size_t i = 0; i < workers->count; i++) {
		const orch_worker_status *ws = &workers->list[i];
		if (ws->down)
			printf("worker %s is down: %s\n", ws->name, ws->reason);
		else if (ws->slots)
			printf("worker %s: %d slot%s (-j auto: %s)\n", ws->name,
			       ws->slots, ws->slots == 1 ? "" : "s",
			       ws->autojobs);
	}
	print_log_hint(plan, states);
}

/*
 * The tasks of status --json are printed here, byte for byte as cJSON_Print
 * prints them inside the document (a task object two levels deep, members
 * one tab further, "key":<tab>value), without building a cJSON object for
 * each: for 10,000 tasks that was a fifth of the time of status --json.
 */

/* A string as cJSON prints it: these escapes, other bytes as they are. */
static void put_string(orch_buf *out, const char *text)
{
	orch_buf_put(out, "\"", 1);
	for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
		switch (*p) {
		case '"':
			orch_buf_puts(out, "\\\"");
			break;
		case '\\':
			orch_buf_puts(out, "\\\\");
			break;
		case '\b':
			orch_buf_puts(out, "\\b");
			break;
		case '\f':
			orch_buf_puts(out, "\\f");
			break;
		case '\n':
			orch_buf_puts(out, "\\n");
			break;
		case '\r':
			orch_buf_puts(out, "\\r");
			break;
		case '\t':
			orch_buf_puts(out, "\\t");
			break;
		default:
			if (*p < 32)
				orch_buf_printf(out, "\\u%04x", *p);
			else
				orch_buf_put(out, (const char *)p, 1);
		}
	}
	orch_buf_put(out, "\"", 1);
}

/* A number as cJSON prints it (its int, else 15 digits if they are exact). */
static void put_number(orch_buf *out, double value)
{
	int as_int = value >= INT_MAX           ? INT_MAX
	             : value <= (double)INT_MIN ? INT_MIN
	                                        : (int)value;
	char text[64];
	double back = 0;

	if (value == (double)as_int) {
		/* "%d" without printf: a status prints 10,000 tasks */
		char *at = text + sizeof(text);
		unsigned magnitude =
		    as_int < 0 ? 0u - (unsigned)as_int : (unsigned)as_int;
		do {
			*--at = (char)('0' + magnitude % 10);
			magnitude /= 10;
		} while (magnitude);
		if (as_int < 0)
			*--at = '-';
		orch_buf_put(out, at, (size_t)(text + sizeof(text) - at));
		return;
	}
	snprintf(text, sizeof(text), "%1.15g", value);
	if (sscanf(text, "%lg", &back) != 1 ||
	    fabs(back - value) >
	        (fabs(back) > fabs(value) ? fabs(back) : fabs(value)) *
	            DBL_EPSILON)
		snprintf(text, sizeof(text), "%1.17g", value);
	orch_buf_puts(out, text);
}

/* The key of the next member of a task object. */
static void put_key(orch_buf *out, int *members, const char *key)
{
	orch_buf_puts(out, (*members)++ ? ",\n\t\t\t\"" : "{\n\t\t\t\"");
	orch_buf_puts(out, key);
	orch_buf_puts(out, "\":\t");
}

/* A list of strings, as cJSON prints it. */
static void put_strings(orch_buf *out, const orch_strvec *list)
{
	orch_buf_put(out, "[", 1);
	for (size_t k = 0; k < list->count; k++) {
		if (k)
			orch_buf_puts(out, ", ");
		put_string(out, list->items[k]);
	}
	orch_buf_put(out, "]", 1);
}

/* One task of status --json. */
static void put_task(orch_buf *out, const orch_task *task,
                     const orch_task_state *st)
{
	int n = 0;

	put_key(out, &n, "id");
	put_string(out, task->id);
	put_key(out, &n, "state");
	put_string(out, orch_state_name(st->state));
	put_key(out, &n, "attempts");
	put_number(out, st->attempts);
	put_key(out, &n, "worker");
	if (st->worker)
		put_string(out, st->worker);
	else
		orch_buf_puts(out, "null");
	put_key(out, &n, "commit");
	if (st->commit)
		put_string(out, st->commit);
	else
		orch_buf_puts(out, "null");
	if (st->duration_ms >= 0) {
		put_key(out, &n, "duration_ms");
		put_number(out, (double)st->duration_ms);
	}
	if (st->exit_status >= 0) {
		put_key(out, &n, "exit");
		put_number(out, st->exit_status);
	}
	if (st->cpu_ms >= 0) {
		put_key(out, &n, "cpu_ms");
		put_number(out, (double)st->cpu_ms);
	}
	if (st->max_rss_kb >= 0) {
		put_key(out, &n, "max_rss_kb");
		put_number(out, (double)st->max_rss_kb);
	}
	if (st->error) {
		put_key(out, &n, "error");
		put_string(out, st->error);
	}
	if (st->worktree) {
		put_key(out, &n, "worktree");
		put_string(out, st->worktree);
	}
	if (st->reruns) {
		put_key(out, &n, "rerun_paths");
		put_strings(out, &st->rerun_paths);
		put_key(out, &n, "reruns");
		put_number(out, st->reruns);
	}
	if (st->paths.count) {
		put_key(out, &n, "paths");
		put_strings(out, &st->paths);
	}
	orch_buf_puts(out, "\n\t\t}");
}

/*
 * Print `text`, a document cJSON_Print made with an empty "tasks" list
 * among the members of its top object, with the tasks put into that list:
 * one tree of 100,000 tasks would be most of the memory.
 */
static void print_with_tasks(const char *text, const orch_plan *plan,
                             const orch_task_state *states)
{
	static const char marker[] = "\n\t\"tasks\":\t[]";
	const char *at = strstr(text, marker);
	orch_buf out = {0};

	if (!at)
		abort(); /* the caller put the member there */
	orch_buf_put(&out, text, (size_t)(at - text) + sizeof(marker) - 2);
	for (size_t i = 0; i < plan->ntasks; i++) {
		if (i)
			orch_buf_puts(&out, ", ");
		put_task(&out, &plan->tasks[i], &states[i]);
		if (out.len > 65536) {
			fwrite(out.ptr, 1, out.len, stdout);
			orch_buf_clear(&out);
		}
	}
	orch_buf_puts(&out, at + sizeof(marker) - 2);
	fwrite(out.ptr, 1, out.len, stdout);
	orch_buf_free(&out);
}

static void print_json(const orch_plan *plan, const orch_task_state *states,
                       const orch_metrics *m, const workers_seen *workers,
                       const orch_pause *pause, int64_t now)
{
	cJSON *root = cJSON_CreateObject(), *counts, *list, *achieved;
	char *text;

	cJSON_AddStringToObject(root, "plan", plan->name);
	if (plan->base)
		cJSON_AddStringToObject(root, "base", plan->base);
	if (plan->base_commit)
		cJSON_AddStringToObject(root, "base_commit", plan->base_commit);
	cJSON_AddArrayToObject(root, "tasks"); /* filled as printed */
	counts = cJSON_AddObjectToObject(root, "counts");
	for (int s = 0; s < ORCH_STATE__COUNT; s++)
		cJSON_AddNumberToObject(counts, orch_state_name((orch_state)s),
		                        (double)m->counts[s]);
	achieved = cJSON_AddObjectToObject(root, "achieved");
	cJSON_AddNumberToObject(achieved, "attempts", (double)m->attempts);
	if (m->started_ms) {
		cJSON_AddNumberToObject(achieved, "started",
		                        (double)m->started_ms);
		cJSON_AddNumberToObject(achieved, "ended", (double)m->ended_ms);
	} else {
		cJSON_AddNullToObject(achieved, "started");
		cJSON_AddNullToObject(achieved, "ended");
	}
	cJSON_AddNumberToObject(achieved, "makespan_ms",
	                        (double)m->makespan_ms);
	cJSON_AddNumberToObject(achieved, "task_ms", (double)m->task_ms);
	cJSON_AddNumberToObject(achieved, "speedup", m->speedup);
	/* what `plan` estimated; null for plans stored without it */
	if (plan->estimate.slots > 0) {
		cJSON *est = cJSON_AddObjectToObject(root, "estimate");
		cJSON_AddNumberToObject(est, "makespan_ms",
		                        (double)plan->estimate.makespan_ms);
		cJSON_AddNumberToObject(est, "slots", plan->estimate.slots);
		cJSON_AddNumberToObject(est, "serial_ms",
		                        (double)plan->estimate.serial_ms);
	} else {
		cJSON_AddNullToObject(root, "estimate");
	}
	/* a rate limit's pause of dispatch: null when none holds it now */
	if (orch_pause_active(pause, now)) {
		cJSON *p = cJSON_AddObjectToObject(root, "paused");
		char text[512];
		cJSON_AddNumberToObject(p, "until_ms", (double)pause->until_ms);
		pause_text(text, sizeof(text), pause);
		cJSON_AddStringToObject(p, "text", text);
		cJSON_AddStringToObject(p, "task",
		                        pause->task ? pause->task : "");
		cJSON_AddNumberToObject(p, "attempt", pause->attempt);
		cJSON_AddStringToObject(p, "reason",
		                        pause->reason ? pause->reason : "");
	} else {
		cJSON_AddNullToObject(root, "paused");
	}
	list = cJSON_AddArrayToObject(root, "workers");
	for (size_t i = 0; i < workers->count; i++) {
		cJSON *w = cJSON_CreateObject();
		cJSON_AddStringToObject(w, "name", workers->list[i].name);
		cJSON_AddBoolToObject(w, "down", workers->list[i].down);
		cJSON_AddStringToObject(w, "reason", workers->list[i].reason);
		if (workers->list[i].slots) { /* -j auto */
			cJSON_AddNumberToObject(w, "slots",
			                        workers->list[i].slots);
			cJSON_AddStringToObject(w, "auto",
			                        workers->list[i].autojobs);
		}
		cJSON_AddItemToArray(list, w);
	}
	text = cJSON_Print(root);
	if (!text)
		abort(); /* cJSON fails only when out of memory */
	print_with_tasks(text, plan, states);
	printf("\n");
	cJSON_free(text);
	cJSON_Delete(root);
}

/*
 * Add the workers that ran an attempt of the plan to those its runs
 * recorded (a worker is recorded only when it goes down or comes back), so
 * a plan run on the local worker alone lists it.
 */
static void add_workers_used(workers_seen *workers, const orch_plan *plan,
                             const orch_task_state *states)
{
	for (size_t i = 0; i < plan->ntasks; i++) {
		const orch_task_state *st = &states[i];
		for (size_t k = 0; k <= st->workers_tried.count; k++) {
			const char *name = k < st->workers_tried.count
			                       ? st->workers_tried.items[k]
			                       : st->worker;
			size_t at = 0;
			if (!name)
				continue;
			while (at < workers->count &&
			       strcmp(workers->list[at].name, name) < 0)
				at++;
			if (at < workers->count &&
			    !strcmp(workers->list[at].name, name))
				continue;
			workers->list = orch_realloc(
			    workers->list,
			    (workers->count + 1) * sizeof(*workers->list));
			memmove(&workers->list[at + 1], &workers->list[at],
			        (workers->count - at) * sizeof(*workers->list));
			workers->list[at].name = orch_strdup(name);
			workers->list[at].down = 0;
			workers->list[at].reason = orch_strdup("");
			workers->list[at].slots = 0;
			workers->list[at].autojobs = orch_strdup("");
			workers->count++;
		}
	}
}

/* One plan's figures for the Prometheus exposition. */
typedef struct {
	char *name;
	orch_metrics metrics;
	workers_seen workers;
	int64_t paused_until_ms; /* a rate limit's pause, 0 when none now */
} plan_figures;

static int collect_figures(plan_figures *out, orch_store *store,
                           const char *name)
{
	orch_plan *plan = NULL;
	orch_task_state *states = NULL;
	int error;

	out->name = orch_strdup(name);
	if ((error = orch_store_load_plan(&plan, NULL, store, name)) < 0)
		goto done;
	states = orch_calloc(plan->ntasks + 1, sizeof(*states));
	for (size_t i = 0; i < plan->ntasks; i++)
		orch_task_state_init(&states[i]);
	if ((error = orch_store_read_states(states, NULL, store, plan)) < 0 ||
	    (error = orch_run_read_workers(
	         &out->workers.list, &out->workers.count, store, name)) < 0)
		goto done;
	add_workers_used(&out->workers, plan, states);
	orch_metrics_compute(&out->metrics, states, plan->ntasks,
	                     orch_now_ms());
	{
		orch_pause pause;
		if ((error = orch_pause_read(&pause, store, name)) < 0)
			goto done;
		if (orch_pause_active(&pause, orch_now_ms()))
			out->paused_until_ms = pause.until_ms;
		orch_pause_clear(&pause);
	}
done:
	if (states) {
		for (size_t i = 0; i < plan->ntasks; i++)
			orch_task_state_clear(&states[i]);
		free(states);
	}
	orch_plan_free(plan);
	return error;
}

/* "# HELP" and "# TYPE" of a metric family. */
static void family(orch_buf *out, const char *name, const char *type,
                   const char *help)
{
	orch_buf_printf(out, "# HELP %s ", name);
	orch_metrics_escape(out, help, 1);
	orch_buf_printf(out, "\n# TYPE %s %s\n", name, type);
}

/* `name{plan="P"` with the plan's name escaped; the caller closes it. */
static void sample(orch_buf *out, const char *name, const char *plan)
{
	orch_buf_printf(out, "%s{plan=\"", name);
	orch_metrics_escape(out, plan, 0);
	orch_buf_puts(out, "\"");
}

static void label(orch_buf *out, const char *key, const char *value)
{
	orch_buf_printf(out, ",%s=\"", key);
	orch_metrics_escape(out, value, 0);
	orch_buf_puts(out, "\"");
}

/*
 * The Prometheus text exposition format (version 0.0.4), as node_exporter's
 * textfile collector reads it: each family once, with every plan's samples.
 */
static void print_prometheus(const plan_figures *plans, size_t nplans)
{
	orch_buf out = {0};

	family(&out, "orchestrate_tasks", "gauge",
	       "Tasks of the plan in each state.");
	for (size_t p = 0; p < nplans; p++)
		for (int s = 0; s < ORCH_STATE__COUNT; s++) {
			sample(&out, "orchestrate_tasks", plans[p].name);
			label(&out, "state", orch_state_name((orch_state)s));
			orch_buf_printf(&out, "} %zu\n",
			                plans[p].metrics.counts[s]);
		}
	family(&out, "orchestrate_attempts_total", "counter",
	       "Attempts started of the plan's tasks.");
	for (size_t p = 0; p < nplans; p++) {
		sample(&out, "orchestrate_attempts_total", plans[p].name);
		orch_buf_printf(&out, "} %" PRId64 "\n",
		                plans[p].metrics.attempts);
	}
	family(&out, "orchestrate_task_duration_seconds", "histogram",
	       "Duration of the attempt that ended each task (done, merged, "
	       "failed, timeout, conflict, rejected).");
	for (size_t p = 0; p < nplans; p++) {
		const orch_metrics *m = &plans[p].metrics;
		for (int b = 0; b <= ORCH_METRICS_NBUCKETS; b++) {
			char le[32];
			if (b < ORCH_METRICS_NBUCKETS)
				snprintf(le, sizeof(le), "%g",
				         orch_metrics_bucket_s[b]);
			else
				snprintf(le, sizeof(le), "+Inf");
			sample(&out, "orchestrate_task_duration_seconds_bucket",
			       plans[p].name);
			label(&out, "le", le);
			orch_buf_printf(&out, "} %zu\n",
			                b < ORCH_METRICS_NBUCKETS
			                    ? m->duration_le[b]
			                    : m->duration_count);
		}
		sample(&out, "orchestrate_task_duration_seconds_sum",
		       plans[p].name);
		orch_buf_printf(&out, "} %.3f\n", m->duration_sum_ms / 1000.0);
		sample(&out, "orchestrate_task_duration_seconds_count",
		       plans[p].name);
		orch_buf_printf(&out, "} %zu\n", m->duration_count);
	}
	family(&out, "orchestrate_worker_up", "gauge",
	       "1 when the worker is up, 0 when the plan's runs recorded it "
	       "down.");
	for (size_t p = 0; p < nplans; p++)
		for (size_t w = 0; w < plans[p].workers.count; w++) {
			const orch_worker_status *ws =
			    &plans[p].workers.list[w];
			sample(&out, "orchestrate_worker_up", plans[p].name);
			label(&out, "worker", ws->name);
			orch_buf_printf(&out, "} %d\n", ws->down ? 0 : 1);
		}
	family(&out, "orchestrate_paused_until_seconds", "gauge",
	       "Unix time until which a rate limit pauses the plan's "
	       "dispatch; 0 when it is not paused.");
	for (size_t p = 0; p < nplans; p++) {
		sample(&out, "orchestrate_paused_until_seconds", plans[p].name);
		orch_buf_printf(&out, "} %.3f\n",
		                plans[p].paused_until_ms / 1000.0);
	}
	family(&out, "orchestrate_makespan_seconds", "gauge",
	       "Wall time from the plan's first attempt's start to its last "
	       "attempt's end (to now while one runs).");
	for (size_t p = 0; p < nplans; p++) {
		sample(&out, "orchestrate_makespan_seconds", plans[p].name);
		orch_buf_printf(&out, "} %.3f\n",
		                plans[p].metrics.makespan_ms / 1000.0);
	}
	family(&out, "orchestrate_task_time_seconds", "gauge",
	       "Sum of the durations of the plan's attempts.");
	for (size_t p = 0; p < nplans; p++) {
		sample(&out, "orchestrate_task_time_seconds", plans[p].name);
		orch_buf_printf(&out, "} %.3f\n",
		                plans[p].metrics.task_ms / 1000.0);
	}
	family(&out, "orchestrate_speedup_ratio", "gauge",
	       "Task time divided by makespan: what running in parallel "
	       "bought (0 before anything ran).");
	for (size_t p = 0; p < nplans; p++) {
		sample(&out, "orchestrate_speedup_ratio", plans[p].name);
		orch_buf_printf(&out, "} %.3f\n", plans[p].metrics.speedup);
	}
	fwrite(out.ptr, 1, out.len, stdout);
	orch_buf_free(&out);
}

/*
 * status --format=prometheus: plan `name`, or every stored plan when NULL
 * (none stored: the families without samples).
 */
static int status_prometheus(orch_cli *cli, const char *name)
{
	orch_strvec names = {0};
	plan_figures *plans = NULL;
	int error = 0;

	if (name)
		orch_strvec_push(&names, name);
	else if ((error = orch_store_list_plans(&names, cli->store)) < 0)
		goto done;
	plans = orch_calloc(names.count + 1, sizeof(*plans));
	for (size_t i = 0; i < names.count; i++)
		if ((error = collect_figures(&plans[i], cli->store,
		                             names.items[i])) < 0)
			goto done;
	print_prometheus(plans, names.count);
done:
	if (plans) {
		for (size_t i = 0; i < names.count; i++) {
			free(plans[i].name);
			orch_run_workers_free(plans[i].workers.list,
			                      plans[i].workers.count);
		}
		free(plans);
	}
	orch_strvec_free(&names);
	return error;
}

static int all_final(const orch_plan *plan, const orch_task_state *states)
{
	for (size_t i = 0; i < plan->ntasks; i++)
		if (!orch_state_is_final(states[i].state))
			return 0;
	return 1;
}

int cmd_status(int argc, char **argv, orch_cli *cli)
{
	static const struct option options[] = {
	    {"json", no_argument, NULL, 'J'},
	    {"watch", no_argument, NULL, 'w'},
	    {"remote", required_argument, NULL, 'r'},
	    {"format", required_argument, NULL, 'f'},
	    {NULL, 0, NULL, 0},
	};
	int json = 0, watch = 0, prometheus = 0, opt, error;
	const char *remote = NULL;
	orch_sync_remote *fetched = NULL;
	orch_store *local_store = NULL;
	char *name = NULL;
	orch_plan *plan = NULL;
	orch_task_state *states = NULL;

	if (cli_wants_help(argc, argv, status_usage))
		return 0;
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
		if (opt == 'J')
			json = 1;
		else if (opt == 'w')
			watch = 1;
		else if (opt == 'r')
			remote = optarg;
		else if (opt == 'f' && !strcmp(optarg, "prometheus"))
			prometheus = 1;
		else if (opt == 'f')
			return cli_usage_error(status_usage,
			                       "unknown format '%s' (the only "
			                       "one is 'prometheus')",
			                       optarg);
		else
			return cli_usage_error(status_usage,
			                       "unknown option '%s'",
			                       argv[optind - 1]);
	}
	if (argc - optind > 1)
		return cli_usage_error(status_usage, "unexpected argument '%s'",
		                       argv[optind + 1]);
	if (remote && watch)
		return cli_usage_error(status_usage,
		                       "--watch cannot be used with --remote");
	if (prometheus && (json || watch))
		return cli_usage_error(
		    status_usage,
		    "--format=prometheus cannot be used with "
		    "%s",
		    json ? "--json" : "--watch");
	if ((error = cli_open(cli)) < 0)
		goto fail;
	if (remote) {
		/* the remote's plan refs, fetched aside, stand in for ours */
		orch_store *hub = NULL;
		if ((error = orch_sync_remote_open(&fetched, &hub, cli->repo,
		                                   remote)) < 0)
			goto fail;
		local_store = cli->store;
		cli->store = hub;
	}
	if (prometheus) {
		if (optind < argc && !orch_id_valid(argv[optind])) {
			error = cli_resolve_plan(&name, cli, argv[optind]);
			goto fail;
		}
		if ((error = status_prometheus(cli, optind < argc ? argv[optind]
		                                                  : NULL)) < 0)
			goto fail;
		goto out;
	}
	if ((error = cli_resolve_plan(
	         &name, cli, optind < argc ? argv[optind] : NULL)) < 0 ||
	    (error = orch_store_load_plan(&plan, NULL, cli->store, name)) < 0)
		goto fail;
	states = orch_calloc(plan->ntasks, sizeof(*states));
	for (size_t i = 0; i < plan->ntasks; i++)
		orch_task_state_init(&states[i]);
	if (watch)
		cli_catch_signals();
	for (;;) {
		if ((error = orch_store_read_states(states, NULL, cli->store,
		                                    plan)) < 0)
			goto fail;
		if (watch && !json && cli_is_tty(1))
			printf("\033[H\033[2J");
		workers_seen workers = {0};
		if ((error = orch_run_read_workers(
		         &workers.list, &workers.count, cli->store, name)) < 0)
			goto fail;
		add_workers_used(&workers, plan, states);
		orch_pause pause;
		if ((error = orch_pause_read(&pause, cli->store, name)) < 0) {
			orch_run_workers_free(workers.list, workers.count);
			goto fail;
		}
		int64_t now = orch_now_ms();
		orch_metrics metrics;
		orch_metrics_compute(&metrics, states, plan->ntasks, now);
		if (json)
			print_json(plan, states, &metrics, &workers, &pause,
			           now);
		else
			print_table(plan, states, &metrics, &workers, &pause,
			            now);
		orch_pause_clear(&pause);
		orch_run_workers_free(workers.list, workers.count);
		fflush(stdout);
		if (!watch || all_final(plan, states) || cli_interrupted)
			break;
		sleep(1);
		if (!cli_is_tty(1))
			printf("\n");
	}
	for (size_t i = 0; i < plan->ntasks; i++)
		orch_task_state_clear(&states[i]);
	free(states);
out:
	orch_plan_free(plan);
	free(name);
	if (fetched) {
		cli->store = local_store;
		orch_sync_remote_close(fetched);
	}
	return 0;
fail:
	if (states) {
		for (size_t i = 0; i < plan->ntasks; i++)
			orch_task_state_clear(&states[i]);
		free(states);
	}
	orch_plan_free(plan);
	free(name);
	error = cli_fail(error);
	if (fetched) {
		cli->store = local_store;
		orch_sync_remote_close(fetched);
	}
	return error;
}
