/* git orchestrate set PLAN TASK KEY=VALUE...: change a task not yet started. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "task.h"
#include "util.h"
#include "synopsis.h"

static const char set_usage[] = SYNOPSIS_SET;

int cmd_set(int argc, char **argv, orch_cli *cli)
{
	orch_strvec assignments = {0};
	char *name = NULL;
	int error;

	if (cli_wants_help(argc, argv, set_usage))
		return 0;
	if (argc < 4)
		return cli_usage_error(set_usage,
		                       "give the plan, the task and at least "
		                       "one KEY=VALUE (priority, timeout, "
		                       "retries or needs)");
	for (int i = 1; i < 3; i++)
		if (argv[i][0] == '-')
			return cli_usage_error(set_usage, "unknown option '%s'",
			                       argv[i]);
	for (int i = 3; i < argc; i++) {
		if (!strchr(argv[i], '=') || argv[i][0] == '=') {
			orch_strvec_free(&assignments);
			return cli_usage_error(set_usage,
			                       "'%s' is not KEY=VALUE (keys: "
			                       "priority, timeout, retries, "
			                       "needs)",
			                       argv[i]);
		}
		orch_strvec_push(&assignments, argv[i]);
	}
	if ((error = cli_open(cli)) < 0 ||
	    (error = cli_resolve_plan(&name, cli, argv[1])) < 0)
		goto done;
	error = orch_task_set_stored(cli->store, name, argv[2], &assignments);
	if (error == ORCH_ENOCHANGE) {
		printf("%s: unchanged (it already has these values)\n",
		       argv[2]);
		error = 0;
	} else if (error == 0) {
		printf("%s:", argv[2]);
		for (size_t i = 0; i < assignments.count; i++)
			printf(" %s", assignments.items[i]);
		printf(" (a running 'git orchestrate run %s' uses it from "
		       "now on)\n",
		       name);
	}
done:
	orch_strvec_free(&assignments);
	free(name);
	return error < 0 ? cli_fail(error) : 0;
}
