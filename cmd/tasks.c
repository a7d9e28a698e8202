/* git orchestrate cancel|retry PLAN TASK: change one task's state. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "task.h"
#include "util.h"
#include "synopsis.h"

static int change_task(int argc, char **argv, orch_cli *cli, int cancel)
{
	const char *usage = cancel ? SYNOPSIS_CANCEL : SYNOPSIS_RETRY;
	orch_state before = ORCH_STATE_PENDING;
	char *name = NULL;
	int error;

	if (cli_wants_help(argc, argv, usage))
		return 0;
	if (argc != 3)
		return cli_usage_error(usage, "give the plan and the task");
	if ((error = cli_open(cli)) < 0 ||
	    (error = cli_resolve_plan(&name, cli, argv[1])) < 0)
		goto fail;
	error =
	    cancel ? orch_task_cancel_stored(&before, cli->store, name, argv[2])
	           : orch_task_retry_stored(&before, cli->store, name, argv[2]);
	if (error == ORCH_ENOCHANGE) {
		printf("%s: already %s\n", argv[2], orch_state_name(before));
	} else if (error < 0) {
		goto fail;
	} else if (cancel) {
		printf("%s: cancelled%s\n", argv[2],
		       before == ORCH_STATE_RUNNING
		           ? " (its run stops it within a second)"
		           : "");
	} else {
		printf("%s: ready to run again; 'git orchestrate run %s' runs "
		       "it\n",
		       argv[2], name);
	}
	free(name);
	return 0;
fail:
	free(name);
	return cli_fail(error);
}

int cmd_cancel(int argc, char **argv, orch_cli *cli)
{
	return change_task(argc, argv, cli, 1);
}

int cmd_retry(int argc, char **argv, orch_cli *cli)
{
	return change_task(argc, argv, cli, 0);
}
