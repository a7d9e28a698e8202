/* git orchestrate plans: the stored plans with their counts by state. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "cmd.h"
#include "plans.h"
#include "util.h"
#include "synopsis.h"

static const char plans_usage[] = SYNOPSIS_PLANS;

/* "2 done, 1 failed": the states tasks are in, in state order. */
static void format_counts(orch_buf *out, const orch_plan_summary *p)
{
	for (int s = 0; s < ORCH_STATE__COUNT; s++)
		if (p->counts[s])
			orch_buf_printf(out, "%s%zu %s", out->len ? ", " : "",
			                p->counts[s],
			                orch_state_name((orch_state)s));
}

static void print_table(const orch_plan_summary *list, size_t count)
{
	int name_width = 4, base_width = 4;
	char when[64];

	for (size_t i = 0; i < count; i++) {
		int n = (int)strlen(list[i].name);
		int b = list[i].base ? (int)strlen(list[i].base) : 1;
		if (n > name_width)
			name_width = n;
		if (b > base_width)
			base_width = b;
	}
	printf("%-*s  %-*s  %5s  %-19s  %s\n", name_width, "PLAN", base_width,
	       "BASE", "TASKS", "LAST CHANGE", "STATES");
	for (size_t i = 0; i < count; i++) {
		const orch_plan_summary *p = &list[i];
		orch_buf states = {0};
		format_counts(&states, p);
		orch_format_time(when, sizeof(when), p->changed_ms);
		printf("%-*s  %-*s  %5zu  %-19s  %s%s\n", name_width, p->name,
		       base_width, p->base ? p->base : "-", p->ntasks, when,
		       states.len ? states.ptr : "no tasks",
		       p->running ? " (running)" : "");
		orch_buf_free(&states);
	}
}

static void print_json(const orch_plan_summary *list, size_t count)
{
	cJSON *root = cJSON_CreateObject();
	cJSON *plans = cJSON_AddArrayToObject(root, "plans");
	char *text;

	for (size_t i = 0; i < count; i++) {
		const orch_plan_summary *p = &list[i];
		cJSON *item = cJSON_CreateObject(), *counts;
		cJSON_AddStringToObject(item, "name", p->name);
		if (p->base)
			cJSON_AddStringToObject(item, "base", p->base);
		else
			cJSON_AddNullToObject(item, "base");
		if (p->base_commit)
			cJSON_AddStringToObject(item, "base_commit",
			                        p->base_commit);
		cJSON_AddNumberToObject(item, "tasks", (double)p->ntasks);
		counts = cJSON_AddObjectToObject(item, "counts");
		for (int s = 0; s < ORCH_STATE__COUNT; s++)
			cJSON_AddNumberToObject(counts,
			                        orch_state_name((orch_state)s),
			                        (double)p->counts[s]);
		cJSON_AddBoolToObject(item, "running", p->running);
		cJSON_AddStringToObject(item, "head", p->head);
		cJSON_AddNumberToObject(item, "last_change_ms",
		                        (double)p->changed_ms);
		cJSON_AddStringToObject(item, "last_change", p->change);
		cJSON_AddItemToArray(plans, item);
	}
	text = cJSON_Print(root);
	printf("%s\n", text);
	cJSON_free(text);
	cJSON_Delete(root);
}

int cmd_plans(int argc, char **argv, orch_cli *cli)
{
	static const struct option options[] = {
	    {"json", no_argument, NULL, 'J'},
	    {NULL, 0, NULL, 0},
	};
	orch_plan_summary *list = NULL;
	size_t count = 0;
	int json = 0, opt, error;

	if (cli_wants_help(argc, argv, plans_usage))
		return 0;
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
		if (opt == 'J')
			json = 1;
		else
			return cli_usage_error(plans_usage,
			                       "unknown option '%s'",
			                       argv[optind - 1]);
	}
	if (optind < argc)
		return cli_usage_error(plans_usage, "unexpected argument '%s'",
		                       argv[optind]);
	if ((error = cli_open(cli)) < 0 ||
	    (error = orch_plans_list(&list, &count, cli->store)) < 0)
		return cli_fail(error);
	if (json)
		print_json(list, count);
	else if (count)
		print_table(list, count);
	else
		fprintf(stderr, "no plan is stored; 'git orchestrate plan "
		                "FILE' stores one\n");
	orch_plans_free(list, count);
	return 0;
}
