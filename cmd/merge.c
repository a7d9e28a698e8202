/*
 * git orchestrate merge: analyse the done tasks against the base branch and
 * each other (--analyze), or merge them, verify, and move the base branch.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cmd.h"
#include "merge.h"
#include "util.h"
#include "synopsis.h"

static const char merge_usage[] = SYNOPSIS_MERGE;

/* ---- --analyze ------------------------------------------------------------
 */

static int analysis_has_conflicts(const orch_merge_analysis *analysis)
{
	if (analysis->npairs)
		return 1;
	for (size_t i = 0; i < analysis->nbranches; i++)
		if (analysis->branches[i].conflicts_base)
			return 1;
	return 0;
}

static void print_paths(const orch_strvec *paths)
{
	for (size_t i = 0; i < paths->count; i++)
		printf("%s%s", i ? ", " : "", paths->items[i]);
	printf("\n");
}

static void print_analysis(const orch_merge_analysis *analysis,
                           const char *plan, const char *into)
{
	size_t n = analysis->nbranches;
	int width = 4;

	for (size_t i = 0; i < n; i++) {
		int len = (int)strlen(analysis->branches[i].id);
		if (len > width)
			width = len;
	}
	if (width > 40)
		width = 40;
	printf("plan %s: %zu done task%s against %s (%.12s); %zu merge%s "
	       "computed in memory, "
	       "%zu proved clean by changed paths\n",
	       plan, n, n == 1 ? "" : "s", into,
	       git_oid_tostr_s(&analysis->base), analysis->merges_done,
	       analysis->merges_done == 1 ? "" : "s", analysis->merges_skipped);
	if (!n)
		return;
	printf("%-3s  %-*s  %-8s  %s\n", "#", width, "TASK", "BASE",
	       "CONFLICTS WITH");
	for (size_t i = 0; i < n; i++) {
		int any = 0;
		printf("%-3zu  %-*s  %-8s  ", i + 1, width,
		       analysis->branches[i].id,
		       analysis->branches[i].conflicts_base ? "conflict"
		                                            : "clean");
		for (size_t j = 0; j < n; j++) {
			if (j == i ||
			    !orch_merge_analysis_pair(NULL, analysis, i, j))
				continue;
			printf("%s%s", any ? ", " : "",
			       analysis->branches[j].id);
			any = 1;
		}
		printf("%s\n", any ? "" : "-");
	}
	if (n <= 40) {
		/* the pairwise matrix, by task number */
		printf("\nmatrix (x: the two conflict, B: conflicts with %s)\n "
		       "    ",
		       into);
		for (size_t j = 0; j < n; j++)
			printf("%2zu ", j + 1);
		printf("\n");
		for (size_t i = 0; i < n; i++) {
			printf("%3zu  ", i + 1);
			for (size_t j = 0; j < n; j++) {
				char mark = '.';
				if (i == j)
					mark =
					    analysis->branches[i].conflicts_base
					        ? 'B'
					        : '-';
				else if (orch_merge_analysis_pair(
				             NULL, analysis, i, j))
					mark = 'x';
				printf(" %c ", mark);
			}
			printf("\n");
		}
	}
	if (!analysis_has_conflicts(analysis)) {
		printf("\nno conflicts: every done task merges cleanly\n");
		return;
	}
	printf("\nconflicts:\n");
	for (size_t i = 0; i < n; i++) {
		if (!analysis->branches[i].conflicts_base)
			continue;
		printf("  %s with %s: ", analysis->branches[i].id, into);
		print_paths(&analysis->branches[i].paths);
	}
	for (size_t p = 0; p < analysis->npairs; p++) {
		const orch_merge_pair *pair = &analysis->pairs[p];
		printf("  %s with %s: ", analysis->branches[pair->a].id,
		       analysis->branches[pair->b].id);
		print_paths(&pair->paths);
	}
}

static cJSON *strvec_json(const orch_strvec *vec)
{
	cJSON *array = cJSON_CreateArray();

	for (size_t i = 0; vec && i < vec->count; i++)
		cJSON_AddItemToArray(array, cJSON_CreateString(vec->items[i]));
	return array;
}

static void print_analysis_json(const orch_merge_analysis *analysis,
                                const char *plan, const char *into)
{
	cJSON *root = cJSON_CreateObject(), *base, *tasks, *pairs;
	char *text;

	cJSON_AddStringToObject(root, "plan", plan);
	base = cJSON_AddObjectToObject(root, "base");
	cJSON_AddStringToObject(base, "branch", into);
	cJSON_AddStringToObject(base, "commit",
	                        git_oid_tostr_s(&analysis->base));
	tasks = cJSON_AddArrayToObject(root, "tasks");
	for (size_t i = 0; i < analysis->nbranches; i++) {
		const orch_merge_branch *branch = &analysis->branches[i];
		cJSON *task = cJSON_CreateObject(), *with;
		cJSON_AddStringToObject(task, "id", branch->id);
		cJSON_AddStringToObject(task, "commit",
		                        git_oid_tostr_s(&branch->commit));
		cJSON_AddStringToObject(task, "base",
		                        branch->conflicts_base ? "conflict"
		                                               : "clean");
		cJSON_AddItemToObject(task, "paths",
		                      strvec_json(&branch->paths));
		with = cJSON_AddArrayToObject(task, "conflicts_with");
		for (size_t j = 0; j < analysis->nbranches; j++)
			if (j != i &&
			    orch_merge_analysis_pair(NULL, analysis, i, j))
				cJSON_AddItemToArray(
				    with, cJSON_CreateString(
				              analysis->branches[j].id));
		cJSON_AddItemToArray(tasks, task);
	}
	pairs = cJSON_AddArrayToObject(root, "pairs");
	for (size_t p = 0; p < analysis->npairs; p++) {
		cJSON *pair = cJSON_CreateObject();
		cJSON_AddStringToObject(
		    pair, "a", analysis->branches[analysis->pairs[p].a].id);
		cJSON_AddStringToObject(
		    pair, "b", analysis->branches[analysis->pairs[p].b].id);
		cJSON_AddItemToObject(pair, "paths",
		                      strvec_json(&analysis->pairs[p].paths));
		cJSON_AddItemToArray(pairs, pair);
	}
	cJSON_AddBoolToObject(root, "conflicts",
	                      analysis_has_conflicts(analysis));
	cJSON_AddNumberToObject(root, "merges_computed",
	                        (double)analysis->merges_done);
	cJSON_AddNumberToObject(root, "merges_skipped",
	                        (double)analysis->merges_skipped);
	text = cJSON_Print(root);
	printf("%s\n", text);
	cJSON_free(text);
	cJSON_Delete(root);
}

static int analyze(orch_cli *cli, const char *plan, const char *into, int json)
{
	orch_merge_analysis *analysis = NULL;
	char *branch = NULL;
	int error, status;

	if ((error = orch_merge_analyze_plan(&analysis, &branch, cli->store,
	                                     plan, into)) < 0)
		return cli_fail(error);
	if (json)
		print_analysis_json(analysis, plan, branch);
	else
		print_analysis(analysis, plan, branch);
	status =
	    analysis_has_conflicts(analysis) ? ORCH_EXIT_FAILED : ORCH_EXIT_OK;
	orch_merge_analysis_free(analysis);
	free(branch);
	return status;
}

/* ---- merge ------------------------------------------------------------------
 */

typedef struct {
	int json;
	cJSON *conflicts; /* [{id, paths}] for --json */
	cJSON *verifies;  /* [{tasks, status, commit}] */
} merge_view;

static void on_event(const orch_merge_event *event, void *payload)
{
	merge_view *view = payload;

	switch (event->kind) {
	case ORCH_MERGE_EVENT_CONFLICT: {
		cJSON *entry = cJSON_CreateObject();
		cJSON_AddStringToObject(entry, "id", event->task);
		cJSON_AddItemToObject(entry, "paths",
		                      strvec_json(event->paths));
		cJSON_AddItemToArray(view->conflicts, entry);
		if (!view->json) {
			printf("conflict: %s (left unmerged): ", event->task);
			print_paths(event->paths);
		}
		break;
	}
	case ORCH_MERGE_EVENT_VERIFY: {
		cJSON *entry = cJSON_CreateObject();
		cJSON_AddNumberToObject(entry, "tasks", (double)event->ntasks);
		cJSON_AddNumberToObject(entry, "status", event->status);
		cJSON_AddStringToObject(entry, "commit",
		                        git_oid_tostr_s(event->commit));
		cJSON_AddItemToArray(view->verifies, entry);
		if (!view->json && event->ntasks == 0)
			printf("verify on the base alone (%.12s): %s\n",
			       git_oid_tostr_s(event->commit),
			       event->status == 0 ? "passed" : "failed");
		else if (!view->json)
			printf("verify on %zu task%s (%.12s): %s\n",
			       event->ntasks, event->ntasks == 1 ? "" : "s",
			       git_oid_tostr_s(event->commit),
			       event->status == 0 ? "passed" : "failed");
		break;
	}
	case ORCH_MERGE_EVENT_REJECTED:
		if (!view->json)
			printf("rejected: %s breaks verify\n", event->task);
		break;
	case ORCH_MERGE_EVENT_MERGED:
		if (!view->json)
			printf("merged: %s (%.12s)\n", event->task,
			       git_oid_tostr_s(event->commit));
		break;
	}
	fflush(stdout);
}

/* The output of the last failed verify, if any, on stdout. */
static void print_verify_output(const orch_merge_result *res)
{
	if (!res->verify_failed || !res->verify_output.len)
		return;
	printf("output of the last failed verify:\n");
	fwrite(res->verify_output.ptr, 1, res->verify_output.len, stdout);
	if (res->verify_output.ptr[res->verify_output.len - 1] != '\n')
		printf("\n");
	fflush(stdout);
}

static void print_result_json(const orch_merge_result *res, merge_view *view,
                              const char *plan, int error)
{
	cJSON *root = cJSON_CreateObject(), *verify;
	char *text;

	cJSON_AddStringToObject(root, "plan", plan);
	if (res->into)
		cJSON_AddStringToObject(root, "into", res->into);
	cJSON_AddStringToObject(root, "base_before",
	                        git_oid_tostr_s(&res->base_before));
	cJSON_AddStringToObject(root, "base_after",
	                        git_oid_tostr_s(&res->base_after));
	cJSON_AddBoolToObject(root, "moved", res->moved);
	cJSON_AddItemToObject(root, "merged", strvec_json(&res->merged));
	cJSON_AddItemToObject(root, "conflicts", view->conflicts);
	view->conflicts = NULL;
	cJSON_AddItemToObject(root, "rejected", strvec_json(&res->rejected));
	verify = cJSON_AddObjectToObject(root, "verify");
	cJSON_AddNumberToObject(verify, "runs", res->verify_runs);
	cJSON_AddBoolToObject(verify, "failed", res->verify_failed);
	cJSON_AddItemToObject(verify, "results", view->verifies);
	view->verifies = NULL;
	if (res->record)
		cJSON_AddNumberToObject(root, "record", res->record);
	if (res->push_error)
		cJSON_AddStringToObject(root, "push_error", res->push_error);
	if (error < 0 && error != ORCH_ENOCHANGE)
		cJSON_AddStringToObject(root, "error", orch_error_message());
	text = cJSON_Print(root);
	printf("%s\n", text);
	cJSON_free(text);
	cJSON_Delete(root);
}

/*
 * --rerun: set the tasks in conflict to run again from the base as it is
 * now and run them with the run machinery (`run PLAN --merge`), which
 * merges each as soon as it is done; again for those that conflict again,
 * up to the plan's rerun-limit. Returns the exit status.
 */
static int rerun_conflicts(orch_cli *cli, const char *plan)
{
	orch_rerun_result rr = {0};
	int error, status = ORCH_EXIT_OK;

	for (;;) {
		char *args[] = {"run", (char *)plan, "--merge", NULL};

		orch_rerun_result_clear(&rr);
		error = orch_merge_rerun(&rr, cli->store, plan, NULL);
		if (error == ORCH_ENOCHANGE)
			break;
		if (error < 0) {
			orch_rerun_result_clear(&rr);
			return cli_fail(error);
		}
		for (size_t i = 0; i < rr.rerun.count; i++)
			printf("re-run: %s from %s at %.12s (rerun-limit %d)\n",
			       rr.rerun.items[i], rr.base,
			       git_oid_tostr_s(&rr.base_tip), rr.limit);
		fflush(stdout);
		status = cmd_run(3, args, cli);
		if (status == ORCH_EXIT_INTERRUPTED ||
		    status == ORCH_EXIT_USAGE)
			goto done;
	}
	for (size_t i = 0; i < rr.exhausted.count; i++) {
		fprintf(stderr,
		        "error: task '%s' still conflicts with '%s' after %d "
		        "re-run%s (rerun-limit = %d): left in state conflict\n",
		        rr.exhausted.items[i], rr.base, rr.limit,
		        rr.limit == 1 ? "" : "s", rr.limit);
		fprintf(
		    stderr,
		    "hint: 'git orchestrate log %s %s' shows the paths; "
		    "merge branch 'orchestrate/%s/%s' into '%s' by hand, "
		    "raise rerun-limit in the plan and store it again, or "
		    "'git orchestrate retry %s %s' to run it from the start\n",
		    plan, rr.exhausted.items[i], plan, rr.exhausted.items[i],
		    rr.base, plan, rr.exhausted.items[i]);
	}
	if (rr.exhausted.count)
		status = ORCH_EXIT_FAILED;
done:
	orch_rerun_result_clear(&rr);
	return status;
}

int cmd_merge(int argc, char **argv, orch_cli *cli)
{
	static const struct option options[] = {
	    {"analyze", no_argument, NULL, 'a'},
	    {"verify", required_argument, NULL, 'v'},
	    {"into", required_argument, NULL, 'i'},
	    {"squash", no_argument, NULL, 's'},
	    {"push", no_argument, NULL, 'p'},
	    {"json", no_argument, NULL, 'j'},
	    {"rerun", no_argument, NULL, 'r'},
	    {NULL, 0, NULL, 0},
	};
	orch_merge_options opts = {0};
	orch_merge_result res;
	merge_view view = {0};
	int opt, do_analyze = 0, json = 0, rerun = 0, error,
	         status = ORCH_EXIT_OK;
	char *plan = NULL;

	if (cli_wants_help(argc, argv, merge_usage))
		return 0;
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (opt) {
		case 'a':
			do_analyze = 1;
			break;
		case 'v':
			opts.verify = optarg;
			break;
		case 'i':
			opts.into = optarg;
			break;
		case 's':
			opts.squash = 1;
			break;
		case 'p':
			opts.push = 1;
			break;
		case 'j':
			json = 1;
			break;
		case 'r':
			rerun = 1;
			break;
		default:
			return cli_usage_error(merge_usage,
			                       "unknown option '%s'",
			                       argv[optind - 1]);
		}
	}
	if (argc - optind > 1)
		return cli_usage_error(merge_usage, "unexpected argument '%s'",
		                       argv[optind + 1]);
	if (do_analyze && (opts.verify || opts.squash || opts.push))
		return cli_usage_error(merge_usage,
		                       "--analyze changes nothing: it takes no "
		                       "--verify, --squash or --push");
	if (rerun && (do_analyze || json || opts.into || opts.squash ||
	              opts.verify || opts.push))
		return cli_usage_error(
		    merge_usage,
		    "--rerun runs tasks again and merges them into the plan's "
		    "base as 'run --merge' does (with the plan's verify): it "
		    "takes no --analyze, --json, --into, --squash, --verify or "
		    "--push");
	if ((error = cli_open(cli)) < 0 ||
	    (error = cli_resolve_plan(&plan, cli,
	                              optind < argc ? argv[optind] : NULL)) < 0)
		return cli_fail(error);
	if (do_analyze) {
		status = analyze(cli, plan, opts.into, json);
		free(plan);
		return status;
	}

	orch_merge_result_init(&res);
	view.json = json;
	view.conflicts = cJSON_CreateArray();
	view.verifies = cJSON_CreateArray();
	opts.plan = plan;
	opts.on_event = on_event;
	opts.payload = &view;
	error = orch_merge_run(&res, cli->store, &opts);
	if (json)
		print_result_json(&res, &view, plan, error);
	if (error == ORCH_ENOCHANGE) {
		if (!json)
			printf("%s\n", orch_error_message());
		status = ORCH_EXIT_OK;
	} else if (error < 0) {
		if (!json) /* a base that fails verify: show why */
			print_verify_output(&res);
		status = json ? (cli_print_error(), ORCH_EXIT_FAILED)
		              : cli_fail(error);
		if (json && (error == ORCH_EINVALID || error == ORCH_ENOTFOUND))
			status = ORCH_EXIT_USAGE;
	} else {
		if (!json) {
			if (res.moved)
				printf("%s: %.12s -> ", res.into,
				       git_oid_tostr_s(&res.base_before));
			if (res.moved)
				printf("%.12s, %zu task%s merged (record %d)\n",
				       git_oid_tostr_s(&res.base_after),
				       res.merged.count,
				       res.merged.count == 1 ? "" : "s",
				       res.record);
			else
				printf("%s not moved: nothing merged (record "
				       "%d)\n",
				       res.into, res.record);
			print_verify_output(&res);
		}
		if (res.push_error) {
			fprintf(stderr, "error: %s\n", res.push_error);
			status = ORCH_EXIT_FAILED;
		} else if (opts.push && res.moved && !json) {
			printf("pushed %s\n", res.into);
		}
		if (res.conflicted.count || res.rejected.count ||
		    res.verify_failed)
			status = ORCH_EXIT_FAILED;
	}
	if (rerun && (error >= 0 || error == ORCH_ENOCHANGE)) {
		int rerun_status = rerun_conflicts(cli, plan);
		/* what the re-runs leave decides, but a failed verify or
		 * push of the first merge still counts */
		status =
		    rerun_status != ORCH_EXIT_OK ? rerun_status
		    : res.rejected.count || res.verify_failed || res.push_error
		        ? ORCH_EXIT_FAILED
		        : ORCH_EXIT_OK;
	}
	cJSON_Delete(view.conflicts);
	cJSON_Delete(view.verifies);
	orch_merge_result_clear(&res);
	free(plan);
	return status;
}
