/* The stored plans as a whole: list them with their counts, forget one. */
#include "plans.h"
#include "clean.h"
#include "error.h"
#include "lease.h"
#include "run.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void summary_clear(orch_plan_summary *summary)
{
	free(summary->name);
	free(summary->base);
	free(summary->base_commit);
	free(summary->change);
}

void orch_plans_free(orch_plan_summary *list, size_t count)
{
	for (size_t i = 0; list && i < count; i++)
		summary_clear(&list[i]);
	free(list);
}

/*
 * The first live lease of `plan` into *out_name (NULL when none) and
 * *out_lease: one whose holder still renews it.
 */
static int live_lease(char **out_name, orch_lease *out_lease, orch_store *store,
                      const char *plan)
{
	orch_strvec names = {0};
	int error;

	*out_name = NULL;
	if ((error = orch_lease_list(&names, store, plan)) < 0)
		return error;
	for (size_t i = 0; i < names.count && !*out_name; i++) {
		orch_lease lease = {0};
		if (orch_lease_read(&lease, NULL, store, plan,
		                    names.items[i]) == 0 &&
		    !orch_run_lease_is_stale(&lease)) {
			*out_name = orch_strdup(names.items[i]);
			*out_lease = lease;
			continue;
		}
		orch_lease_clear(&lease);
	}
	orch_strvec_free(&names);
	return 0;
}

static int summarize(orch_plan_summary *out, orch_store *store,
                     const char *name)
{
	orch_plan *plan = NULL;
	orch_task_state *states = NULL;
	git_commit *commit = NULL;
	git_oid head;
	orch_lease lease = {0};
	char *held = NULL;
	int error;

	out->name = orch_strdup(name);
	if ((error = orch_store_load_plan(&plan, &head, store, name)) < 0)
		return error;
	states = orch_calloc(plan->ntasks + 1, sizeof(*states));
	for (size_t i = 0; i < plan->ntasks; i++)
		orch_task_state_init(&states[i]);
	if ((error = orch_store_read_states(states, &head, store, plan)) < 0)
		goto done;
	if ((error = git_commit_lookup(&commit, orch_store_repo(store),
	                               &head)) < 0) {
		error = orch_error_git(error, "cannot read plan '%s'", name);
		goto done;
	}
	if ((error = live_lease(&held, &lease, store, name)) < 0)
		goto done;
	out->running = held != NULL;
	out->base = plan->base ? orch_strdup(plan->base) : NULL;
	out->base_commit =
	    plan->base_commit ? orch_strdup(plan->base_commit) : NULL;
	out->ntasks = plan->ntasks;
	for (size_t i = 0; i < plan->ntasks; i++)
		out->counts[states[i].state]++;
	git_oid_tostr(out->head, sizeof(out->head), &head);
	out->changed_ms = (int64_t)git_commit_time(commit) * 1000;
	out->change = orch_strdup(
	    git_commit_summary(commit) ? git_commit_summary(commit) : "");
done:
	free(held);
	orch_lease_clear(&lease);
	git_commit_free(commit);
	for (size_t i = 0; plan && i < plan->ntasks; i++)
		orch_task_state_clear(&states[i]);
	free(states);
	orch_plan_free(plan);
	return error;
}

int orch_plans_list(orch_plan_summary **out, size_t *count, orch_store *store)
{
	orch_strvec names = {0};
	orch_plan_summary *list = NULL;
	size_t n = 0;
	int error;

	*out = NULL;
	*count = 0;
	if ((error = orch_store_list_plans(&names, store)) < 0)
		return error;
	list = orch_calloc(names.count + 1, sizeof(*list));
	for (n = 0; n < names.count; n++)
		if ((error = summarize(&list[n], store, names.items[n])) < 0) {
			n++;
			goto done;
		}
done:
	orch_strvec_free(&names);
	if (error < 0) {
		orch_plans_free(list, n);
		return error;
	}
	*out = list;
	*count = n;
	return 0;
}

void orch_forget_result_clear(orch_forget_result *result)
{
	for (size_t i = 0; i < result->nbranches; i++)
		free(result->branches[i].task);
	free(result->branches);
	memset(result, 0, sizeof(*result));
}

/* The plan is running: say which lease, held by whom, and what to do. */
static int refuse_running(const char *plan, const char *name,
                          const orch_lease *lease)
{
	char until[64] = "?", what[300];
	time_t secs = (time_t)(lease->expires_ms / 1000);
	struct tm tm;

	if (localtime_r(&secs, &tm))
		strftime(until, sizeof(until), "%Y-%m-%d %H:%M:%S", &tm);
	if (!strncmp(name, "task/", 5))
		snprintf(what, sizeof(what), "task '%s'", name + 5);
	else
		snprintf(what, sizeof(what), "lock '%s'", name);
	orch_error_set("plan '%s' is running: %s is held by pid %d on %s "
	               "until %s (lease refs/orchestrate/locks/%s/%s)",
	               plan, what, lease->pid,
	               lease->host ? lease->host : "an unknown host", until,
	               plan, name);
	orch_error_hint("stop that run first (Ctrl-C in its terminal, or "
	                "'kill %d' on %s), then forget the plan; a lease "
	                "nobody renews expires within %d s",
	                lease->pid, lease->host ? lease->host : "its host",
	                ORCH_LEASE_TTL_MS / 1000);
	return ORCH_ELOCKED;
}

/* The task branches of `plan`: refs/heads/orchestrate/<plan>/<task>. */
static int list_branches(orch_strvec *out, git_repository *repo,
                         const char *plan)
{
	git_reference_iterator *iter = NULL;
	char glob[400];
	const char *refname;
	size_t prefix;
	int error;

	prefix = (size_t)snprintf(glob, sizeof(glob),
	                          "refs/heads/orchestrate/%s/", plan);
	strcat(glob, "*");
	if ((error = git_reference_iterator_glob_new(&iter, repo, glob)) < 0)
		return orch_error_git(error, "cannot list '%s'", glob);
	while ((error = git_reference_next_name(&refname, iter)) == 0)
		if (!strchr(refname + prefix, '/'))
			orch_strvec_push(out, refname);
	git_reference_iterator_free(iter);
	if (error != GIT_ITEROVER)
		return orch_error_git(error, "cannot list '%s'", glob);
	return 0;
}

/* A task branch checked out in a worktree cannot go: say where. */
static int check_not_checked_out(git_repository *repo,
                                 const orch_strvec *branches)
{
	for (size_t i = 0; i < branches->count; i++) {
		git_reference *ref = NULL;
		int out;
		if (git_reference_lookup(&ref, repo, branches->items[i]) < 0)
			continue;
		out = git_branch_is_checked_out(ref);
		git_reference_free(ref);
		if (out == 1) {
			orch_error_set("branch '%s' is checked out in a "
			               "worktree",
			               branches->items[i] +
			                   strlen("refs/heads/"));
			orch_error_hint("'git worktree list' shows where; "
			                "remove that worktree, then forget the "
			                "plan again");
			return ORCH_ELOCKED;
		}
	}
	return 0;
}

static int delete_branches(orch_forget_result *out, git_repository *repo,
                           const char *plan, const orch_strvec *branches)
{
	size_t prefix = strlen("refs/heads/orchestrate/") + strlen(plan) + 1;

	out->branches =
	    orch_calloc(branches->count + 1, sizeof(*out->branches));
	for (size_t i = 0; i < branches->count; i++) {
		const char *refname = branches->items[i];
		orch_forgotten_branch *b = &out->branches[out->nbranches];
		git_reference *ref = NULL;
		int error = git_reference_lookup(&ref, repo, refname);
		if (error == GIT_ENOTFOUND)
			continue;
		if (error == 0 && git_reference_target(ref))
			git_oid_tostr(b->commit, sizeof(b->commit),
			              git_reference_target(ref));
		/* deleted only if it still has the value just read */
		if (error == 0)
			error = git_reference_delete(ref);
		git_reference_free(ref);
		if (error < 0)
			return orch_error_git(error, "cannot delete '%s'",
			                      refname);
		b->task = orch_strdup(refname + prefix);
		out->nbranches++;
	}
	return 0;
}

int orch_plans_forget(orch_forget_result *out, orch_store *store,
                      const orch_config *config, const char *name)
{
	git_repository *repo = orch_store_repo(store);
	orch_plan *plan = NULL;
	orch_clean_counts cleaned;
	orch_strvec branches = {0}, stale = {0};
	orch_lease lease = {0};
	char *held = NULL;
	int error;

	memset(out, 0, sizeof(*out));
	if ((error = orch_store_load_plan(&plan, NULL, store, name)) < 0)
		return error;
	/* a run holding a lease would go on writing the plan: refuse */
	if ((error = live_lease(&held, &lease, store, name)) < 0)
		goto done;
	if (held) {
		error = refuse_running(name, held, &lease);
		goto done;
	}
	/* kept worktrees first: they may have a task branch checked out */
	if ((error = orch_clean_plan(&cleaned, store, config, name)) < 0)
		goto done;
	out->worktrees = cleaned.worktrees;
	out->locks = cleaned.locks;
	out->merged = cleaned.branches;
	if ((error = list_branches(&branches, repo, name)) < 0 ||
	    (error = check_not_checked_out(repo, &branches)) < 0)
		goto done;
	/* what is left: branches of tasks not merged (clean took the rest) */
	if ((error = delete_branches(out, repo, name, &branches)) < 0)
		goto done;
	if ((error = orch_lease_list(&stale, store, name)) < 0)
		goto done;
	out->locks += (int)stale.count;
	/* the plan ref last: until it goes, forget can be run again */
	error = orch_store_delete_plan(store, name);
done:
	free(held);
	orch_lease_clear(&lease);
	orch_strvec_free(&branches);
	orch_strvec_free(&stale);
	orch_plan_free(plan);
	return error;
}

void orch_task_record_clear(orch_task_record *record)
{
	orch_task_state_clear(&record->state);
	orch_buf_free(&record->log);
	record->has_log = 0;
}

int orch_plans_read_task(orch_task_record *out, orch_store *store,
                         const char *name, const char *id)
{
	orch_plan *plan = NULL;
	orch_buf json = {0};
	int error;

	memset(out, 0, sizeof(*out));
	orch_task_state_init(&out->state);
	if ((error = orch_store_load_plan(&plan, NULL, store, name)) < 0)
		return error;
	if (orch_plan_find(plan, id) < 0) {
		orch_error_set("plan '%s' has no task '%s'", name, id);
		orch_error_hint("'git orchestrate status %s' lists its tasks",
		                name);
		error = ORCH_ENOTFOUND;
		goto done;
	}
	if ((error = orch_store_task_path(
	         out->state_path, sizeof(out->state_path), plan, id)) < 0 ||
	    (error = orch_store_log_path(out->log_path, sizeof(out->log_path),
	                                 plan, id)) < 0)
		goto done;
	error = orch_store_read_file(&json, store, name, out->state_path);
	if (error == 0)
		error =
		    orch_task_state_from_json(&out->state, json.ptr, json.len);
	else if (error == ORCH_ENOTFOUND)
		error = 0; /* never changed since the plan was stored */
	if (error < 0)
		goto done;
	error = orch_store_read_file(&out->log, store, name, out->log_path);
	out->has_log = error == 0;
	if (error == ORCH_ENOTFOUND) {
		orch_error_clear();
		error = 0;
	}
done:
	orch_buf_free(&json);
	orch_plan_free(plan);
	return error;
}
