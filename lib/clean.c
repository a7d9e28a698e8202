#include "clean.h"
#include "error.h"
#include "lease.h"
#include "run.h"
#include "task.h"
#include "worker.h"

#include <stdio.h>
#include <stdlib.h>

/* Break the leases and locks of `plan` that nobody renews any more. */
static int break_stale(int *out, orch_store *store, const char *plan)
{
	orch_strvec locks = {0};
	int error;

	*out = 0;
	if ((error = orch_lease_list(&locks, store, plan)) < 0)
		return error;
	for (size_t i = 0; i < locks.count; i++) {
		orch_lease lease = {0};
		git_oid seen;
		if (orch_lease_read(&lease, &seen, store, plan,
		                    locks.items[i]) == 0 &&
		    orch_run_lease_is_stale(&lease) &&
		    orch_lease_break(NULL, store, plan, locks.items[i], &seen,
		                     NULL) == 0)
			(*out)++;
		orch_lease_clear(&lease);
	}
	orch_strvec_free(&locks);
	return 0;
}

/* 1 when task `id` runs under a lease (after the stale ones were broken). */
static int held(orch_store *store, const char *plan, const char *id)
{
	orch_lease lease = {0};
	char lock[256];
	int found;

	snprintf(lock, sizeof(lock), "task/%s", id);
	found = orch_lease_read(&lease, NULL, store, plan, lock) == 0;
	orch_lease_clear(&lease);
	return found;
}

static int delete_branch(int *deleted, git_repository *repo, const char *plan,
                         const char *id)
{
	git_reference *ref = NULL;
	char branch[512];
	int error;

	snprintf(branch, sizeof(branch), "refs/heads/orchestrate/%s/%s", plan,
	         id);
	if ((error = git_reference_lookup(&ref, repo, branch)) == GIT_ENOTFOUND)
		return 0;
	if (error == 0 && (error = git_reference_delete(ref)) == 0)
		(*deleted)++;
	git_reference_free(ref);
	return error < 0 ? orch_error_git(error, "cannot delete '%s'", branch)
	                 : 0;
}

static const orch_worker_config here = {.name = "local", .host = "local"};

/* Remove the worktree kept at `location` by worker `worker`. */
static int remove_kept(git_repository *repo, const orch_config *config,
                       const char *worker, const char *location)
{
	const orch_worker_config *wc = NULL;

	if (config && worker)
		wc = orch_config_worker(config, worker);
	if (!wc)
		wc = &here;
	return orch_worker_kind_of(wc)->remove_kept(wc, repo, location);
}

int orch_clean_plan(orch_clean_counts *out, orch_store *store,
                    const orch_config *config, const char *name)
{
	git_repository *repo = orch_store_repo(store);
	orch_plan *plan = NULL;
	orch_task_state *states = NULL;
	orch_strvec forgotten = {0}, leftover = {0};
	int error;

	out->worktrees = out->branches = out->locks = 0;
	if ((error = orch_store_load_plan(&plan, NULL, store, name)) < 0)
		return error;
	states = orch_calloc(plan->ntasks + 1, sizeof(*states));
	for (size_t i = 0; i < plan->ntasks; i++)
		orch_task_state_init(&states[i]);
	if ((error = orch_store_read_states(states, NULL, store, plan)) < 0)
		goto done;
	/* stale locks first: a live one means its task is still running */
	if ((error = break_stale(&out->locks, store, name)) < 0)
		goto done;
	for (size_t i = 0; i < plan->ntasks; i++) {
		const char *id = plan->tasks[i].id;
		if (states[i].state == ORCH_STATE_RUNNING &&
		    held(store, name, id))
			continue; /* running: leave it alone */
		if (states[i].worktree) {
			if ((error = remove_kept(repo, config, states[i].worker,
			                         states[i].worktree)) < 0)
				goto done;
			orch_strvec_push(&forgotten, id);
			out->worktrees++;
		}
		if (states[i].state == ORCH_STATE_MERGED &&
		    (error = delete_branch(&out->branches, repo, name, id)) < 0)
			goto done;
	}
	if (forgotten.count) {
		error =
		    orch_task_forget_worktrees_stored(store, name, &forgotten);
		if (error == ORCH_ENOCHANGE)
			error = 0;
		if (error < 0)
			goto done;
	}
	/*
	 * Slots of this machine kept for the plan's failed attempts that its
	 * state forgot (a retry's new attempt took the task over): nothing
	 * else would ever remove them.
	 */
	if ((error = orch_worker_local_kind.list_kept(&leftover, &here, repo,
	                                              name)) < 0)
		goto done;
	for (size_t i = 0; i < leftover.count; i++) {
		if ((error = orch_worker_local_kind.remove_kept(
		         &here, repo, leftover.items[i])) < 0)
			goto done;
		out->worktrees++;
	}
	/* the same on the other configured workers that can list theirs */
	for (size_t w = 0; config && w < config->nworkers; w++) {
		const orch_worker_config *wc = &config->workers[w];
		const orch_worker_kind *kind = orch_worker_kind_of(wc);
		if (kind == &orch_worker_local_kind || !kind->list_kept)
			continue;
		orch_strvec_free(&leftover);
		if ((error = kind->list_kept(&leftover, wc, repo, name)) < 0)
			goto done;
		for (size_t i = 0; i < leftover.count; i++) {
			if ((error = kind->remove_kept(wc, repo,
			                               leftover.items[i])) < 0)
				goto done;
			out->worktrees++;
		}
	}
done:
	for (size_t i = 0; plan && i < plan->ntasks; i++)
		orch_task_state_clear(&states[i]);
	free(states);
	orch_strvec_free(&forgotten);
	orch_strvec_free(&leftover);
	orch_plan_free(plan);
	return error;
}
