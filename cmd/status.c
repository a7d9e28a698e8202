/* git orchestrate status: the state of a plan's tasks, as a table or JSON. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cmd.h"
#include "metrics.h"
#include "plan.h"
#include "run.h"
#include "store.h"
#include "sync.h"
#include "util.h"

static const char status_usage[] =
    "git orchestrate status [PLAN] [--json] [--watch]\n"
    "   or: git orchestrate status [PLAN] --format=prometheus\n"
    "   or: git orchestrate status --remote REMOTE [PLAN] [--json]";

static int64_t task_duration(const orch_task_state *st, int64_t now)
{
	if (st->state == ORCH_STATE_RUNNING && st->started_ms)
		return now - st->started_ms;
	return st->duration_ms;
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

static void print_table(const orch_plan *plan, const orch_task_state *states,
                        const orch_metrics *m, const workers_seen *workers,
                        int64_t now)
{
	int width = 4;
	char dur[32], achieved[128];

	for (size_t i = 0; i < plan->ntasks; i++) {
		int len = (int)strlen(plan->tasks[i].id);
		if (len > width)
			width = len;
	}
	if (width > 40)
		width = 40;
	printf("plan %s (base %s)\n", plan->name,
	       plan->base ? plan->base : "?");
	printf("%-*s  %-9s  %8s  %-12s  %9s\n", width, "TASK", "STATE",
	       "ATTEMPTS", "WORKER", "DURATION");
	for (size_t i = 0; i < plan->ntasks; i++) {
		const orch_task_state *st = &states[i];
		int64_t d = task_duration(st, now);
		orch_format_duration(dur, sizeof(dur), d);
		printf("%-*s  %-9s  %8d  %-12s  %9s", width, plan->tasks[i].id,
		       orch_state_name(st->state), st->attempts,
		       st->worker ? st->worker : "-", dur);
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
		if (st->worktree)
			printf("  (worktree kept: %s)", st->worktree);
		printf("\n");
	}
	printf("%zu task%s:", plan->ntasks, plan->ntasks == 1 ? "" : "s");
	for (int s = 0; s < ORCH_STATE__COUNT; s++)
		if (m->counts[s])
			printf(" %zu %s", m->counts[s],
			       orch_state_name((orch_state)s));
	cli_format_achieved(achieved, sizeof(achieved), m);
	printf("; %s\n", achieved);
	for (size_t i = 0; i < workers->count; i++)
		if (workers->list[i].down)
			printf("worker %s is down: %s\n", workers->list[i].name,
			       workers->list[i].reason);
	print_log_hint(plan, states);
}

static void print_json(const orch_plan *plan, const orch_task_state *states,
                       const orch_metrics *m, const workers_seen *workers)
{
	cJSON *root = cJSON_CreateObject(), *tasks, *counts, *list, *achieved;
	char *text;

	cJSON_AddStringToObject(root, "plan", plan->name);
	if (plan->base)
		cJSON_AddStringToObject(root, "base", plan->base);
	if (plan->base_commit)
		cJSON_AddStringToObject(root, "base_commit", plan->base_commit);
	tasks = cJSON_AddArrayToObject(root, "tasks");
	for (size_t i = 0; i < plan->ntasks; i++) {
		const orch_task_state *st = &states[i];
		cJSON *t = cJSON_CreateObject();
		cJSON_AddStringToObject(t, "id", plan->tasks[i].id);
		cJSON_AddStringToObject(t, "state", orch_state_name(st->state));
		cJSON_AddNumberToObject(t, "attempts", st->attempts);
		if (st->worker)
			cJSON_AddStringToObject(t, "worker", st->worker);
		else
			cJSON_AddNullToObject(t, "worker");
		if (st->commit)
			cJSON_AddStringToObject(t, "commit", st->commit);
		else
			cJSON_AddNullToObject(t, "commit");
		if (st->duration_ms >= 0)
			cJSON_AddNumberToObject(t, "duration_ms",
			                        (double)st->duration_ms);
		if (st->exit_status >= 0)
			cJSON_AddNumberToObject(t, "exit", st->exit_status);
		if (st->error)
			cJSON_AddStringToObject(t, "error", st->error);
		if (st->worktree)
			cJSON_AddStringToObject(t, "worktree", st->worktree);
		if (st->paths.count) {
			cJSON *paths = cJSON_AddArrayToObject(t, "paths");
			for (size_t k = 0; k < st->paths.count; k++)
				cJSON_AddItemToArray(
				    paths,
				    cJSON_CreateString(st->paths.items[k]));
		}
		cJSON_AddItemToArray(tasks, t);
	}
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
	list = cJSON_AddArrayToObject(root, "workers");
	for (size_t i = 0; i < workers->count; i++) {
		cJSON *w = cJSON_CreateObject();
		cJSON_AddStringToObject(w, "name", workers->list[i].name);
		cJSON_AddBoolToObject(w, "down", workers->list[i].down);
		cJSON_AddStringToObject(w, "reason", workers->list[i].reason);
		cJSON_AddItemToArray(list, w);
	}
	text = cJSON_Print(root);
	printf("%s\n", text);
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
			workers->count++;
		}
	}
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
	    {NULL, 0, NULL, 0},
	};
	int json = 0, watch = 0, opt, error;
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
		int64_t now = orch_now_ms();
		orch_metrics metrics;
		orch_metrics_compute(&metrics, states, plan->ntasks, now);
		if (json)
			print_json(plan, states, &metrics, &workers);
		else
			print_table(plan, states, &metrics, &workers, now);
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
