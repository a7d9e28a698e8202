/*
 * Merging at the plan level: the `merge` command, merging one task as soon
 * as it is done, and rollback. Uses the repository-level steps of merge.c
 * and records everything in the plan's state (merges/<n>.json, task
 * states, notes).
 */
#include "merge.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "error.h"
#include "signature.h"
#include "graph.h"
#include "notes.h"
#include "task.h"

void orch_merge_result_init(orch_merge_result *result)
{
	memset(result, 0, sizeof(*result));
}

void orch_merge_result_clear(orch_merge_result *result)
{
	if (!result)
		return;
	free(result->into);
	orch_strvec_free(&result->merged);
	orch_strvec_free(&result->conflicted);
	orch_strvec_free(&result->rejected);
	orch_buf_free(&result->verify_output);
	free(result->push_error);
	memset(result, 0, sizeof(*result));
}

void orch_rollback_result_clear(orch_rollback_result *result)
{
	if (!result)
		return;
	free(result->into);
	memset(result, 0, sizeof(*result));
}

/* ---- reading the plan ------------------------------------------------- */

typedef struct {
	orch_plan *plan;
	orch_task_state *states;
} plan_view;

static void plan_view_free(plan_view *view)
{
	if (view->plan && view->states) {
		for (size_t i = 0; i < view->plan->ntasks; i++)
			orch_task_state_clear(&view->states[i]);
	}
	free(view->states);
	orch_plan_free(view->plan);
	memset(view, 0, sizeof(*view));
}

static int plan_view_load(plan_view *view, orch_store *store, const char *name)
{
	int error;

	memset(view, 0, sizeof(*view));
	if ((error = orch_store_load_plan(&view->plan, NULL, store, name)) < 0)
		return error;
	view->states = orch_calloc(view->plan->ntasks ? view->plan->ntasks : 1,
	                           sizeof(orch_task_state));
	for (size_t i = 0; i < view->plan->ntasks; i++)
		orch_task_state_init(&view->states[i]);
	return orch_store_read_states(view->states, NULL, store, view->plan);
}

/* Order of merging: dependency level, then priority (highest first), then plan
 * order. */
typedef struct {
	size_t pos;
	size_t level;
	int priority;
} merge_key;

static int cmp_key(const void *pa, const void *pb)
{
	const merge_key *a = pa, *b = pb;

	if (a->level != b->level)
		return a->level < b->level ? -1 : 1;
	if (a->priority != b->priority)
		return a->priority > b->priority ? -1 : 1;
	return a->pos < b->pos ? -1 : a->pos > b->pos;
}

/* Positions of the done tasks (or just `only`), in merge order. */
static int done_tasks(size_t **out, size_t *out_count, const plan_view *view,
                      const char *only)
{
	orch_graph *graph = NULL;
	size_t *levels = NULL, nlevels = 0, count = 0;
	merge_key *keys = NULL;
	int error;

	*out = NULL;
	*out_count = 0;
	if ((error = orch_graph_build(&graph, view->plan, NULL)) < 0)
		goto done;
	levels = orch_calloc(graph->n ? graph->n : 1, sizeof(size_t));
	if ((error = orch_graph_levels(levels, &nlevels, graph)) < 0)
		goto done;
	keys = orch_calloc(view->plan->ntasks ? view->plan->ntasks : 1,
	                   sizeof(merge_key));
	for (size_t i = 0; i < view->plan->ntasks; i++) {
		if (view->states[i].state != ORCH_STATE_DONE ||
		    !view->states[i].commit)
			continue;
		if (only && strcmp(only, view->plan->tasks[i].id))
			continue;
		keys[count].pos = i;
		keys[count].level = levels[i];
		keys[count].priority = (int)view->plan->tasks[i].priority;
		count++;
	}
	qsort(keys, count, sizeof(merge_key), cmp_key);
	*out = orch_calloc(count ? count : 1, sizeof(size_t));
	for (size_t i = 0; i < count; i++)
		(*out)[i] = keys[i].pos;
	*out_count = count;
done:
	free(keys);
	free(levels);
	orch_graph_free(graph);
	return error;
}

static int branch_tip(git_oid *out, git_repository *repo, const char *branch);

int orch_merge_analyze_plan(orch_merge_analysis **out, char **out_into,
                            orch_store *store, const char *plan,
                            const char *into)
{
	git_repository *repo = orch_store_repo(store);
	plan_view view = {0};
	size_t *order = NULL, n = 0;
	const char **ids = NULL;
	git_oid *commits = NULL, base;
	int error;

	*out = NULL;
	*out_into = NULL;
	if ((error = plan_view_load(&view, store, plan)) < 0)
		goto done;
	if (!into && !view.plan->base) {
		orch_error_set("plan '%s' has no base branch", view.plan->name);
		orch_error_hint("say which branch with --into BRANCH");
		error = ORCH_EINVALID;
		goto done;
	}
	into = into ? into : view.plan->base;
	if ((error = branch_tip(&base, repo, into)) < 0 ||
	    (error = done_tasks(&order, &n, &view, NULL)) < 0)
		goto done;
	ids = orch_calloc(n ? n : 1, sizeof(char *));
	commits = orch_calloc(n ? n : 1, sizeof(git_oid));
	for (size_t i = 0; i < n; i++) {
		ids[i] = view.plan->tasks[order[i]].id;
		if (git_oid_fromstr(&commits[i], view.states[order[i]].commit) <
		    0) {
			git_error_clear();
			error = orch_error_set(
			    "task '%s' has an invalid result commit '%s'",
			    ids[i], view.states[order[i]].commit);
			goto done;
		}
	}
	if ((error = orch_merge_analyze(out, repo, &base, ids, commits, n, 0)) <
	    0)
		goto done;
	*out_into = orch_strdup(into);
done:
	free(ids);
	free(commits);
	free(order);
	plan_view_free(&view);
	return error;
}

/* ---- verify and bisection ------------------------------------------------ */

typedef struct {
	git_repository *repo;
	const char *plan;
	const char *verify;
	unsigned flags;
	const orch_merge_options *opts;
	orch_merge_result *out;
	orch_merge_item *items; /* the clean items, in merge order */
	size_t n;
	int *verdict;     /* 1 accepted, -1 rejected, 0 not known yet */
	git_oid *merged;  /* merge commit of each accepted item */
	git_oid good_tip; /* the last verified tip */
	const git_oid *base;
	/* trees verified in this merge and their exit status: the same tree
	 * is never verified twice */
	git_oid *trees;
	int *statuses;
	size_t ntrees;
} bisect;

static void emit(const orch_merge_options *opts, const orch_merge_event *event)
{
	if (opts->on_event)
		opts->on_event(event, opts->payload);
}

/*
 * Verify `commit` (merging `ntasks` tasks onto the base), or give the
 * status its tree got earlier in this merge. A failed run leaves its output
 * in out->verify_output.
 */
static int verify_commit(int *out_status, bisect *b, const git_oid *commit,
                         size_t ntasks)
{
	git_commit *c = NULL;
	git_oid tree;
	orch_merge_event event = {0};
	orch_buf output = {0};
	int error, status = -1;

	if ((error = git_commit_lookup(&c, b->repo, commit)) < 0)
		return orch_error_git(error, "cannot read commit %s",
		                      git_oid_tostr_s(commit));
	git_oid_cpy(&tree, git_commit_tree_id(c));
	git_commit_free(c);
	for (size_t i = 0; i < b->ntrees; i++) {
		if (git_oid_equal(&b->trees[i], &tree)) {
			*out_status = b->statuses[i];
			return 0;
		}
	}
	if ((error = orch_merge_verify(&status, &output, b->repo, commit,
	                               b->verify, b->plan)) < 0)
		goto done;
	b->out->verify_runs++;
	b->trees = orch_realloc(b->trees, (b->ntrees + 1) * sizeof(git_oid));
	b->statuses = orch_realloc(b->statuses, (b->ntrees + 1) * sizeof(int));
	git_oid_cpy(&b->trees[b->ntrees], &tree);
	b->statuses[b->ntrees++] = status;
	event.kind = ORCH_MERGE_EVENT_VERIFY;
	event.ntasks = ntasks;
	event.status = status;
	event.commit = commit;
	emit(b->opts, &event);
	if (status != 0) {
		orch_buf_clear(&b->out->verify_output);
		if (output.len)
			orch_buf_put(&b->out->verify_output, output.ptr,
			             output.len);
	}
	*out_status = status;
done:
	orch_buf_free(&output);
	return error;
}

/*
 * Build the accepted items plus cands[] on the base and verify it. When it
 * passes, they all become accepted and good_tip moves to the new tip.
 */
static int try_set(int *out_ok, bisect *b, const size_t *cands, size_t ncands)
{
	orch_merge_item *list = orch_calloc(b->n, sizeof(orch_merge_item));
	size_t *index = orch_calloc(b->n, sizeof(size_t));
	size_t count = 0;
	git_oid tip;
	int error, status = -1, conflicted = 0;

	*out_ok = 0;
	for (size_t i = 0; i < b->n; i++) {
		int take = b->verdict[i] == 1;
		for (size_t j = 0; j < ncands && !take; j++)
			take = cands[j] == i;
		if (!take)
			continue;
		list[count].id = b->items[i].id;
		git_oid_cpy(&list[count].commit, &b->items[i].commit);
		index[count++] = i;
	}
	if ((error = orch_merge_build(&tip, b->repo, b->base, list, count,
	                              b->plan, b->flags)) < 0)
		goto done;
	for (size_t i = 0; i < count; i++)
		conflicted |= list[i].conflicted;
	if (conflicted)
		goto done; /* without the others a task may not merge: count it
		              as failing */
	if ((error = verify_commit(&status, b, &tip, count)) < 0 || status != 0)
		goto done;
	*out_ok = 1;
	for (size_t i = 0; i < count; i++) {
		b->verdict[index[i]] = 1;
		git_oid_cpy(&b->merged[index[i]], &list[i].merged);
	}
	git_oid_cpy(&b->good_tip, &tip);
done:
	for (size_t i = 0; i < count; i++)
		orch_strvec_free(&list[i].paths);
	free(list);
	free(index);
	return error;
}

/* Find which of cands[] break verify; `known_bad`: accepted + cands fails. */
static int resolve(bisect *b, const size_t *cands, size_t n, int known_bad)
{
	int error, ok = 0;

	if (n == 0)
		return 0;
	if (!known_bad) {
		if ((error = try_set(&ok, b, cands, n)) < 0 || ok)
			return error;
	}
	if (n == 1) {
		orch_merge_event event = {0};
		b->verdict[cands[0]] = -1;
		event.kind = ORCH_MERGE_EVENT_REJECTED;
		event.task = b->items[cands[0]].id;
		emit(b->opts, &event);
		return 0;
	}
	if ((error = resolve(b, cands, n / 2, 0)) < 0)
		return error;
	return resolve(b, cands + n / 2, n - n / 2, 0);
}

/* ---- the record and the states ----------------------------------------------
 */

typedef struct {
	const plan_view *view;
	orch_merge_result *out;
	const char *verify;
	int squash;
	orch_merge_item *items; /* every item, conflicted ones included */
	size_t n;
	const int *verdict; /* per item: 1 merged, -1 rejected, 0 conflict */
	git_oid *merged;
	int64_t started_ms;
} record_ctx;

static cJSON *strvec_json(const orch_strvec *vec)
{
	cJSON *array = cJSON_CreateArray();

	for (size_t i = 0; i < vec->count; i++)
		cJSON_AddItemToArray(array, cJSON_CreateString(vec->items[i]));
	return array;
}

static int next_record_number(int *out, orch_txn *txn)
{
	orch_buf content = {0};
	char path[64];
	int n = 1, error;

	for (;; n++) {
		snprintf(path, sizeof(path), "merges/%d.json", n);
		orch_buf_clear(&content);
		error = orch_txn_read_file(&content, txn, path);
		if (error == ORCH_ENOTFOUND)
			break;
		if (error < 0) {
			orch_buf_free(&content);
			return error;
		}
	}
	orch_error_clear();
	orch_buf_free(&content);
	*out = n;
	return 0;
}

static int record_cb(orch_txn *txn, void *payload)
{
	record_ctx *ctx = payload;
	orch_merge_result *out = ctx->out;
	cJSON *root = cJSON_CreateObject(), *tasks, *conflicts, *rejected,
	      *verify;
	orch_task_state state;
	char path[64], *json = NULL;
	int error, n;
	size_t nmerged = 0, nconflict = 0, nrejected = 0;

	orch_task_state_init(&state);
	if ((error = next_record_number(&n, txn)) < 0)
		goto done;
	cJSON_AddNumberToObject(root, "number", n);
	cJSON_AddStringToObject(root, "plan", ctx->view->plan->name);
	cJSON_AddStringToObject(root, "into", out->into);
	cJSON_AddStringToObject(root, "base_before",
	                        git_oid_tostr_s(&out->base_before));
	cJSON_AddStringToObject(root, "base_after",
	                        git_oid_tostr_s(&out->base_after));
	cJSON_AddBoolToObject(root, "moved", out->moved);
	cJSON_AddBoolToObject(root, "squash", ctx->squash);
	tasks = cJSON_AddArrayToObject(root, "tasks");
	conflicts = cJSON_AddArrayToObject(root, "conflicts");
	rejected = cJSON_AddArrayToObject(root, "rejected");
	for (size_t i = 0; i < ctx->n; i++) {
		const orch_merge_item *item = &ctx->items[i];
		cJSON *entry = cJSON_CreateObject();
		orch_state to;

		cJSON_AddStringToObject(entry, "id", item->id);
		cJSON_AddStringToObject(entry, "commit",
		                        git_oid_tostr_s(&item->commit));
		if (item->conflicted) {
			cJSON_AddItemToObject(entry, "paths",
			                      strvec_json(&item->paths));
			cJSON_AddItemToArray(conflicts, entry);
			to = ORCH_STATE_CONFLICT;
		} else if (ctx->verdict[i] == 1 && out->moved) {
			cJSON_AddStringToObject(
			    entry, "merge", git_oid_tostr_s(&ctx->merged[i]));
			cJSON_AddItemToArray(tasks, entry);
			to = ORCH_STATE_MERGED;
		} else if (ctx->verdict[i] == -1) {
			cJSON_AddItemToArray(rejected, entry);
			to = ORCH_STATE_REJECTED;
		} else {
			cJSON_Delete(entry);
			continue;
		}
		/* only a task still done with the same result changes state */
		orch_task_state_clear(&state);
		orch_task_state_init(&state);
		if ((error = orch_txn_get_task(&state, txn, item->id)) < 0)
			goto done;
		if (state.state != ORCH_STATE_DONE || !state.commit ||
		    strcmp(state.commit, git_oid_tostr_s(&item->commit)))
			continue;
		if (to == ORCH_STATE_CONFLICT) {
			error = orch_task_merge_conflict(
			    &state, item->id, &item->paths,
			    "conflicts with the base branch or with tasks "
			    "merged before it");
			nconflict++;
		} else if (to == ORCH_STATE_REJECTED) {
			orch_buf why = {0};
			orch_buf_printf(&why,
			                "the merged result fails verify (%s)",
			                ctx->verify);
			error = orch_task_rejected(&state, item->id, why.ptr);
			orch_buf_free(&why);
			nrejected++;
		} else {
			error = orch_task_merged(&state, item->id);
			nmerged++;
		}
		if (error < 0)
			goto done;
		if ((error = orch_txn_put_task(txn, item->id, &state)) < 0)
			goto done;
	}
	verify = cJSON_AddObjectToObject(root, "verify");
	if (ctx->verify)
		cJSON_AddStringToObject(verify, "command", ctx->verify);
	else
		cJSON_AddNullToObject(verify, "command");
	cJSON_AddStringToObject(
	    verify, "outcome",
	    !ctx->verify || !out->verify_runs ? "none"
	    : out->verify_failed ? (out->rejected.count ? "bisected" : "failed")
	                         : "passed");
	cJSON_AddNumberToObject(verify, "runs", out->verify_runs);
	cJSON_AddNumberToObject(root, "started_ms", (double)ctx->started_ms);
	cJSON_AddNumberToObject(root, "ended_ms", (double)orch_now_ms());
	json = cJSON_Print(root);
	snprintf(path, sizeof(path), "merges/%d.json", n);
	if ((error = orch_txn_put_file(txn, path, json, strlen(json))) < 0)
		goto done;
	orch_txn_message(
	    txn, "merge %d into %s: %zu merged, %zu conflict, %zu rejected", n,
	    out->into, nmerged, nconflict, nrejected);
	out->record = n;
done:
	orch_task_state_clear(&state);
	cJSON_free(json);
	cJSON_Delete(root);
	return error;
}

/* ---- merge -------------------------------------------------------------- */

static int note_merge(orch_store *store, const char *plan, const char *into,
                      const orch_merge_item *item, const git_oid *merged)
{
	orch_buf text = {0};
	int error;

	orch_buf_printf(&text,
	                "plan: %s\ntask: %s\nmerged-into: %s\nresult: %s\n",
	                plan, item->id, into, git_oid_tostr_s(&item->commit));
	error = orch_notes_set(store, merged, text.ptr);
	orch_buf_free(&text);
	return error;
}

static int branch_tip(git_oid *out, git_repository *repo, const char *branch)
{
	orch_buf refname = {0};
	int error, valid = 0;

	if (git_branch_name_is_valid(&valid, branch) < 0 || !valid) {
		git_error_clear();
		orch_error_set("'%s' is not a valid branch name", branch);
		return ORCH_EINVALID;
	}
	orch_buf_printf(&refname, "refs/heads/%s", branch);
	error = git_reference_name_to_id(out, repo, refname.ptr);
	orch_buf_free(&refname);
	if (error == GIT_ENOTFOUND) {
		git_error_clear();
		orch_error_set("branch '%s' does not exist", branch);
		orch_error_hint("create it, or merge into another branch with "
		                "--into BRANCH");
		return ORCH_EINVALID;
	}
	if (error < 0)
		return orch_error_git(error, "cannot read branch '%s'", branch);
	return 0;
}

static int merge_tasks(orch_merge_result *out, orch_store *store,
                       const orch_merge_options *opts, const char *only)
{
	git_repository *repo = orch_store_repo(store);
	plan_view view = {0};
	orch_merge_item *items = NULL;
	bisect b = {0};
	record_ctx rctx = {0};
	size_t *order = NULL, norder = 0, nclean = 0, *cands = NULL;
	const char *verify;
	char *checkout = NULL;
	unsigned flags = opts->squash ? ORCH_MERGE_SQUASH : 0;
	int64_t started = orch_now_ms();
	int error, dirty = 0, *verdict = NULL;
	git_oid tip;

	if ((error = plan_view_load(&view, store, opts->plan)) < 0)
		goto done;
	if (!opts->into && !view.plan->base) {
		error = orch_error_set("plan '%s' has no base branch",
		                       view.plan->name);
		orch_error_hint("merge with --into BRANCH");
		error = ORCH_EINVALID;
		goto done;
	}
	out->into = orch_strdup(opts->into ? opts->into : view.plan->base);
	if ((error = branch_tip(&out->base_before, repo, out->into)) < 0)
		goto done;
	git_oid_cpy(&out->base_after, &out->base_before);
	if (only && orch_plan_find(view.plan, only) < 0) {
		orch_error_set("plan '%s' has no task '%s'", view.plan->name,
		               only);
		error = ORCH_EINVALID;
		goto done;
	}
	if ((error = done_tasks(&order, &norder, &view, only)) < 0)
		goto done;
	if (norder == 0) {
		if (only)
			orch_error_set("task '%s' of plan '%s' is not done: "
			               "nothing to merge",
			               only, view.plan->name);
		else
			orch_error_set(
			    "no task of plan '%s' is done: nothing to merge",
			    view.plan->name);
		error = ORCH_ENOCHANGE;
		goto done;
	}
	/* a dirty checkout of the base: say so before doing any work */
	if ((error = orch_merge_checkout_state(&checkout, &dirty, repo,
	                                       out->into)) < 0)
		goto done;
	if (dirty) {
		orch_error_set("branch '%s' is checked out in '%s' with "
		               "uncommitted changes: nothing was merged",
		               out->into, checkout);
		orch_error_hint("commit or stash the changes in '%s', then run "
		                "'git orchestrate merge %s' again",
		                checkout, view.plan->name);
		error = ORCH_ELOCKED;
		goto done;
	}
	items = orch_calloc(norder, sizeof(orch_merge_item));
	for (size_t i = 0; i < norder; i++) {
		const char *hex = view.states[order[i]].commit;
		items[i].id = view.plan->tasks[order[i]].id;
		if (git_oid_fromstr(&items[i].commit, hex) < 0) {
			git_error_clear();
			error = orch_error_set(
			    "task '%s' has an invalid result commit '%s'",
			    items[i].id, hex);
			goto done;
		}
	}
	if ((error = orch_merge_build(&tip, repo, &out->base_before, items,
	                              norder, view.plan->name, flags)) < 0)
		goto done;

	/* the clean ones go on to verify; b.items holds them, in order */
	b.items = orch_calloc(norder, sizeof(orch_merge_item));
	verdict = orch_calloc(norder, sizeof(int));
	b.merged = orch_calloc(norder, sizeof(git_oid));
	b.verdict = orch_calloc(norder, sizeof(int));
	for (size_t i = 0; i < norder; i++) {
		if (items[i].conflicted) {
			orch_merge_event event = {0};
			event.kind = ORCH_MERGE_EVENT_CONFLICT;
			event.task = items[i].id;
			event.paths = &items[i].paths;
			emit(opts, &event);
			orch_strvec_push(&out->conflicted, items[i].id);
			continue;
		}
		b.items[nclean].id = items[i].id;
		git_oid_cpy(&b.items[nclean].commit, &items[i].commit);
		git_oid_cpy(&b.merged[nclean], &items[i].merged);
		nclean++;
	}
	b.n = nclean;
	b.repo = repo;
	b.plan = view.plan->name;
	b.flags = flags;
	b.opts = opts;
	b.out = out;
	b.base = &out->base_before;
	verify = opts->verify ? opts->verify : view.plan->verify;
	if (verify && !*verify)
		verify = NULL;
	b.verify = verify;
	git_oid_cpy(&b.good_tip, &tip);
	for (size_t i = 0; i < nclean; i++)
		b.verdict[i] = 1;
	if (verify && nclean) {
		int status = -1;

		if ((error = verify_commit(&status, &b, &tip, nclean)) < 0)
			goto done;
		if (status != 0) {
			out->verify_failed = 1;
			/* a base that fails by itself is no task's fault */
			if ((error = verify_commit(&status, &b,
			                           &out->base_before, 0)) < 0)
				goto done;
			if (status != 0) {
				orch_error_set(
				    "verify fails on the base itself ('%s' at "
				    "%.12s, exit %d): no task is to blame and "
				    "nothing was merged",
				    out->into,
				    git_oid_tostr_s(&out->base_before), status);
				orch_error_hint(
				    "make '%s' pass on '%s', then "
				    "run 'git orchestrate merge %s' "
				    "again",
				    verify, out->into, view.plan->name);
				error = ORCH_ERROR;
				goto done;
			}
			/* nothing is accepted yet: bisect from the base */
			git_oid_cpy(&b.good_tip, &out->base_before);
			memset(b.verdict, 0, nclean * sizeof(int));
			cands = orch_calloc(nclean, sizeof(size_t));
			for (size_t i = 0; i < nclean; i++)
				cands[i] = i;
			if ((error = resolve(&b, cands, nclean, 1)) < 0)
				goto done;
		}
	}

	/* map back onto every item, in order */
	rctx.merged = orch_calloc(norder, sizeof(git_oid));
	for (size_t i = 0, c = 0; i < norder; i++) {
		if (items[i].conflicted)
			continue;
		verdict[i] = b.verdict[c];
		git_oid_cpy(&rctx.merged[i], &b.merged[c]);
		if (b.verdict[c] == -1)
			orch_strvec_push(&out->rejected, items[i].id);
		c++;
	}

	if (!git_oid_equal(&b.good_tip, &out->base_before)) {
		orch_buf reflog = {0};
		orch_buf_printf(&reflog, "orchestrate: merge plan '%s'",
		                view.plan->name);
		error =
		    orch_merge_move_branch(repo, out->into, &out->base_before,
		                           &b.good_tip, reflog.ptr);
		orch_buf_free(&reflog);
		if (error < 0)
			goto done;
		out->moved = 1;
		git_oid_cpy(&out->base_after, &b.good_tip);
		for (size_t i = 0; i < norder; i++) {
			orch_merge_event event = {0};
			if (verdict[i] != 1)
				continue;
			orch_strvec_push(&out->merged, items[i].id);
			if (!git_oid_equal(&rctx.merged[i],
			                   &out->base_before) &&
			    note_merge(store, view.plan->name, out->into,
			               &items[i], &rctx.merged[i]) < 0)
				orch_error_clear(); /* a missing note loses no
				                       work */
			event.kind = ORCH_MERGE_EVENT_MERGED;
			event.task = items[i].id;
			event.commit = &rctx.merged[i];
			emit(opts, &event);
		}
	}

	rctx.view = &view;
	rctx.out = out;
	rctx.verify = verify;
	rctx.squash = opts->squash;
	rctx.items = items;
	rctx.n = norder;
	rctx.verdict = verdict;
	rctx.started_ms = started;
	error =
	    orch_store_update(store, view.plan->name, record_cb, &rctx, NULL);
	if (error == ORCH_ENOCHANGE)
		error = 0;
	if (error < 0)
		goto done;

	if (opts->push && out->moved && orch_merge_push(repo, out->into) < 0) {
		orch_buf why = {0};
		orch_buf_puts(&why, orch_error_message());
		out->push_error = orch_buf_detach(&why);
		orch_error_clear();
	}
done:
	if (items) {
		for (size_t i = 0; i < norder; i++)
			orch_strvec_free(&items[i].paths);
	}
	if (b.items) {
		for (size_t i = 0; i < norder; i++)
			orch_strvec_free(&b.items[i].paths);
	}
	free(b.items);
	free(b.verdict);
	free(b.merged);
	free(b.trees);
	free(b.statuses);
	free(rctx.merged);
	free(verdict);
	free(cands);
	free(items);
	free(order);
	free(checkout);
	plan_view_free(&view);
	return error;
}

int orch_merge_run(orch_merge_result *out, orch_store *store,
                   const orch_merge_options *opts)
{
	return merge_tasks(out, store, opts, NULL);
}

int orch_merge_task(orch_merge_result *out, orch_store *store,
                    const orch_merge_options *opts, const char *task)
{
	return merge_tasks(out, store, opts, task);
}

/* ---- re-run on conflict ------------------------------------------------- */

void orch_rerun_result_clear(orch_rerun_result *result)
{
	if (!result)
		return;
	free(result->base);
	orch_strvec_free(&result->rerun);
	orch_strvec_free(&result->exhausted);
	memset(result, 0, sizeof(*result));
}

char *orch_merge_conflict_list(const orch_strvec *paths)
{
	orch_buf list = {0};

	orch_buf_puts(&list, "");
	for (size_t i = 0; i < paths->count; i++) {
		const unsigned char *p = (const unsigned char *)paths->items[i];
		int quote = 0;

		for (const unsigned char *c = p; *c && !quote; c++)
			quote =
			    *c < 0x20 || *c == 0x7f || *c == '"' || *c == '\\';
		if (!quote) {
			orch_buf_printf(&list, "%s\n", (const char *)p);
			continue;
		}
		orch_buf_puts(&list, "\"");
		for (; *p; p++) {
			switch (*p) {
			case '\n':
				orch_buf_puts(&list, "\\n");
				break;
			case '\t':
				orch_buf_puts(&list, "\\t");
				break;
			case '"':
				orch_buf_puts(&list, "\\\"");
				break;
			case '\\':
				orch_buf_puts(&list, "\\\\");
				break;
			default:
				if (*p < 0x20 || *p == 0x7f)
					orch_buf_printf(&list, "\\%03o", *p);
				else
					orch_buf_put(&list, (const char *)p, 1);
			}
		}
		orch_buf_puts(&list, "\"\n");
	}
	return orch_buf_detach(&list);
}

typedef struct {
	orch_rerun_result *out;
	const char *only;
} rerun_ctx;

static int rerun_cb(orch_txn *txn, void *payload)
{
	rerun_ctx *ctx = payload;
	orch_rerun_result *out = ctx->out;
	const orch_plan *plan = orch_txn_plan(txn);
	orch_task_state st;
	orch_buf msg = {0}, lines = {0};
	char base[GIT_OID_HEXSZ + 1];
	int error = 0;

	/* the callback runs again after a lost race: start afresh */
	orch_strvec_free(&out->rerun);
	orch_strvec_free(&out->exhausted);
	out->limit = plan->rerun_limit;
	git_oid_tostr(base, sizeof(base), &out->base_tip);
	orch_task_state_init(&st);
	for (size_t i = 0; i < plan->ntasks; i++) {
		const orch_task *t = &plan->tasks[i];

		if (ctx->only && strcmp(ctx->only, t->id))
			continue;
		orch_task_state_clear(&st);
		if ((error = orch_txn_get_task(&st, txn, t->id)) < 0)
			goto done;
		if (st.state != ORCH_STATE_CONFLICT)
			continue;
		if (st.reruns >= plan->rerun_limit) {
			orch_strvec_push(&out->exhausted, t->id);
			continue;
		}
		if ((error = orch_task_rerun(&st, t->id, t->depends.count > 0,
		                             base)) < 0 ||
		    (error = orch_txn_put_task(txn, t->id, &st)) < 0)
			goto done;
		orch_strvec_push(&out->rerun, t->id);
		orch_buf_printf(&lines,
		                "%s: re-run on conflict (%d of %d) from %s at "
		                "%.12s:",
		                t->id, st.reruns, plan->rerun_limit, out->base,
		                base);
		for (size_t k = 0; k < st.rerun_paths.count; k++)
			orch_buf_printf(&lines, "%s %s", k ? "," : "",
			                st.rerun_paths.items[k]);
		orch_buf_puts(&lines, "\n");
	}
	if (!out->rerun.count) {
		error = ORCH_ENOCHANGE;
		goto done;
	}
	if (out->rerun.count == 1) {
		orch_buf_put(&msg, lines.ptr, lines.len - 1);
	} else {
		orch_buf_printf(&msg, "re-run on conflict: %zu tasks\n\n%s",
		                out->rerun.count, lines.ptr);
		msg.ptr[--msg.len] = '\0';
	}
	orch_txn_message(txn, "%s", msg.ptr);
done:
	orch_task_state_clear(&st);
	orch_buf_free(&msg);
	orch_buf_free(&lines);
	return error;
}

int orch_merge_rerun(orch_rerun_result *out, orch_store *store,
                     const char *plan, const char *only)
{
	orch_plan *stored = NULL;
	rerun_ctx ctx;
	int error;

	if ((error = orch_store_load_plan(&stored, NULL, store, plan)) < 0)
		goto done;
	if (!stored->base) {
		orch_error_set("plan '%s' has no base branch to re-run its "
		               "conflicting tasks on",
		               plan);
		error = ORCH_EINVALID;
		goto done;
	}
	if (only && orch_plan_find(stored, only) < 0) {
		orch_error_set("plan '%s' has no task '%s'", plan, only);
		error = ORCH_EINVALID;
		goto done;
	}
	free(out->base);
	out->base = orch_strdup(stored->base);
	if ((error = branch_tip(&out->base_tip, orch_store_repo(store),
	                        stored->base)) < 0)
		goto done;
	ctx.out = out;
	ctx.only = only;
	error = orch_store_update(store, plan, rerun_cb, &ctx, NULL);
done:
	orch_plan_free(stored);
	return error;
}

/* ---- rollback ------------------------------------------------------------ */

typedef struct {
	int number;
	cJSON *json;
	char *into;
	git_oid before, after;
} merge_record;

static void merge_record_free(merge_record *record)
{
	cJSON_Delete(record->json);
	free(record->into);
	memset(record, 0, sizeof(*record));
}

static int parse_record(merge_record *out, const char *text, size_t len,
                        int number)
{
	const char *end = NULL;
	cJSON *into, *before, *after;

	memset(out, 0, sizeof(*out));
	out->number = number;
	out->json = cJSON_ParseWithLengthOpts(text, len, &end, 0);
	into = cJSON_GetObjectItemCaseSensitive(out->json, "into");
	before = cJSON_GetObjectItemCaseSensitive(out->json, "base_before");
	after = cJSON_GetObjectItemCaseSensitive(out->json, "base_after");
	if (!out->json || !cJSON_IsString(into) || !cJSON_IsString(before) ||
	    !cJSON_IsString(after) ||
	    git_oid_fromstr(&out->before, before->valuestring) < 0 ||
	    git_oid_fromstr(&out->after, after->valuestring) < 0) {
		git_error_clear();
		merge_record_free(out);
		return orch_error_set(
		    "merge record merges/%d.json is malformed", number);
	}
	out->into = orch_strdup(into->valuestring);
	return 0;
}

/* The last record that moved its branch and was not undone. */
static int last_merge(merge_record *out, orch_store *store, const char *plan)
{
	orch_buf content = {0};
	char path[64];
	int error = 0, found = 0;

	memset(out, 0, sizeof(*out));
	for (int n = 1;; n++) {
		merge_record record;
		cJSON *moved, *undone;

		snprintf(path, sizeof(path), "merges/%d.json", n);
		orch_buf_clear(&content);
		error = orch_store_read_file(&content, store, plan, path);
		if (error == ORCH_ENOTFOUND) {
			error = 0;
			break;
		}
		if (error < 0 || (error = parse_record(&record, content.ptr,
		                                       content.len, n)) < 0)
			goto done;
		moved = cJSON_GetObjectItemCaseSensitive(record.json, "moved");
		undone =
		    cJSON_GetObjectItemCaseSensitive(record.json, "undone");
		if (cJSON_IsTrue(moved) && !undone) {
			merge_record_free(out);
			*out = record;
			found = 1;
		} else {
			merge_record_free(&record);
		}
	}
	if (!found) {
		orch_error_set("plan '%s' has no merge to roll back", plan);
		orch_error_hint("'git orchestrate log %s' shows its merges",
		                plan);
		error = ORCH_ENOTFOUND;
	}
done:
	orch_buf_free(&content);
	if (error < 0)
		merge_record_free(out);
	return error;
}

/* Add a revert of each merge commit of `record`, newest first, onto *tip. */
static int add_reverts(git_oid *tip, size_t *out_count, git_repository *repo,
                       const merge_record *record, const char *plan)
{
	cJSON *tasks = cJSON_GetObjectItemCaseSensitive(record->json, "tasks");
	git_signature *sig = NULL;
	int error = 0, count = cJSON_GetArraySize(tasks);

	*out_count = 0;
	if ((error = orch_signature_default(&sig, repo)) < 0)
		return error;
	for (int i = count - 1; i >= 0; i--) {
		cJSON *entry = cJSON_GetArrayItem(tasks, i);
		cJSON *id = cJSON_GetObjectItemCaseSensitive(entry, "id");
		cJSON *merge = cJSON_GetObjectItemCaseSensitive(entry, "merge");
		git_commit *reverted = NULL, *ours = NULL;
		git_index *index = NULL;
		git_tree *tree = NULL;
		git_oid merge_id, tree_id, new_tip;
		orch_buf msg = {0};

		if (!cJSON_IsString(id) || !cJSON_IsString(merge) ||
		    git_oid_fromstr(&merge_id, merge->valuestring) < 0) {
			git_error_clear();
			error = orch_error_set(
			    "merge record merges/%d.json is malformed",
			    record->number);
			goto done;
		}
		if (git_oid_equal(&merge_id, &record->before))
			continue; /* nothing was committed for it */
		if ((error = git_commit_lookup(&reverted, repo, &merge_id)) <
		        0 ||
		    (error = git_commit_lookup(&ours, repo, tip)) < 0) {
			error = orch_error_git(
			    error, "cannot read the merge of task '%s'",
			    id->valuestring);
		} else if ((error = git_revert_commit(
		                &index, repo, reverted, ours,
		                git_commit_parentcount(reverted) > 1 ? 1 : 0,
		                NULL)) < 0) {
			error = orch_error_git(
			    error, "cannot revert the merge of task '%s'",
			    id->valuestring);
		} else if (git_index_has_conflicts(index)) {
			orch_strvec paths = {0};
			orch_buf list = {0};
			git_index_conflict_iterator *iter = NULL;
			const git_index_entry *a, *o, *t;
			if (git_index_conflict_iterator_new(&iter, index) ==
			    0) {
				while (git_index_conflict_next(&a, &o, &t,
				                               iter) == 0) {
					const char *p = o   ? o->path
					                : t ? t->path
					                    : a->path;
					if (!orch_strvec_contains(&paths, p)) {
						orch_strvec_push(&paths, p);
						orch_buf_printf(
						    &list, "%s%s",
						    paths.count > 1 ? ", " : "",
						    p);
					}
				}
				git_index_conflict_iterator_free(iter);
			}
			orch_error_set("reverting task '%s' conflicts with "
			               "later work on: %s",
			               id->valuestring,
			               list.ptr ? list.ptr : "?");
			orch_error_hint(
			    "revert it by hand with 'git revert -m 1 %s'",
			    merge->valuestring);
			orch_strvec_free(&paths);
			orch_buf_free(&list);
			error = ORCH_ECONFLICT;
		} else if ((error = git_index_write_tree_to(&tree_id, index,
		                                            repo)) < 0 ||
		           (error = git_tree_lookup(&tree, repo, &tree_id)) <
		               0) {
			error = orch_error_git(
			    error, "cannot write the revert of task '%s'",
			    id->valuestring);
		} else {
			orch_buf_printf(
			    &msg,
			    "Revert task '%s' of plan '%s'\n\nThis reverts "
			    "commit %s.\n\n"
			    "Orchestrate-Plan: %s\nOrchestrate-Task: %s\n",
			    id->valuestring, plan, merge->valuestring, plan,
			    id->valuestring);
			if ((error = git_commit_create(
			         &new_tip, repo, NULL, sig, sig, NULL, msg.ptr,
			         tree, 1, (const git_commit **)&ours)) < 0)
				error = orch_error_git(
				    error,
				    "cannot write the revert of task '%s'",
				    id->valuestring);
			else {
				git_oid_cpy(tip, &new_tip);
				(*out_count)++;
			}
		}
		orch_buf_free(&msg);
		git_tree_free(tree);
		git_index_free(index);
		git_commit_free(reverted);
		git_commit_free(ours);
		if (error < 0)
			goto done;
	}
done:
	git_signature_free(sig);
	return error;
}

typedef struct {
	const merge_record *record;
	const orch_rollback_result *out;
} rollback_ctx;

static int rollback_cb(orch_txn *txn, void *payload)
{
	rollback_ctx *ctx = payload;
	cJSON *json = cJSON_Duplicate(ctx->record->json, 1);
	cJSON *tasks = cJSON_GetObjectItemCaseSensitive(json, "tasks"), *undone,
	      *entry;
	orch_task_state state;
	char path[64], *text = NULL;
	int error = 0;

	orch_task_state_init(&state);
	undone = cJSON_AddObjectToObject(json, "undone");
	cJSON_AddStringToObject(undone, "mode",
	                        ctx->out->reverted ? "revert" : "reset");
	cJSON_AddStringToObject(undone, "base_before",
	                        git_oid_tostr_s(&ctx->out->before));
	cJSON_AddStringToObject(undone, "base_after",
	                        git_oid_tostr_s(&ctx->out->after));
	cJSON_AddNumberToObject(undone, "at_ms", (double)orch_now_ms());
	cJSON_ArrayForEach(entry, tasks)
	{
		cJSON *id = cJSON_GetObjectItemCaseSensitive(entry, "id");
		if (!cJSON_IsString(id))
			continue;
		orch_task_state_clear(&state);
		orch_task_state_init(&state);
		if ((error = orch_txn_get_task(&state, txn, id->valuestring)) <
		    0)
			goto done;
		if (state.state != ORCH_STATE_MERGED)
			continue;
		if ((error = orch_task_unmerged(&state, id->valuestring)) < 0)
			goto done;
		if ((error = orch_txn_put_task(txn, id->valuestring, &state)) <
		    0)
			goto done;
	}
	text = cJSON_Print(json);
	snprintf(path, sizeof(path), "merges/%d.json", ctx->record->number);
	if ((error = orch_txn_put_file(txn, path, text, strlen(text))) < 0)
		goto done;
	orch_txn_message(txn, "rollback of merge %d on %s (%s)",
	                 ctx->record->number, ctx->record->into,
	                 ctx->out->reverted ? "revert commits"
	                                    : "branch reset");
done:
	orch_task_state_clear(&state);
	cJSON_free(text);
	cJSON_Delete(json);
	return error;
}

int orch_merge_rollback(orch_rollback_result *out, orch_store *store,
                        const char *plan, int revert)
{
	git_repository *repo = orch_store_repo(store);
	merge_record record = {0};
	rollback_ctx ctx;
	orch_buf reflog = {0};
	git_oid tip;
	int error;

	memset(out, 0, sizeof(*out));
	if ((error = last_merge(&record, store, plan)) < 0)
		goto done;
	out->record = record.number;
	out->into = orch_strdup(record.into);
	if ((error = branch_tip(&out->before, repo, record.into)) < 0)
		goto done;
	git_oid_cpy(&tip, &out->before);
	if (git_oid_equal(&out->before, &record.after)) {
		git_oid_cpy(&tip, &record.before);
	} else if (git_graph_descendant_of(repo, &out->before, &record.after) !=
	           1) {
		orch_error_set("branch '%s' no longer contains merge %d of "
		               "plan '%s' (%.12s)",
		               record.into, record.number, plan,
		               git_oid_tostr_s(&record.after));
		orch_error_hint(
		    "it was rewritten since; nothing to roll back there");
		error = ORCH_EINVALID;
		goto done;
	} else if (!revert) {
		orch_error_set(
		    "branch '%s' has new commits since merge %d of plan '%s': "
		    "resetting it would drop them",
		    record.into, record.number, plan);
		orch_error_hint("'git orchestrate rollback --revert %s' adds "
		                "revert commits on top instead",
		                plan);
		error = ORCH_EINVALID;
		goto done;
	} else {
		out->reverted = 1;
		if ((error = add_reverts(&tip, &out->ncommits, repo, &record,
		                         plan)) < 0)
			goto done;
	}
	orch_buf_printf(&reflog, "orchestrate: rollback of plan '%s' merge %d",
	                plan, record.number);
	if ((error = orch_merge_move_branch(repo, record.into, &out->before,
	                                    &tip, reflog.ptr)) < 0)
		goto done;
	git_oid_cpy(&out->after, &tip);
	ctx.record = &record;
	ctx.out = out;
	error = orch_store_update(store, plan, rollback_cb, &ctx, NULL);
	if (error == ORCH_ENOCHANGE)
		error = 0;
done:
	orch_buf_free(&reflog);
	merge_record_free(&record);
	return error;
}
