/* git orchestrate clean [PLAN]: worktrees, merged branches, stale locks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "plan.h"
#include "run.h"
#include "worker.h"
#include "util.h"

static const char clean_usage[] = "git orchestrate clean [PLAN]";

static int forget_worktree_cb(orch_txn *txn, void *payload)
{
	const orch_strvec *ids = payload;
	int error = 0, changed = 0;

	for (size_t i = 0; i < ids->count && error == 0; i++) {
		orch_task_state st;
		orch_task_state_init(&st);
		if ((error = orch_txn_get_task(&st, txn, ids->items[i])) == 0 &&
		    st.worktree) {
			free(st.worktree);
			st.worktree = NULL;
			error = orch_txn_put_task(txn, ids->items[i], &st);
			changed++;
		}
		orch_task_state_clear(&st);
	}
	if (error < 0)
		return error;
	if (!changed)
		return ORCH_ENOCHANGE;
	orch_txn_message(txn, "clean: %d kept worktree%s removed", changed,
	                 changed == 1 ? "" : "s");
	return 0;
}

static int clean_plan(orch_cli *cli, const char *name)
{
	orch_plan *plan = NULL;
	orch_task_state *states = NULL;
	orch_strvec locks = {0}, forgotten = {0};
	int error, worktrees = 0, branches = 0, stale = 0;

	if ((error = orch_store_load_plan(&plan, NULL, cli->store, name)) < 0)
		return error;
	states = orch_calloc(plan->ntasks + 1, sizeof(*states));
	for (size_t i = 0; i < plan->ntasks; i++)
		orch_task_state_init(&states[i]);
	if ((error = orch_store_read_states(states, NULL, cli->store, plan)) <
	    0)
		goto done;
	/* stale locks first: a live one means its task is still running */
	if ((error = orch_store_lease_list(&locks, cli->store, name)) < 0)
		goto done;
	for (size_t i = 0; i < locks.count; i++) {
		orch_lease lease = {0};
		git_oid seen;
		if (orch_store_lease_read(&lease, &seen, cli->store, name,
		                          locks.items[i]) == 0 &&
		    orch_run_lease_is_stale(&lease) &&
		    orch_store_lease_break(NULL, cli->store, name,
		                           locks.items[i], &seen, NULL) == 0)
			stale++;
		orch_lease_clear(&lease);
	}
	for (size_t i = 0; i < plan->ntasks; i++) {
		const char *id = plan->tasks[i].id;
		orch_lease lease = {0};
		char lock[256], branch[512];
		snprintf(lock, sizeof(lock), "task/%s", id);
		if (states[i].state == ORCH_STATE_RUNNING &&
		    orch_store_lease_read(&lease, NULL, cli->store, name,
		                          lock) == 0) {
			orch_lease_clear(&lease);
			continue; /* running: leave it alone */
		}
		if (states[i].worktree) {
			if ((error = orch_worker_local_remove(
			         cli->repo, states[i].worktree)) < 0)
				goto done;
			orch_strvec_push(&forgotten, id);
			worktrees++;
		}
		if (states[i].state == ORCH_STATE_MERGED) {
			git_reference *ref = NULL;
			snprintf(branch, sizeof(branch),
			         "refs/heads/orchestrate/%s/%s", name, id);
			if (git_reference_lookup(&ref, cli->repo, branch) ==
			    0) {
				if (git_reference_delete(ref) == 0)
					branches++;
				git_reference_free(ref);
			}
		}
	}
	if (forgotten.count) {
		error = orch_store_update(cli->store, name, forget_worktree_cb,
		                          &forgotten, NULL);
		if (error == ORCH_ENOCHANGE)
			error = 0;
		if (error < 0)
			goto done;
	}
	printf(
	    "%s: removed %d worktree%s, %d merged branch%s, %d stale lock%s\n",
	    name, worktrees, worktrees == 1 ? "" : "s", branches,
	    branches == 1 ? "" : "es", stale, stale == 1 ? "" : "s");
done:
	for (size_t i = 0; i < plan->ntasks; i++)
		orch_task_state_clear(&states[i]);
	free(states);
	orch_strvec_free(&locks);
	orch_strvec_free(&forgotten);
	orch_plan_free(plan);
	return error;
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
