/*
 * git orchestrate rollback: undo a plan's last merge, by putting the base
 * branch back when nothing was added since, or with --revert by adding
 * revert commits on top.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include <cjson/cJSON.h>

#include "cmd.h"
#include "merge.h"
#include "util.h"
#include "synopsis.h"

static const char rollback_usage[] = SYNOPSIS_ROLLBACK;

int cmd_rollback(int argc, char **argv, orch_cli *cli)
{
	static const struct option options[] = {
	    {"revert", no_argument, NULL, 'r'},
	    {"json", no_argument, NULL, 'j'},
	    {NULL, 0, NULL, 0},
	};
	orch_rollback_result res = {0};
	int opt, revert = 0, json = 0, error;
	char *plan = NULL;

	if (cli_wants_help(argc, argv, rollback_usage))
		return 0;
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (opt) {
		case 'r':
			revert = 1;
			break;
		case 'j':
			json = 1;
			break;
		default:
			return cli_usage_error(rollback_usage,
			                       "unknown option '%s'",
			                       argv[optind - 1]);
		}
	}
	if (argc - optind > 1)
		return cli_usage_error(rollback_usage,
		                       "unexpected argument '%s'",
		                       argv[optind + 1]);
	if ((error = cli_open(cli)) < 0 ||
	    (error = cli_resolve_plan(
	         &plan, cli, optind < argc ? argv[optind] : NULL)) < 0 ||
	    (error = orch_merge_rollback(&res, cli->store, plan, revert)) < 0) {
		free(plan);
		orch_rollback_result_clear(&res);
		return cli_fail(error);
	}
	if (json) {
		cJSON *root = cJSON_CreateObject();
		char *text;
		cJSON_AddStringToObject(root, "plan", plan);
		cJSON_AddNumberToObject(root, "record", res.record);
		cJSON_AddStringToObject(root, "into", res.into);
		cJSON_AddStringToObject(root, "mode",
		                        res.reverted ? "revert" : "reset");
		cJSON_AddStringToObject(root, "before",
		                        git_oid_tostr_s(&res.before));
		cJSON_AddStringToObject(root, "after",
		                        git_oid_tostr_s(&res.after));
		cJSON_AddNumberToObject(root, "revert_commits",
		                        (double)res.ncommits);
		text = cJSON_Print(root);
		printf("%s\n", text);
		cJSON_free(text);
		cJSON_Delete(root);
	} else if (res.reverted) {
		printf("%s: added %zu revert commit%s of merge %d of plan %s "
		       "(%.12s -> ",
		       res.into, res.ncommits, res.ncommits == 1 ? "" : "s",
		       res.record, plan, git_oid_tostr_s(&res.before));
		printf("%.12s)\n", git_oid_tostr_s(&res.after));
	} else {
		printf("%s: back to %.12s, before merge %d of plan %s (was ",
		       res.into, git_oid_tostr_s(&res.after), res.record, plan);
		printf("%.12s)\n", git_oid_tostr_s(&res.before));
	}
	free(plan);
	orch_rollback_result_clear(&res);
	return ORCH_EXIT_OK;
}
