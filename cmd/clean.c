/* git orchestrate clean [PLAN]: worktrees, merged branches, stale locks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "clean.h"
#include "util.h"

static const char clean_usage[] = "git orchestrate clean [PLAN]";

static int clean_plan(orch_cli *cli, const char *name)
{
	orch_clean_counts n;
	int error;

	if ((error = orch_clean_plan(&n, cli->store, name)) < 0)
		return error;
	printf(
	    "%s: removed %d worktree%s, %d merged branch%s, %d stale lock%s\n",
	    name, n.worktrees, n.worktrees == 1 ? "" : "s", n.branches,
	    n.branches == 1 ? "" : "es", n.locks, n.locks == 1 ? "" : "s");
	return 0;
}

int cmd_clean(int argc, char **argv, orch_cli *cli)
{
	orch_strvec plans = {0};
	int error;

	if (cli_wants_help(argc, argv, clean_usage))
		return 0;
	if (argc > 2)
		return cli_usage_error(clean_usage, "unexpected argument '%s'",
		                       argv[2]);
	if ((error = cli_open(cli)) < 0)
		return cli_fail(error);
	if (argc == 2) {
		char *name = NULL;
		if ((error = cli_resolve_plan(&name, cli, argv[1])) < 0)
			return cli_fail(error);
		orch_strvec_push_take(&plans, name);
	} else if ((error = orch_store_list_plans(&plans, cli->store)) < 0) {
		return cli_fail(error);
	}
	for (size_t i = 0; i < plans.count; i++)
		if ((error = clean_plan(cli, plans.items[i])) < 0)
			break;
	orch_strvec_free(&plans);
	return error < 0 ? cli_fail(error) : 0;
}
