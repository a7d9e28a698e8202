/* git orchestrate plan: validate a plan, report on it, store it. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cmd.h"
#include "graph.h"
#include "notes.h"
#include "plan.h"
#include "util.h"
#include "synopsis.h"

static const char plan_usage[] = SYNOPSIS_PLAN;

/* Everything the report shows, computed once. */
struct plan_report {
	orch_graph *graph;
	size_t nlevels;
	size_t *critical;
	size_t ncritical;
	int64_t critical_ms;
	orch_overlap *overlaps;
	size_t noverlaps;
	int slots;
	int64_t makespan_ms;
	int64_t serial_ms;
	int simulate_slots;
	int64_t simulate_ms;
	int learned;
};

static void report_clear(struct plan_report *report)
{
	orch_graph_free(report->graph);
	free(report->critical);
	orch_graph_overlaps_free(report->overlaps, report->noverlaps);
}

static int build_report(struct plan_report *report, const orch_plan *plan,
                        orch_store *store, const orch_config *config)
{
	int64_t *durations = orch_malloc(plan->ntasks * sizeof(int64_t));
	size_t *levels = orch_malloc(plan->ntasks * sizeof(size_t));
	int error;

	/* learned durations for tasks that give none */
	for (size_t i = 0; i < plan->ntasks; i++)
		durations[i] = -1;
	if (store &&
	    (error = orch_notes_learned_durations(durations, store, plan)) < 0)
		goto done;
	for (size_t i = 0; i < plan->ntasks; i++) {
		if (plan->tasks[i].duration_ms >= 0)
			durations[i] = plan->tasks[i].duration_ms;
		else if (durations[i] >= 0)
			report->learned++;
		else
			durations[i] = 60000;
	}
	if ((error = orch_graph_build(&report->graph, plan, durations)) < 0 ||
	    (error = orch_graph_levels(levels, &report->nlevels,
	                               report->graph)) < 0 ||
	    (error = orch_graph_critical_path(
	         &report->critical, &report->ncritical, &report->critical_ms,
	         report->graph)) < 0 ||
	    (error = orch_graph_overlaps(&report->overlaps, &report->noverlaps,
	                                 report->graph, plan)) < 0)
		goto done;
	report->slots = 0;
	for (size_t w = 0; w < config->nworkers; w++)
		report->slots += config->workers[w].slots;
	if (report->slots < 1)
		report->slots = 1;
	report->serial_ms = 0;
	for (size_t i = 0; i < plan->ntasks; i++)
		report->serial_ms += report->graph->duration[i];
	if ((error = orch_graph_simulate(&report->makespan_ms, report->graph,
	                                 report->overlaps, report->noverlaps,
	                                 report->slots)) < 0)
		goto done;
	if (report->simulate_slots > 0 &&
	    (error = orch_graph_simulate(&report->simulate_ms, report->graph,
	                                 report->overlaps, report->noverlaps,
	                                 report->simulate_slots)) < 0)
		goto done;
done:
	free(durations);
	free(levels);
	return error;
}

static void print_report(const struct plan_report *report,
                         const orch_plan *plan, const char *outcome)
{
	char len[32], span[32], serial[32];

	printf(
	    "plan '%s': %zu task%s, %zu dependency level%s, base %s (%.12s)\n",
	    plan->name, plan->ntasks, plan->ntasks == 1 ? "" : "s",
	    report->nlevels, report->nlevels == 1 ? "" : "s", plan->base,
	    plan->base_commit);
	orch_format_duration(len, sizeof(len), report->critical_ms);
	printf("critical path (%s):", len);
	for (size_t i = 0; i < report->ncritical; i++) {
		if (i == 8 && report->ncritical > 10) {
			printf(" -> ... (%zu more)", report->ncritical - 9);
			i = report->ncritical - 1;
		}
		printf("%s%s", i ? " -> " : " ",
		       plan->tasks[report->critical[i]].id);
	}
	printf("\n");
	if (report->noverlaps) {
		printf("overlapping files (these will not run at the same "
		       "time):\n");
		for (size_t i = 0; i < report->noverlaps && i < 20; i++) {
			const orch_overlap *o = &report->overlaps[i];
			printf("  %s (%s) and %s (%s)\n", plan->tasks[o->a].id,
			       o->pattern_a, plan->tasks[o->b].id,
			       o->pattern_b);
		}
		if (report->noverlaps > 20)
			printf("  ... and %zu more pairs\n",
			       report->noverlaps - 20);
	}
	orch_format_duration(span, sizeof(span), report->makespan_ms);
	orch_format_duration(serial, sizeof(serial), report->serial_ms);
	printf("estimated makespan: %s on %d slot%s, against %s one by one "
	       "(%.1fx)\n",
	       span, report->slots, report->slots == 1 ? "" : "s", serial,
	       report->makespan_ms > 0
	           ? (double)report->serial_ms / report->makespan_ms
	           : 1.0);
	if (report->learned)
		printf("durations learned from earlier runs: %d task%s\n",
		       report->learned, report->learned == 1 ? "" : "s");
	if (report->simulate_slots > 0) {
		orch_format_duration(span, sizeof(span), report->simulate_ms);
		printf("simulated makespan on %d slot%s: %s (%" PRId64 " ms)\n",
		       report->simulate_slots,
		       report->simulate_slots == 1 ? "" : "s", span,
		       report->simulate_ms);
	}
	if (outcome)
		printf("%s\n", outcome);
}

static void print_json(const struct plan_report *report, const orch_plan *plan,
                       int stored)
{
	cJSON *root = cJSON_CreateObject(), *path, *pairs, *est;
	char *text;

	cJSON_AddStringToObject(root, "plan", plan->name);
	cJSON_AddStringToObject(root, "base", plan->base);
	cJSON_AddStringToObject(root, "base_commit", plan->base_commit);
	cJSON_AddNumberToObject(root, "tasks", (double)plan->ntasks);
	cJSON_AddNumberToObject(root, "levels", (double)report->nlevels);
	path = cJSON_AddObjectToObject(root, "critical_path");
	cJSON_AddNumberToObject(path, "length_ms", (double)report->critical_ms);
	cJSON *ids = cJSON_AddArrayToObject(path, "tasks");
	for (size_t i = 0; i < report->ncritical; i++)
		cJSON_AddItemToArray(
		    ids,
		    cJSON_CreateString(plan->tasks[report->critical[i]].id));
	pairs = cJSON_AddArrayToObject(root, "overlaps");
	for (size_t i = 0; i < report->noverlaps; i++) {
		cJSON *pair = cJSON_CreateObject();
		cJSON_AddStringToObject(pair, "a",
		                        plan->tasks[report->overlaps[i].a].id);
		cJSON_AddStringToObject(pair, "b",
		                        plan->tasks[report->overlaps[i].b].id);
		cJSON_AddStringToObject(pair, "files_a",
		                        report->overlaps[i].pattern_a);
		cJSON_AddStringToObject(pair, "files_b",
		                        report->overlaps[i].pattern_b);
		cJSON_AddItemToArray(pairs, pair);
	}
	est = cJSON_AddObjectToObject(root, "estimate");
	cJSON_AddNumberToObject(est, "slots", report->slots);
	cJSON_AddNumberToObject(est, "makespan_ms",
	                        (double)report->makespan_ms);
	cJSON_AddNumberToObject(est, "serial_ms", (double)report->serial_ms);
	cJSON_AddNumberToObject(est, "speedup",
	                        report->makespan_ms > 0
	                            ? (double)report->serial_ms /
	                                  report->makespan_ms
	                            : 1.0);
	if (report->simulate_slots > 0) {
		cJSON *sim = cJSON_AddObjectToObject(root, "simulate");
		cJSON_AddNumberToObject(sim, "slots", report->simulate_slots);
		cJSON_AddNumberToObject(sim, "makespan_ms",
		                        (double)report->simulate_ms);
	}
	cJSON_AddBoolToObject(root, "stored", stored);
	text = cJSON_Print(root);
	printf("%s\n", text);
	cJSON_free(text);
	cJSON_Delete(root);
}

/* The text of a JSON plan: FILE, or standard input for "-". */
static int read_json_plan(orch_buf *out, const char *from)
{
	char chunk[65536];
	ssize_t n;

	if (strcmp(from, "-")) {
		if (orch_read_file(out, from) < 0) {
			orch_error_hint(
			    "--from-json takes a JSON plan file, or "
			    "- for standard input");
			return ORCH_EINVALID;
		}
		return 0;
	}
	for (;;) {
		n = read(0, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return orch_error_os(
			    "cannot read the plan from standard "
			    "input");
		if (n == 0)
			break;
		orch_buf_put(out, chunk, (size_t)n);
	}
	orch_buf_puts(out, "");
	return 0;
}

int cmd_plan(int argc, char **argv, orch_cli *cli)
{
	static const struct option options[] = {
	    {"prompts", required_argument, NULL, 'p'},
	    {"from-json", required_argument, NULL, 'F'},
	    {"name", required_argument, NULL, 'n'},
	    {"dry-run", no_argument, NULL, 'd'},
	    {"simulate", no_argument, NULL, 's'},
	    {"json", no_argument, NULL, 'J'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *prompts = NULL, *name = NULL, *file = NULL,
	           *from_json = NULL;
	orch_buf json_text = {0};
	int dry_run = 0, simulate = 0, json = 0, slots = 0, opt, error;
	orch_plan *plan = NULL;
	orch_config *config = NULL;
	struct plan_report report = {0};
	char outcome[512] = "";

	if (cli_wants_help(argc, argv, plan_usage))
		return 0;
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "j:h", options, NULL)) != -1) {
		switch (opt) {
		case 'p':
			prompts = optarg;
			break;
		case 'F':
			from_json = optarg;
			break;
		case 'n':
			name = optarg;
			break;
		case 'd':
			dry_run = 1;
			break;
		case 's':
			simulate = 1;
			break;
		case 'J':
			json = 1;
			break;
		case 'j':
			slots = atoi(optarg);
			if (slots < 1 || slots > 100000)
				return cli_usage_error(
				    plan_usage,
				    "-j needs a number of slots, got '%s'",
				    optarg);
			break;
		default:
			return cli_usage_error(plan_usage,
			                       "unknown option '%s'",
			                       argv[optind - 1]);
		}
	}
	if (optind < argc)
		file = argv[optind++];
	if (optind < argc)
		return cli_usage_error(plan_usage, "unexpected argument '%s'",
		                       argv[optind]);
	if (!!file + !!prompts + !!from_json != 1)
		return cli_usage_error(plan_usage,
		                       "give one of a plan FILE, "
		                       "--prompts DIR or --from-json "
		                       "FILE");
	if (slots && !simulate)
		return cli_usage_error(plan_usage, "-j goes with --simulate");
	if (simulate)
		report.simulate_slots = slots ? slots : 0;

	if ((error = cli_open(cli)) < 0)
		goto fail;
	if (from_json) {
		if ((error = read_json_plan(&json_text, from_json)) < 0)
			goto fail;
		error = orch_plan_load_json(
		    &plan, strcmp(from_json, "-") ? from_json : NULL, name,
		    json_text.ptr, json_text.len);
	} else {
		error = prompts ? orch_plan_load_prompts(&plan, prompts)
		                : orch_plan_load_ini(&plan, file);
	}
	if (error < 0)
		goto fail;
	if (name) {
		if (!orch_id_valid(name)) {
			orch_error_set("invalid plan name '%s' (from --name)",
			               name);
			orch_error_hint("plan names are 1-100 characters of "
			                "A-Z a-z 0-9 . _ -, "
			                "not starting with '.' or '-'");
			error = ORCH_EINVALID;
			goto fail;
		}
		free(plan->name);
		plan->name = orch_strdup(name);
	}
	if ((error = orch_store_default_agent(plan, cli->store)) < 0 ||
	    (error = orch_plan_validate(plan)) < 0 ||
	    (error = orch_store_resolve_base(plan, cli->store)) < 0 ||
	    (error = cli_load_config(&config, cli)) < 0 ||
	    (error = orch_config_check_needs(config, plan)) < 0)
		goto fail;
	if (simulate && !report.simulate_slots)
		report.simulate_slots = 0;
	if ((error = build_report(&report, plan, cli->store, config)) < 0)
		goto fail;
	if (simulate && !slots) {
		report.simulate_slots = report.slots;
		report.simulate_ms = report.makespan_ms;
	}
	if (!dry_run && !simulate) {
		char refname[300];
		/* stored so that status and run show it beside what they
		 * achieve */
		plan->estimate.makespan_ms = report.makespan_ms;
		plan->estimate.serial_ms = report.serial_ms;
		plan->estimate.slots = report.slots;
		if ((error = orch_store_create_plan(cli->store, plan, 1)) < 0 ||
		    (error = orch_store_plan_ref(refname, sizeof(refname),
		                                 cli->store, plan->name)) < 0)
			goto fail;
		snprintf(outcome, sizeof(outcome),
		         "stored as %s; run it with 'git orchestrate run %s'",
		         refname, plan->name);
	} else {
		snprintf(outcome, sizeof(outcome), "not stored (%s)",
		         dry_run ? "--dry-run" : "--simulate");
	}
	if (json)
		print_json(&report, plan, !dry_run && !simulate);
	else
		print_report(&report, plan, outcome);
	report_clear(&report);
	orch_config_free(config);
	orch_plan_free(plan);
	orch_buf_free(&json_text);
	return 0;
fail:
	report_clear(&report);
	orch_config_free(config);
	orch_plan_free(plan);
	orch_buf_free(&json_text);
	return cli_fail(error);
}
