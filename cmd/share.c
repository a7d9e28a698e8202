/*
 * git orchestrate share TEXT: from inside a running task, a finding for the
 * tasks that start later. It appends to $ORCHESTRATE_SHARE_FILE, the file
 * the orchestrator reads when the attempt ends (also on SSH workers, where
 * there is no plan state to write to): it opens no repository.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "shared.h"
#include "synopsis.h"

static const char share_usage[] = SYNOPSIS_SHARE;

int cmd_share(int argc, char **argv, orch_cli *cli)
{
	const char *file = getenv("ORCHESTRATE_SHARE_FILE"), *text = NULL;
	const char *task = getenv("ORCHESTRATE_TASK");
	int error, i = 1;

	(void)cli;
	if (cli_wants_help(argc, argv, share_usage))
		return 0;
	if (i < argc && !strcmp(argv[i], "--"))
		i++;
	else if (i < argc && argv[i][0] == '-' && argv[i][1])
		return cli_usage_error(share_usage,
		                       "unknown option '%s' (a finding that "
		                       "starts with '-' goes after '--')",
		                       argv[i]);
	if (i >= argc)
		return cli_usage_error(share_usage, "give the finding's text");
	if (i + 1 < argc)
		return cli_usage_error(
		    share_usage,
		    "give the finding as one argument (quote "
		    "it): unexpected '%s'",
		    argv[i + 1]);
	text = argv[i];
	if (!file || !*file || !task || !*task) {
		orch_error_set("not inside a running task: "
		               "ORCHESTRATE_SHARE_FILE is not set");
		orch_error_hint("run 'git orchestrate share' from the command "
		                "of a task that 'git orchestrate run' started");
		return cli_fail(ORCH_EINVALID);
	}
	if ((error = orch_shared_append(file, text)) < 0)
		return cli_fail(error);
	return 0;
}
