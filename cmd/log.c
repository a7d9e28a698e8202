/* git orchestrate log: the state log of a plan, a git log of its ref. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "util.h"

static const char log_usage[] =
    "git orchestrate log [PLAN] [-- <git log options>]";

int cmd_log(int argc, char **argv, orch_cli *cli)
{
	char *name = NULL, refname[256];
	const char *arg = NULL;
	int error, first_extra = argc;
	char **args;
	int n = 0;

	if (cli_wants_help(argc, argv, log_usage))
		return 0;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--")) {
			first_extra = i + 1;
			break;
		}
		if (arg)
			return cli_usage_error(
			    log_usage, "unexpected argument '%s'", argv[i]);
		arg = argv[i];
	}
	if ((error = cli_open(cli)) < 0 ||
	    (error = cli_resolve_plan(&name, cli, arg)) < 0)
		return cli_fail(error);
	if ((error = orch_store_plan_ref(refname, sizeof(refname), cli->store,
	                                 name)) < 0) {
		free(name);
		return cli_fail(error);
	}
	/*
	 * Formatting, paging and every `git log` option are git's own: there is
	 * no libgit2 API for them, so hand over to git log (argv, no shell),
	 * which pages on a terminal as git does.
	 */
	args = orch_calloc((size_t)(argc - first_extra) + 8, sizeof(char *));
	args[n++] = "git";
	args[n++] = "log";
	args[n++] = "--format=%h %ad %s";
	args[n++] = "--date=format:%Y-%m-%d %H:%M:%S";
	for (int i = first_extra; i < argc; i++)
		args[n++] = argv[i];
	args[n++] = refname;
	args[n++] = "--";
	args[n] = NULL;
	fflush(stdout);
	cli_close(cli);
	execvp("git", args);
	orch_error_os("cannot run git log");
	free(args);
	free(name);
	return cli_fail(ORCH_ERROR);
}
