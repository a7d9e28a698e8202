/*
 * git-orchestrate: run a plan of tasks in parallel worktrees and merge the
 * results back. This file owns argv: the global options and the table of
 * subcommands, like git.c's commands[].
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <git2.h>

#include "cmd.h"

struct command {
	const char *name;
	cmd_fn fn;
	const char *summary;
};

static const struct command commands[] = {
    {"init", cmd_init, "write a starter orchestrate.ini and example plan"},
    {"plan", cmd_plan, "validate and store a plan (or --dry-run, --simulate)"},
    {"run", cmd_run, "run a plan's tasks on local slots or workers"},
    {"status", cmd_status, "show the state of a plan's tasks"},
    {"plans", cmd_plans, "list the stored plans with their counts by state"},
    {"forget", cmd_forget, "delete a stored plan, its branches and locks"},
    {"log", cmd_log, "show the state log of a plan"},
    {"merge", cmd_merge, "analyse and merge done tasks into the base branch"},
    {"rollback", cmd_rollback, "undo the last merge of a plan"},
    {"workers", cmd_workers, "list workers; check: reach each over SSH"},
    {"set", cmd_set, "change priority, timeout, retries or needs of a task"},
    {"cancel", cmd_cancel, "cancel a task"},
    {"retry", cmd_retry, "make a failed task ready again"},
    {"clean", cmd_clean, "remove worktrees, merged branches, stale locks"},
    {"hook", cmd_hook, "post-receive|pre-receive: run by the hub's hooks"},
    {"hooks", cmd_hooks, "install the hook shims into a (bare) repository"},
    {"sync", cmd_sync, "exchange plan state with a shared remote"},
    {"share", cmd_share, "from a running task: a finding for later tasks"},
};

static void usage(FILE *out)
{
	fprintf(
	    out,
	    "usage: git orchestrate [--config FILE] <command> [<args>]\n\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(out, "   %-10s %s\n", commands[i].name,
		        commands[i].summary);
	fprintf(out,
	        "\n'git orchestrate <command> -h' shows a command's options\n");
}

int main(int argc, char **argv)
{
	orch_cli cli = {0};
	char **args = calloc((size_t)argc + 1, sizeof(char *));
	int nargs = 0, status;
	const struct command *cmd = NULL;

	if (!args)
		return 1;
	/* --config FILE is accepted anywhere before "--" */
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--")) {
			while (i < argc)
				args[nargs++] = argv[i++];
			break;
		}
		if (!strcmp(argv[i], "--config")) {
			if (i + 1 >= argc) {
				fprintf(stderr,
				        "error: --config needs a file\n");
				free(args);
				return ORCH_EXIT_USAGE;
			}
			cli.config_path = argv[++i];
		} else if (!strncmp(argv[i], "--config=", 9)) {
			cli.config_path = argv[i] + 9;
		} else {
			args[nargs++] = argv[i];
		}
	}
	if (nargs == 0 || !strcmp(args[0], "-h") ||
	    !strcmp(args[0], "--help") || !strcmp(args[0], "help")) {
		usage(nargs == 0 ? stderr : stdout);
		free(args);
		return nargs == 0 ? ORCH_EXIT_USAGE : 0;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(args[0], commands[i].name))
			cmd = &commands[i];
	if (!cmd) {
		fprintf(stderr,
		        "error: '%s' is not a git orchestrate command\n",
		        args[0]);
		usage(stderr);
		free(args);
		return ORCH_EXIT_USAGE;
	}
	git_libgit2_init();
	status = cmd->fn(nargs, args, &cli);
	cli_close(&cli);
	git_libgit2_shutdown();
	free(args);
	return status;
}
