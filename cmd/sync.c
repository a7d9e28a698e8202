/* git orchestrate sync [REMOTE]: exchange plan state with a shared remote. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "sync.h"
#include "util.h"
#include "synopsis.h"

static const char sync_usage[] = SYNOPSIS_SYNC;

static const char *action_text(orch_sync_action action)
{
	switch (action) {
	case ORCH_SYNC_FETCHED:
		return "fetched";
	case ORCH_SYNC_PUSHED:
		return "pushed";
	case ORCH_SYNC_MERGED:
		return "merged";
	case ORCH_SYNC_REFUSED:
		return "refused";
	default:
		return "up to date";
	}
}

static int print_report(const orch_sync_report *report, const char *remote)
{
	int refused = 0;

	if (!report->nplans)
		printf("no plans here or on '%s'\n", remote);
	for (size_t i = 0; i < report->nplans; i++) {
		const orch_sync_plan_result *r = &report->plans[i];
		if (r->action == ORCH_SYNC_MERGED)
			printf("%s: merged %zu task%s\n", r->plan,
			       r->tasks_merged,
			       r->tasks_merged == 1 ? "" : "s");
		else
			printf("%s: %s\n", r->plan, action_text(r->action));
		if (r->action == ORCH_SYNC_REFUSED) {
			fprintf(stderr, "error: %s\n", r->why);
			refused = 1;
		}
	}
	if (report->branches_fetched || report->branches_pushed)
		printf("task branches: %zu fetched, %zu pushed\n",
		       report->branches_fetched, report->branches_pushed);
	if (report->notes != ORCH_SYNC_UP_TO_DATE)
		printf("notes: %s\n", action_text(report->notes));
	return refused;
}

int cmd_sync(int argc, char **argv, orch_cli *cli)
{
	orch_sync_report report = {0};
	char *remote = NULL;
	int error, refused;

	if (cli_wants_help(argc, argv, sync_usage))
		return 0;
	if (argc > 1 && argv[1][0] == '-' && strcmp(argv[1], "--"))
		return cli_usage_error(sync_usage, "unknown option '%s'",
		                       argv[1]);
	if (argc > 1 && !strcmp(argv[1], "--")) {
		argv++;
		argc--;
	}
	if (argc > 2)
		return cli_usage_error(sync_usage, "unexpected argument '%s'",
		                       argv[2]);
	if ((error = cli_open(cli)) < 0)
		goto fail;
	if (argc > 1)
		remote = orch_strdup(argv[1]);
	else if ((error = orch_sync_default_remote(&remote, cli->repo)) < 0)
		goto fail;
	if ((error = orch_sync_run(&report, cli->repo, remote)) < 0)
		goto fail;
	refused = print_report(&report, remote);
	orch_sync_report_clear(&report);
	free(remote);
	return refused ? ORCH_EXIT_FAILED : ORCH_EXIT_OK;
fail:
	/* what was done before the failure */
	if (report.nplans)
		print_report(&report, remote);
	orch_sync_report_clear(&report);
	free(remote);
	return error == ORCH_ENOTFOUND || error == ORCH_EEXISTS
	           ? (cli_print_error(), ORCH_EXIT_FAILED)
	           : cli_fail(error);
}
