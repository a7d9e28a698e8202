/* git orchestrate clean [PLAN]: worktrees, merged branches, stale locks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "clean.h"
#include "util.h"
#include "synopsis.h"

static const char clean_usage[] = SYNOPSIS_CLEAN;

static int clean_plan(orch_cli *cli, const orch_config *config,
                      const char *name)
{
	orch_clean_counts n;
	int error;

	if ((error = orch_clean_plan(&n, cli->store, config, name)) < 0)
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
	orch_config *config = NULL;
	int error;

	if (cli_wants_help(argc, argv, clean_usage))
		return 0;
	if (argc > 2)
		return cli_usage_error(clean_usage, "unexpected argument '%s'",
		                       argv[2]);
	/* the configuration says which kind of worker kept a worktree */
	if ((error = cli_open(cli)) < 0 ||
	    (error = cli_load_config(&config, cli)) < 0)
		return cli_fail(error);
	if (argc == 2) {
		char *name = NULL;
		if ((error = cli_resolve_plan(&name, cli, argv[1])) < 0)
			goto done;
		orch_strvec_push_take(&plans, name);
	} else if ((error = orch_store_list_plans(&plans, cli->store)) < 0) {
		goto done;
	}
	for (size_t i = 0; i < plans.count; i++)
		if ((error = clean_plan(cli, config, plans.items[i])) < 0)
			break;
done:
	orch_strvec_free(&plans);
	orch_config_free(config);
	return error < 0 ? cli_fail(error) : 0;
}
