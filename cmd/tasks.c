/* git orchestrate cancel|retry PLAN TASK: change one task's state. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "graph.h"
#include "plan.h"
#include "util.h"

struct change {
	const orch_plan *plan;
	const char *task;
	int cancel;
	orch_state before; /* out */
};

/*
 * Tasks skipped because of `task` (its dependents, transitively) become
 * pending again: one walk over the reverse edges.
 */
static int unskip_dependents(orch_txn *txn, const orch_plan *plan, long task)
{
	orch_graph *graph = NULL;
	size_t *queue = NULL, head = 0, tail = 0;
	char *seen = NULL;
	int error;

	if ((error = orch_graph_build(&graph, plan, NULL)) < 0)
		return error;
	queue = orch_malloc((plan->ntasks + 1) * sizeof(size_t));
	seen = orch_calloc(plan->ntasks + 1, 1);
	queue[tail++] = (size_t)task;
	seen[task] = 1;
	while (head < tail && error == 0) {
		size_t t = queue[head++];
		for (size_t k = graph->rdep_start[t];
		     k < graph->rdep_start[t + 1] && error == 0; k++) {
			size_t d = graph->rdeps[k];
			orch_task_state st;
			if (seen[d])
				continue;
			seen[d] = 1;
			orch_task_state_init(&st);
			if ((error = orch_txn_get_task(
			         &st, txn, plan->tasks[d].id)) == 0 &&
			    st.state == ORCH_STATE_SKIPPED) {
				st.state = ORCH_STATE_PENDING;
				free(st.error);
				st.error = NULL;
				error = orch_txn_put_task(
				    txn, plan->tasks[d].id, &st);
				queue[tail++] = d;
			}
			orch_task_state_clear(&st);
		}
	}
	free(queue);
	free(seen);
	orch_graph_free(graph);
	return error;
}

static int change_cb(orch_txn *txn, void *payload)
{
	struct change *c = payload;
	orch_task_state st;
	long pos;
	int error;

	orch_task_state_init(&st);
	c->plan = orch_txn_plan(txn);
	if ((pos = orch_plan_find(c->plan, c->task)) < 0) {
		orch_error_set("plan '%s' has no task '%s'", c->plan->name,
		               c->task);
		orch_error_hint("'git orchestrate status %s' lists its tasks",
		                c->plan->name);
		error = ORCH_EINVALID;
		goto done;
	}
	if ((error = orch_txn_get_task(&st, txn, c->task)) < 0)
		goto done;
	c->before = st.state;
	if (c->cancel) {
		if (orch_state_is_final(st.state) &&
		    st.state != ORCH_STATE_FAILED &&
		    st.state != ORCH_STATE_TIMEOUT) {
			orch_error_set(
			    "task '%s' is %s: there is nothing to cancel",
			    c->task, orch_state_name(st.state));
			error = ORCH_EINVALID;
			goto done;
		}
		if (st.state == ORCH_STATE_FAILED ||
		    st.state == ORCH_STATE_TIMEOUT) {
			error = ORCH_ENOCHANGE;
			goto done;
		}
		st.state = ORCH_STATE_CANCELLED;
		free(st.error);
		st.error = orch_strdup("cancelled by 'git orchestrate cancel'");
		orch_txn_message(txn, "%s: cancelled", c->task);
	} else {
		if (!orch_state_is_final(st.state) ||
		    st.state == ORCH_STATE_DONE ||
		    st.state == ORCH_STATE_MERGED) {
			orch_error_set("task '%s' is %s: only a task that "
			               "failed, timed out, was "
			               "cancelled, skipped, conflicted or was "
			               "rejected can be retried",
			               c->task, orch_state_name(st.state));
			error = ORCH_EINVALID;
			goto done;
		}
		st.state = c->plan->tasks[pos].depends.count
		               ? ORCH_STATE_PENDING
		               : ORCH_STATE_READY;
		st.not_before_ms = 0;
		free(st.error);
		st.error = NULL;
		orch_strvec_free(&st.paths);
		orch_txn_message(txn, "%s: retry requested (was %s)", c->task,
		                 orch_state_name(c->before));
	}
	if ((error = orch_txn_put_task(txn, c->task, &st)) < 0)
		goto done;
	if (!c->cancel)
		error = unskip_dependents(txn, c->plan, pos);
done:
	orch_task_state_clear(&st);
	return error;
}

static int change_task(int argc, char **argv, orch_cli *cli, int cancel)
{
	const char *usage = cancel ? "git orchestrate cancel PLAN TASK"
	                           : "git orchestrate retry PLAN TASK";
	struct change change = {0};
	char *name = NULL, refname[300];
	git_oid head;
	int error;

	if (cli_wants_help(argc, argv, usage))
		return 0;
	if (argc != 3)
		return cli_usage_error(usage, "give the plan and the task");
	if ((error = cli_open(cli)) < 0 ||
	    (error = cli_resolve_plan(&name, cli, argv[1])) < 0)
		goto fail;
	snprintf(refname, sizeof(refname), "refs/orchestrate/plans/%s", name);
	if (git_reference_name_to_id(&head, cli->repo, refname) < 0) {
		orch_error_set("no plan '%s' (no ref %s)", name, refname);
		orch_error_hint(
		    "'git orchestrate status' lists the stored plans");
		error = ORCH_EINVALID;
		goto fail;
	}
	change.task = argv[2];
	change.cancel = cancel;
	error = orch_store_update(cli->store, name, change_cb, &change, NULL);
	if (error == ORCH_ENOCHANGE) {
		printf("%s: already %s\n", argv[2],
		       orch_state_name(change.before));
	} else if (error < 0) {
		goto fail;
	} else if (cancel) {
		printf("%s: cancelled%s\n", argv[2],
		       change.before == ORCH_STATE_RUNNING
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
