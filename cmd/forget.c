/* git orchestrate forget PLAN: delete a stored plan and what it left. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "plans.h"
#include "util.h"
#include "synopsis.h"

static const char forget_usage[] = SYNOPSIS_FORGET;

int cmd_forget(int argc, char **argv, orch_cli *cli)
{
	orch_forget_result result = {0};
	orch_config *config = NULL;
	char *name = NULL;
	int error;

	if (cli_wants_help(argc, argv, forget_usage))
		return 0;
	if (argc < 2)
		return cli_usage_error(forget_usage, "give the plan to forget");
	if (argc > 2)
		return cli_usage_error(forget_usage, "unexpected argument '%s'",
		                       argv[2]);
	if (argv[1][0] == '-')
		return cli_usage_error(forget_usage, "unknown option '%s'",
		                       argv[1]);
	/* the configuration says which kind of worker kept a worktree */
	if ((error = cli_open(cli)) < 0 ||
	    (error = cli_resolve_plan(&name, cli, argv[1])) < 0 ||
	    (error = cli_load_config(&config, cli)) < 0 ||
	    (error = orch_plans_forget(&result, cli->store, config, name)) < 0)
		goto done;
	for (size_t i = 0; i < result.nbranches; i++)
		printf("deleted branch orchestrate/%s/%s (was %.7s)\n", name,
		       result.branches[i].task, result.branches[i].commit);
	printf("forgot plan %s: %zu unmerged branch%s, %d merged branch%s, "
	       "%d kept worktree%s, %d stale lock%s removed\n",
	       name, result.nbranches, result.nbranches == 1 ? "" : "es",
	       result.merged, result.merged == 1 ? "" : "es", result.worktrees,
	       result.worktrees == 1 ? "" : "s", result.locks,
	       result.locks == 1 ? "" : "s");
done:
	orch_forget_result_clear(&result);
	orch_config_free(config);
	free(name);
	return error < 0 ? cli_fail(error) : 0;
}
