/*
 * The task state machine: every change of a task's state is one of the
 * events below, and each rule about which state an event applies to is
 * written here once.
 */
#include "task.h"
#include "error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BIT(s) (1u << (s))

static const char *const event_names[ORCH_TASK_EVENT__COUNT] = {
    "promote", "claim",           "end",
    "skip",    "unskip",          "cancel",
    "retry",   "forget worktree", "record pushed result",
    "merge",   "unmerge",         "record merge conflict",
    "reject",
};

const char *orch_task_event_name(orch_task_event event)
{
	if ((int)event < 0 || event >= ORCH_TASK_EVENT__COUNT)
		return "unknown";
	return event_names[event];
}

int orch_state_is_success(orch_state s)
{
	return s == ORCH_STATE_DONE || s == ORCH_STATE_MERGED;
}

int orch_state_is_dead_end(orch_state s)
{
	return s == ORCH_STATE_FAILED || s == ORCH_STATE_TIMEOUT ||
	       s == ORCH_STATE_CANCELLED || s == ORCH_STATE_SKIPPED ||
	       s == ORCH_STATE_CONFLICT || s == ORCH_STATE_REJECTED;
}

/* ORCH_EINVALID unless st's state is in `allowed`; the message names both. */
static int require(const orch_task_state *st, const char *id, unsigned allowed,
                   orch_task_event event, orch_state to)
{
	if (allowed & BIT(st->state))
		return 0;
	orch_error_set("task '%s' is %s: cannot %s it (to %s)", id,
	               orch_state_name(st->state), orch_task_event_name(event),
	               orch_state_name(to));
	return ORCH_EINVALID;
}

static void set_str(char **field, const char *value)
{
	free(*field);
	*field = value ? orch_strdup(value) : NULL;
}

int orch_task_promote(orch_task_state *st, const char *id)
{
	int error;
	if (st->state == ORCH_STATE_READY)
		return ORCH_ENOCHANGE;
	if ((error = require(st, id, BIT(ORCH_STATE_PENDING),
	                     ORCH_TASK_EVENT_PROMOTE, ORCH_STATE_READY)) < 0)
		return error;
	st->state = ORCH_STATE_READY;
	return 0;
}

/* An attempt starts at `now_ms`: keep when the first one did. */
static void note_first_start(orch_task_state *st, int64_t now_ms)
{
	if (!st->first_started_ms)
		st->first_started_ms = now_ms;
}

/* An attempt that ran `duration_ms` ended: add it to the task's time. */
static void add_attempt_time(orch_task_state *st, int64_t duration_ms)
{
	if (duration_ms > 0)
		st->attempts_ms += duration_ms;
}

int orch_task_claim(orch_task_state *st, const char *id, int deps_done,
                    const char *worker, const char *base, int64_t now_ms)
{
	int error;
	if ((error = require(st, id,
	                     BIT(ORCH_STATE_READY) | BIT(ORCH_STATE_PENDING),
	                     ORCH_TASK_EVENT_CLAIM, ORCH_STATE_RUNNING)) < 0)
		return error;
	if (st->state == ORCH_STATE_PENDING && !deps_done) {
		orch_error_set("task '%s' is pending: its dependencies have "
		               "not all succeeded",
		               id);
		return ORCH_EINVALID;
	}
	st->state = ORCH_STATE_RUNNING;
	st->attempts++;
	set_str(&st->worker, worker);
	set_str(&st->base, base);
	note_first_start(st, now_ms);
	st->started_ms = now_ms;
	st->ended_ms = 0;
	st->exit_status = -1;
	set_str(&st->worktree, NULL);
	if (worker && !orch_strvec_contains(&st->workers_tried, worker))
		orch_strvec_push(&st->workers_tried, worker);
	return 0;
}

static void set_paths(orch_task_state *st, const orch_strvec *paths)
{
	orch_strvec_free(&st->paths);
	if (paths)
		for (size_t i = 0; i < paths->count; i++)
			orch_strvec_push(&st->paths, paths->items[i]);
}

int orch_task_end(orch_task_state *st, const char *id,
                  const orch_task_outcome *o)
{
	const unsigned outcomes =
	    BIT(ORCH_STATE_DONE) | BIT(ORCH_STATE_READY) |
	    BIT(ORCH_STATE_FAILED) | BIT(ORCH_STATE_TIMEOUT) |
	    BIT(ORCH_STATE_CANCELLED) | BIT(ORCH_STATE_CONFLICT);
	int error;

	if (!(outcomes & BIT(o->state))) {
		orch_error_set("task '%s': an attempt cannot end %s", id,
		               orch_state_name(o->state));
		return ORCH_EINVALID;
	}
	if ((error = require(st, id, BIT(ORCH_STATE_RUNNING),
	                     ORCH_TASK_EVENT_END, o->state)) < 0)
		return ORCH_ENOCHANGE; /* changed under the attempt: keep it */
	if (st->attempts != o->attempt) {
		orch_error_set("task '%s' runs attempt %d, not %d", id,
		               st->attempts, o->attempt);
		return ORCH_ENOCHANGE;
	}
	if (o->state == ORCH_STATE_DONE && !o->commit) {
		orch_error_set("task '%s': done without a result commit", id);
		return ORCH_EINVALID;
	}
	st->state = o->state;
	st->exit_status = o->exit_status;
	st->ended_ms = o->now_ms;
	add_attempt_time(st, o->duration_ms);
	st->duration_ms = o->duration_ms;
	st->cpu_ms = o->cpu_known ? o->cpu_ms : -1;
	st->max_rss_kb = o->rss_known ? o->max_rss_kb : -1;
	set_str(&st->commit, o->commit);
	set_str(&st->error, o->error);
	set_str(&st->worktree, o->worktree);
	st->not_before_ms = o->not_before_ms;
	if (o->state == ORCH_STATE_READY && o->interrupted)
		st->interrupted++;
	set_paths(st, o->paths);
	return 0;
}

int orch_task_retries_exhausted(const orch_task_state *st, int attempt,
                                int retries)
{
	return attempt - st->interrupted > retries;
}

int orch_task_skip(orch_task_state *st, const char *id, const char *dep,
                   orch_state dep_state)
{
	char why[300];
	int error;

	if (st->state == ORCH_STATE_SKIPPED)
		return ORCH_ENOCHANGE;
	if ((error = require(st, id,
	                     BIT(ORCH_STATE_PENDING) | BIT(ORCH_STATE_READY),
	                     ORCH_TASK_EVENT_SKIP, ORCH_STATE_SKIPPED)) < 0)
		return error;
	snprintf(why, sizeof(why), "dependency '%s' %s", dep,
	         orch_state_name(dep_state));
	st->state = ORCH_STATE_SKIPPED;
	set_str(&st->error, why);
	return 0;
}

int orch_task_unskip(orch_task_state *st, const char *id)
{
	int error;
	if ((error = require(st, id, BIT(ORCH_STATE_SKIPPED),
	                     ORCH_TASK_EVENT_UNSKIP, ORCH_STATE_PENDING)) < 0)
		return error;
	st->state = ORCH_STATE_PENDING;
	set_str(&st->error, NULL);
	return 0;
}

int orch_task_cancel(orch_task_state *st, const char *id)
{
	if (st->state == ORCH_STATE_FAILED || st->state == ORCH_STATE_TIMEOUT ||
	    st->state == ORCH_STATE_CANCELLED)
		return ORCH_ENOCHANGE;
	if (orch_state_is_final(st->state)) {
		orch_error_set("task '%s' is %s: there is nothing to cancel",
		               id, orch_state_name(st->state));
		return ORCH_EINVALID;
	}
	st->state = ORCH_STATE_CANCELLED;
	set_str(&st->error, "cancelled by 'git orchestrate cancel'");
	return 0;
}

int orch_task_retry(orch_task_state *st, const char *id, int has_deps)
{
	const unsigned retryable =
	    BIT(ORCH_STATE_FAILED) | BIT(ORCH_STATE_TIMEOUT) |
	    BIT(ORCH_STATE_CANCELLED) | BIT(ORCH_STATE_SKIPPED) |
	    BIT(ORCH_STATE_CONFLICT) | BIT(ORCH_STATE_REJECTED);
	orch_state to = has_deps ? ORCH_STATE_PENDING : ORCH_STATE_READY;

	if (!(retryable & BIT(st->state))) {
		orch_error_set("task '%s' is %s: only a task that failed, "
		               "timed out, was cancelled, skipped, conflicted "
		               "or was rejected can be retried (to %s)",
		               id, orch_state_name(st->state),
		               orch_state_name(to));
		return ORCH_EINVALID;
	}
	st->state = to;
	st->not_before_ms = 0;
	set_str(&st->error, NULL);
	orch_strvec_free(&st->paths);
	/* a retry starts over from the recorded base */
	st->reruns = 0;
	set_str(&st->rerun_base, NULL);
	orch_strvec_free(&st->rerun_paths);
	return 0;
}

int orch_task_rerun(orch_task_state *st, const char *id, int has_deps,
                    const char *base)
{
	orch_state to = has_deps ? ORCH_STATE_PENDING : ORCH_STATE_READY;
	int error;

	if ((error = require(st, id, BIT(ORCH_STATE_CONFLICT),
	                     ORCH_TASK_EVENT_RETRY, to)) < 0)
		return error;
	st->state = to;
	st->not_before_ms = 0;
	st->reruns++;
	set_str(&st->rerun_base, base);
	orch_strvec_free(&st->rerun_paths);
	for (size_t i = 0; i < st->paths.count; i++)
		orch_strvec_push(&st->rerun_paths, st->paths.items[i]);
	orch_strvec_free(&st->paths);
	set_str(&st->error, NULL);
	return 0;
}

int orch_task_forget_worktree(orch_task_state *st, const char *id)
{
	(void)id;
	if (!st->worktree)
		return ORCH_ENOCHANGE;
	set_str(&st->worktree, NULL);
	return 0;
}

int orch_task_record_pushed(orch_task_state *st, const char *id,
                            const char *commit, const char *worker,
                            int64_t now_ms)
{
	int error;

	if (orch_state_is_success(st->state) ||
	    st->state == ORCH_STATE_CONFLICT ||
	    st->state == ORCH_STATE_REJECTED) {
		if (st->commit && !strcmp(st->commit, commit))
			return ORCH_ENOCHANGE;
		orch_error_set("task '%s' is %s with commit %s already: the "
		               "pushed commit %s is left as it is",
		               id, orch_state_name(st->state),
		               st->commit ? st->commit : "(none)", commit);
		return ORCH_EEXISTS;
	}
	if ((error =
	         require(st, id,
	                 BIT(ORCH_STATE_PENDING) | BIT(ORCH_STATE_READY) |
	                     BIT(ORCH_STATE_RUNNING) | BIT(ORCH_STATE_FAILED) |
	                     BIT(ORCH_STATE_TIMEOUT),
	                 ORCH_TASK_EVENT_PUSHED, ORCH_STATE_DONE)) < 0)
		return error;
	if (st->state != ORCH_STATE_RUNNING) {
		/* a result that did not come through a claim: one attempt */
		st->attempts++;
		note_first_start(st, now_ms);
		st->started_ms = now_ms;
	} else if (st->started_ms && now_ms > st->started_ms) {
		add_attempt_time(st, now_ms - st->started_ms);
	}
	if (worker)
		set_str(&st->worker, worker);
	st->state = ORCH_STATE_DONE;
	st->ended_ms = now_ms;
	st->exit_status = 0;
	st->cpu_ms = st->max_rss_kb = -1; /* not measured here */
	set_str(&st->commit, commit);
	set_str(&st->error, NULL);
	st->not_before_ms = 0;
	orch_strvec_free(&st->paths);
	return 0;
}

int orch_task_merged(orch_task_state *st, const char *id)
{
	int error;
	if ((error = require(st, id, BIT(ORCH_STATE_DONE),
	                     ORCH_TASK_EVENT_MERGED, ORCH_STATE_MERGED)) < 0)
		return error;
	st->state = ORCH_STATE_MERGED;
	set_str(&st->error, NULL);
	orch_strvec_free(&st->paths);
	return 0;
}

int orch_task_unmerged(orch_task_state *st, const char *id)
{
	int error;
	if ((error = require(st, id, BIT(ORCH_STATE_MERGED),
	                     ORCH_TASK_EVENT_UNMERGED, ORCH_STATE_DONE)) < 0)
		return error;
	st->state = ORCH_STATE_DONE;
	return 0;
}

int orch_task_merge_conflict(orch_task_state *st, const char *id,
                             const orch_strvec *paths, const char *why)
{
	int error;
	if ((error = require(st, id, BIT(ORCH_STATE_DONE),
	                     ORCH_TASK_EVENT_MERGE_CONFLICT,
	                     ORCH_STATE_CONFLICT)) < 0)
		return error;
	st->state = ORCH_STATE_CONFLICT;
	set_paths(st, paths);
	set_str(&st->error, why);
	return 0;
}

int orch_task_rejected(orch_task_state *st, const char *id, const char *why)
{
	int error;
	if ((error = require(st, id, BIT(ORCH_STATE_DONE),
	                     ORCH_TASK_EVENT_REJECTED, ORCH_STATE_REJECTED)) <
	    0)
		return error;
	st->state = ORCH_STATE_REJECTED;
	orch_strvec_free(&st->paths);
	set_str(&st->error, why);
	return 0;
}

/* ---- walks inside a transaction ---------------------------------------- */

int orch_task_deps_done(int *out, orch_txn *txn, const orch_plan *plan,
                        size_t task)
{
	const orch_task *t = &plan->tasks[task];
	int error = 0;

	*out = 1;
	for (size_t i = 0; i < t->depends.count && *out; i++) {
		orch_task_state dep;
		orch_task_state_init(&dep);
		error = orch_txn_get_task(&dep, txn, t->depends.items[i]);
		*out = error == 0 && orch_state_is_success(dep.state);
		orch_task_state_clear(&dep);
		if (error < 0)
			return error;
	}
	return 0;
}

int orch_task_dead_dep(size_t *out_dep, orch_state *out_state, orch_txn *txn,
                       const orch_plan *plan, size_t task)
{
	const orch_task *t = &plan->tasks[task];
	int error = 0;

	*out_dep = (size_t)-1;
	for (size_t i = 0; i < t->depends.count; i++) {
		orch_task_state dep;
		int dead;
		orch_task_state_init(&dep);
		error = orch_txn_get_task(&dep, txn, t->depends.items[i]);
		dead = error == 0 && orch_state_is_dead_end(dep.state);
		if (dead) {
			long pos = orch_plan_find(plan, t->depends.items[i]);
			*out_dep = pos < 0 ? (size_t)-1 : (size_t)pos;
			*out_state = dep.state;
		}
		orch_task_state_clear(&dep);
		if (error < 0 || dead)
			return error;
	}
	return 0;
}

int orch_task_promote_dependents(orch_txn *txn, const orch_plan *plan,
                                 const orch_graph *graph, size_t task)
{
	int error = 0;

	for (size_t k = graph->rdep_start[task];
	     k < graph->rdep_start[task + 1] && error == 0; k++) {
		size_t d = graph->rdeps[k];
		const char *id = plan->tasks[d].id;
		orch_task_state st;
		int ok;
		orch_task_state_init(&st);
		if ((error = orch_txn_get_task(&st, txn, id)) == 0 &&
		    st.state == ORCH_STATE_PENDING &&
		    (error = orch_task_deps_done(&ok, txn, plan, d)) == 0 &&
		    ok && (error = orch_task_promote(&st, id)) == 0)
			error = orch_txn_put_task(txn, id, &st);
		orch_task_state_clear(&st);
	}
	return error;
}

int orch_task_unskip_dependents(size_t *out_count, orch_txn *txn,
                                const orch_plan *plan, const orch_graph *graph,
                                size_t task)
{
	size_t *queue = NULL, head = 0, tail = 0;
	char *seen = NULL;
	int error = 0;

	if (out_count)
		*out_count = 0;
	queue = orch_malloc((plan->ntasks + 1) * sizeof(size_t));
	seen = orch_calloc(plan->ntasks + 1, 1);
	queue[tail++] = task;
	seen[task] = 1;
	while (head < tail && error == 0) {
		size_t t = queue[head++];
		for (size_t k = graph->rdep_start[t];
		     k < graph->rdep_start[t + 1] && error == 0; k++) {
			size_t d = graph->rdeps[k];
			const char *id = plan->tasks[d].id;
			orch_task_state st;
			if (seen[d])
				continue;
			seen[d] = 1;
			orch_task_state_init(&st);
			if ((error = orch_txn_get_task(&st, txn, id)) == 0 &&
			    st.state == ORCH_STATE_SKIPPED &&
			    (error = orch_task_unskip(&st, id)) == 0 &&
			    (error = orch_txn_put_task(txn, id, &st)) == 0) {
				queue[tail++] = d;
				if (out_count)
					(*out_count)++;
			}
			orch_task_state_clear(&st);
		}
	}
	free(queue);
	free(seen);
	return error;
}

/* ---- events on a stored plan ------------------------------------------ */

struct request {
	orch_task_event event;
	const char *id;
	orch_state before; /* out */
};

static int request_cb(orch_txn *txn, void *payload)
{
	struct request *rq = payload;
	const orch_plan *plan = orch_txn_plan(txn);
	orch_graph *graph = NULL;
	orch_task_state st;
	long pos;
	int error;

	orch_task_state_init(&st);
	if ((pos = orch_plan_find(plan, rq->id)) < 0) {
		orch_error_set("plan '%s' has no task '%s'", plan->name,
		               rq->id);
		orch_error_hint("'git orchestrate status %s' lists its tasks",
		                plan->name);
		error = ORCH_EINVALID;
		goto done;
	}
	if ((error = orch_txn_get_task(&st, txn, rq->id)) < 0)
		goto done;
	rq->before = st.state;
	if (rq->event == ORCH_TASK_EVENT_CANCEL) {
		if ((error = orch_task_cancel(&st, rq->id)) < 0)
			goto done;
		orch_txn_message(txn, "%s: cancelled", rq->id);
	} else {
		if ((error = orch_task_retry(
		         &st, rq->id, plan->tasks[pos].depends.count > 0)) < 0)
			goto done;
		orch_txn_message(txn, "%s: retry requested (was %s)", rq->id,
		                 orch_state_name(rq->before));
	}
	if ((error = orch_txn_put_task(txn, rq->id, &st)) < 0)
		goto done;
	if (rq->event == ORCH_TASK_EVENT_RETRY &&
	    (error = orch_graph_build(&graph, plan, NULL)) == 0)
		error = orch_task_unskip_dependents(NULL, txn, plan, graph,
		                                    (size_t)pos);
done:
	orch_graph_free(graph);
	orch_task_state_clear(&st);
	return error;
}

static int request(orch_state *out_before, orch_store *store, const char *plan,
                   const char *id, orch_task_event event)
{
	struct request rq = {0};
	int error;

	rq.event = event;
	rq.id = id;
	rq.before = ORCH_STATE_PENDING;
	error = orch_store_update(store, plan, request_cb, &rq, NULL);
	*out_before = rq.before;
	return error;
}

int orch_task_cancel_stored(orch_state *out_before, orch_store *store,
                            const char *plan, const char *id)
{
	return request(out_before, store, plan, id, ORCH_TASK_EVENT_CANCEL);
}

int orch_task_retry_stored(orch_state *out_before, orch_store *store,
                           const char *plan, const char *id)
{
	return request(out_before, store, plan, id, ORCH_TASK_EVENT_RETRY);
}

struct set_request {
	const char *id;
	const orch_strvec *assignments;
	orch_state state; /* out: the task's state */
};

static int set_cb(orch_txn *txn, void *payload)
{
	struct set_request *rq = payload;
	const orch_plan *plan = orch_txn_plan(txn);
	orch_task_state st;
	orch_buf message = {0};
	char *json = NULL;
	int error;

	/*
	 * The plan of the transaction, changed in a view of it: a second copy
	 * of a 100,000-task plan (parsed again from plan.json) doubled what
	 * set needs.
	 */
	orch_task_state_init(&st);
	if ((error = orch_plan_set_task_json(&json, plan, rq->id,
	                                     rq->assignments)) < 0)
		goto done;
	orch_buf_printf(&message, "set %s", rq->id);
	for (size_t i = 0; i < rq->assignments->count; i++)
		orch_buf_printf(&message, " %s", rq->assignments->items[i]);
	if ((error = orch_txn_get_task(&st, txn, rq->id)) < 0)
		goto done;
	rq->state = st.state;
	if (st.state != ORCH_STATE_PENDING && st.state != ORCH_STATE_READY) {
		orch_error_set("task '%s' is %s: set changes only a task that "
		               "has not started",
		               rq->id, orch_state_name(st.state));
		orch_error_hint("'git orchestrate retry %s %s' makes it ready "
		                "again once it ended; set it then",
		                plan->name, rq->id);
		error = ORCH_EINVALID;
		goto done;
	}
	if (!json) {
		error = ORCH_ENOCHANGE;
		goto done;
	}
	if ((error = orch_txn_put_file(txn, "plan.json", json, strlen(json))) <
	    0)
		goto done;
	orch_txn_message(txn, "%s", message.ptr);
done:
	free(json);
	orch_buf_free(&message);
	orch_task_state_clear(&st);
	return error;
}

int orch_task_set_stored(orch_store *store, const char *plan, const char *id,
                         const orch_strvec *assignments)
{
	struct set_request rq = {id, assignments, ORCH_STATE_PENDING};

	return orch_store_update(store, plan, set_cb, &rq, NULL);
}

static int forget_cb(orch_txn *txn, void *payload)
{
	const orch_strvec *ids = payload;
	int error = 0, changed = 0;

	for (size_t i = 0; i < ids->count && error == 0; i++) {
		orch_task_state st;
		orch_task_state_init(&st);
		if ((error = orch_txn_get_task(&st, txn, ids->items[i])) == 0 &&
		    orch_task_forget_worktree(&st, ids->items[i]) == 0) {
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

int orch_task_forget_worktrees_stored(orch_store *store, const char *plan,
                                      const orch_strvec *ids)
{
	return orch_store_update(store, plan, forget_cb, (void *)ids, NULL);
}
