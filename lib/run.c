/*
 * The run loop. One thread; every state change is an orch_store_update
 * (compare-and-swap commit) and every attempt runs under a lease ref
 * refs/orchestrate/locks/<plan>/task/<id>, taken before the state says
 * "running" and released after the outcome is recorded. Tasks with
 * overlapping files also take a pair lock file/<a>+<b> while they run.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "error.h"
#include "autojobs.h"
#include "graph.h"
#include "merge.h"
#include "notes.h"
#include "pause.h"
#include "redact.h"
#include "remote.h"
#include "run.h"
#include "shared.h"
#include "task.h"
#include "worker.h"

#define POLL_BUSY_MS 5
#define POLL_IDLE_MS 200
#define SYNC_MS 500
/*
 * Notes on results wait to share a notes commit: at most this long after
 * the first of them, or until this many wait (and all at the end of the
 * run). A run killed meanwhile leaves those results without their note.
 */
#define NOTES_WINDOW_MS 1000
#define NOTES_BATCH 64
#define BACKOFF_BASE_MS 1000
#define BACKOFF_MAX_MS 60000

struct task_rt {
	orch_job *job; /* our attempt, when we run it */
	orch_worker *worker;
	int attempt;
	git_oid lease;
	int64_t started_mono;
	int64_t last_renew;
	int64_t last_flush; /* when output was last written to the state */
	size_t received;    /* output bytes read so far */
	size_t flushed;     /* `received` when last written */
	int timed_out;
	int cancelled;
	orch_buf output; /* last ORCH_LOG_MAX bytes of output, redacted */
	orch_redactor redactor; /* what may begin a secret, held back */
	char base[GIT_OID_HEXSZ + 1];
	char *locator;     /* where the worker finds our attempt (its lease) */
	orch_strvec locks; /* pair locks held: "file/a+b" */
	git_oid *lock_oids;
	int unrunnable; /* reported: no worker can run it */
	int lost;       /* our lease was broken: the attempt is not ours */
	int lease_gone; /* given back with the outcome's push (remote) */
	/* the worktree kept for an earlier failed attempt (and its worker),
	 * which the state forgot when this attempt was claimed: released
	 * once an attempt succeeds or keeps a worktree of its own */
	char *old_kept, *old_kept_worker;
};

/* A lease as this runner first saw it (remote: expiry by our own clock). */
struct lease_seen {
	git_oid oid;
	int64_t since_mono;
};

/*
 * The tasks that may be ready, best first (orch_graph_compare_ready): a
 * binary heap, so a dispatch and a completion cost O(log n), not a scan of
 * the plan. An entry may be stale (the task ran, was skipped or cancelled
 * since): it is dropped when it comes to the top. `held` says a task is in
 * the heap or set aside by the dispatch under way, so it is never in twice.
 */
struct ready_set {
	size_t *heap;
	size_t len;
	size_t *aside; /* popped, cannot start now: pushed back after */
	size_t naside;
	unsigned char *held;
	orch_state *seen; /* each task's state when last looked at */
	int built;
	int stale; /* priorities or needs changed: rebuild */
};

/*
 * A set of task indices: O(1) to add and to test, iterated in O(size);
 * members that no longer belong are dropped when it is walked.
 */
struct idset {
	size_t *items;
	size_t n;
	unsigned char *in;
};

static void idset_init(struct idset *set, size_t cap)
{
	set->items = orch_malloc((cap + 1) * sizeof(size_t));
	set->in = orch_calloc(cap + 1, 1);
	set->n = 0;
}

static void idset_free(struct idset *set)
{
	free(set->items);
	free(set->in);
}

static void idset_add(struct idset *set, size_t i)
{
	if (set->in[i])
		return;
	set->in[i] = 1;
	set->items[set->n++] = i;
}

/* Drop member number k (the last one takes its place). */
static void idset_drop_at(struct idset *set, size_t k)
{
	set->in[set->items[k]] = 0;
	set->items[k] = set->items[--set->n];
}

static void idset_clear(struct idset *set)
{
	for (size_t k = 0; k < set->n; k++)
		set->in[set->items[k]] = 0;
	set->n = 0;
}

struct run {
	/* notes on results waiting for their commit (flush_notes) */
	git_oid *note_oids;
	char **note_texts;
	size_t nnotes, anotes;
	int64_t notes_since; /* monotonic ms of the first waiting */
	struct lease_seen *seen;
	size_t nseen;
	orch_strmap seen_index; /* lease name -> position in seen */
	orch_store *store;
	git_repository *repo;
	const orch_config *config;
	const orch_run_options *opts;
	orch_plan *plan;
	orch_secrets secrets; /* what `env` names: plan, tasks, workers */
	git_oid plan_head, plan_blob; /* last seen: see reload_plan */
	orch_graph *graph;
	int64_t *bottom;
	orch_task_state *states;
	orch_states_reader *reader; /* reads only what changed into states */
	git_oid synced_head;        /* the plan head the last sync took in */
	int synced;
	struct task_rt *rt;
	struct ready_set ready;
	orch_worker **workers;
	size_t nworkers;
	size_t *ov_start, *ov; /* overlapping tasks of each task (CSR) */
	orch_overlap *overlaps;
	size_t noverlaps;
	char token[64];
	char host[256];
	int64_t started_mono;
	int64_t last_sync;
	int64_t last_tick;
	size_t ours;   /* attempts we run now */
	int *was_down; /* last down state seen of each worker */
	/* of each worker: why it has no slot left (its setup failed on
	 * every one), or "" */
	char (*setup_broken)[600];
	/* monotonic ms since every worker able to run a ready task is down
	 * (0: not so) */
	int64_t blocked_since;
	/* -j auto: when the local slots were last looked at, what they
	 * follow (of each worker: "" when not so), the largest peak RSS of
	 * a task */
	int64_t last_auto;
	char (*autojobs)[160];
	int64_t task_kb;
	orch_rate_limit rate_limit; /* the plan's pattern, compiled */
	orch_pause pause;           /* as last read from the state */
	orch_shared_cache shared;   /* ORCHESTRATE_CONTEXT_FILE's text */
	/* the attempts that ended in one pass of the loop, and how */
	size_t *ended, aended;
	orch_job_result *ended_res;
	/* attempts that ended, let go of their slots, their outcomes not
	 * recorded yet: the next claim's commit takes them (settle_endings) */
	struct ending **pending;
	size_t npending, apending;
	/*
	 * What a pass of the loop looks at, kept as states change so that a
	 * pass costs what is running or changed, not the plan's size: tasks
	 * with an attempt of ours, tasks running (anyone's), ready or
	 * pending tasks waiting for a time, tasks no worker can run, tasks
	 * to check for a dependency that cannot succeed any more, and how
	 * many tasks are running, ready or pending.
	 */
	struct idset active, running, timed, unrunnable, skipcheck;
	size_t nlive;
};

static void emit(struct run *run, orch_run_event *event)
{
	size_t counts[ORCH_STATE__COUNT] = {0};
	int64_t remaining = 0, longest = 0;
	int slots = 0;

	if (!run->opts->on_event)
		return;
	/* the counts cost a pass over the plan: once a second, not for
	 * every task that starts or ends */
	if (event->kind != ORCH_RUN_EVENT_TICK) {
		run->opts->on_event(event, run->opts->payload);
		return;
	}
	for (size_t i = 0; i < run->plan->ntasks; i++) {
		orch_state s = run->states[i].state;
		counts[s]++;
		if (!orch_state_is_final(s)) {
			int64_t d = run->graph->duration[i];
			if (s == ORCH_STATE_RUNNING &&
			    run->states[i].started_ms)
				d -= orch_now_ms() - run->states[i].started_ms;
			if (d > 0)
				remaining += d;
			if (run->bottom[i] > longest)
				longest = run->bottom[i];
		}
	}
	for (size_t w = 0; w < run->nworkers; w++)
		if (!run->workers[w]->down)
			slots += run->workers[w]->slots;
	event->done = counts[ORCH_STATE_DONE] + counts[ORCH_STATE_MERGED];
	event->running = counts[ORCH_STATE_RUNNING];
	event->queued = counts[ORCH_STATE_READY] + counts[ORCH_STATE_PENDING];
	event->failed =
	    counts[ORCH_STATE_FAILED] + counts[ORCH_STATE_TIMEOUT] +
	    counts[ORCH_STATE_SKIPPED] + counts[ORCH_STATE_CANCELLED] +
	    counts[ORCH_STATE_CONFLICT] + counts[ORCH_STATE_REJECTED];
	event->elapsed_ms = orch_monotonic_ms() - run->started_mono;
	if (orch_pause_active(&run->pause, orch_now_ms()))
		event->paused_until_ms = run->pause.until_ms;
	if (slots > 0) {
		int64_t by_work = remaining / slots;
		event->eta_ms = by_work > longest ? by_work : longest;
	} else {
		event->eta_ms = -1;
	}
	run->opts->on_event(event, run->opts->payload);
}

static void note(struct run *run, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void note(struct run *run, const char *fmt, ...)
{
	orch_run_event event = {0};
	char text[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	event.kind = ORCH_RUN_EVENT_NOTE;
	event.message = text;
	emit(run, &event);
}

/* ---- leases ---------------------------------------------------------- */

static int64_t lease_ttl(const struct run *run)
{
	return run->opts->lease_ttl_ms > 0 ? run->opts->lease_ttl_ms
	                                   : ORCH_LEASE_TTL_MS;
}

static void fill_lease(struct run *run, orch_lease *lease, const char *task,
                       const char *worker, int attempt, const char *locator)
{
	memset(lease, 0, sizeof(*lease));
	lease->host = run->host;
	lease->pid = (int)getpid();
	lease->token = run->token;
	lease->expires_ms = orch_now_ms() + lease_ttl(run);
	lease->task = (char *)task;
	lease->worker = (char *)worker;
	lease->attempt = attempt;
	lease->locator = (char *)locator;
}

int orch_run_lease_is_stale(const orch_lease *lease)
{
	char host[256] = "";

	if (lease->expires_ms < orch_now_ms())
		return 1;
	gethostname(host, sizeof(host) - 1);
	if (lease->host && !strcmp(lease->host, host) && lease->pid > 0 &&
	    kill(lease->pid, 0) < 0 && errno == ESRCH)
		return 1;
	return 0;
}

/*
 * On a shared remote no clock is shared and no pid means anything (SPEC 8):
 * a lease is expired when its value has not changed for a whole lease
 * period since this runner first saw that value.
 */
static int lease_is_stale(struct run *run, const char *name,
                          const orch_lease *lease, const git_oid *oid)
{
	int64_t now = orch_monotonic_ms();
	size_t i;

	if (!orch_store_remote(run->store))
		return orch_run_lease_is_stale(lease);
	if (!orch_strmap_get(&i, &run->seen_index, name)) {
		i = run->nseen++;
		run->seen =
		    orch_realloc(run->seen, run->nseen * sizeof(*run->seen));
		orch_strmap_set(&run->seen_index, name, i);
	} else if (git_oid_equal(&run->seen[i].oid, oid)) {
		return now - run->seen[i].since_mono >= lease_ttl(run);
	}
	git_oid_cpy(&run->seen[i].oid, oid);
	run->seen[i].since_mono = now;
	return 0;
}

/*
 * Take lock `name`; a stale holder is broken by CAS. 0, or ORCH_ELOCKED
 * when a live process holds it. A stale task lease is broken too: it is
 * taken only for a task this run sees ready, so its holder died between
 * taking it and recording its claim (its attempt never started; a claim
 * recorded after all makes ours fail, and recover takes that one over).
 */
static int take_lock(git_oid *out, struct run *run, const char *name,
                     const orch_lease *lease)
{
	orch_lease seen_lease = {0};
	git_oid seen;
	int error;

	for (int tries = 0; tries < 5; tries++) {
		error = orch_lease_acquire(out, run->store, run->plan->name,
		                           name, lease);
		if (error != ORCH_ELOCKED && error != ORCH_EEXISTS)
			return error;
		error = orch_lease_read(&seen_lease, &seen, run->store,
		                        run->plan->name, name);
		if (error == ORCH_ENOTFOUND)
			continue;
		if (error < 0)
			return error;
		int stale = lease_is_stale(run, name, &seen_lease, &seen);
		orch_lease_clear(&seen_lease);
		if (!stale)
			return ORCH_ELOCKED;
		error = orch_lease_break(out, run->store, run->plan->name, name,
		                         &seen, lease);
		if (error != ORCH_EMODIFIED)
			return error;
	}
	return ORCH_ELOCKED;
}

static void release_pair_locks(struct run *run, struct task_rt *rt)
{
	for (size_t i = 0; i < rt->locks.count; i++)
		orch_lease_release(run->store, run->plan->name,
		                   rt->locks.items[i], &rt->lock_oids[i]);
	orch_strvec_free(&rt->locks);
	free(rt->lock_oids);
	rt->lock_oids = NULL;
}

static int take_pair_locks(struct run *run, size_t task)
{
	struct task_rt *rt = &run->rt[task];
	size_t n = run->ov_start[task + 1] - run->ov_start[task];
	orch_lease lease;
	int error = 0;

	if (n == 0)
		return 0;
	rt->lock_oids = orch_calloc(n, sizeof(git_oid));
	fill_lease(run, &lease, NULL, NULL, 0, NULL);
	for (size_t k = run->ov_start[task]; k < run->ov_start[task + 1]; k++) {
		size_t other = run->ov[k];
		size_t a = task < other ? task : other,
		       b = task < other ? other : task;
		char name[256];
		snprintf(name, sizeof(name), "file/%s+%s",
		         run->plan->tasks[a].id, run->plan->tasks[b].id);
		if ((error = take_lock(&rt->lock_oids[rt->locks.count], run,
		                       name, &lease)) < 0)
			break;
		orch_strvec_push(&rt->locks, name);
	}
	if (error < 0)
		release_pair_locks(run, rt);
	return error;
}

/* ---- store transitions ---------------------------------------------- */

struct claim {
	struct run *run;
	size_t task;
	const char *worker;
	const char *base;
	int attempt; /* out */
};

static int claim_cb(orch_txn *txn, void *payload)
{
	struct claim *c = payload;
	const orch_task *task = &c->run->plan->tasks[c->task];
	orch_task_state st;
	int error, deps_done = 0;

	orch_task_state_init(&st);
	if ((error = orch_txn_get_task(&st, txn, task->id)) < 0)
		goto done;
	if (st.state == ORCH_STATE_PENDING &&
	    (error = orch_task_deps_done(&deps_done, txn, c->run->plan,
	                                 c->task)) < 0)
		goto done;
	if (orch_task_claim(&st, task->id, deps_done, c->worker, c->base,
	                    orch_now_ms()) < 0) {
		error = ORCH_ENOCHANGE; /* no longer ready */
		goto done;
	}
	c->attempt = st.attempts;
	if ((error = orch_txn_put_task(txn, task->id, &st)) < 0)
		goto done;
	orch_txn_message(txn, "%s: started on %s (attempt %d)", task->id,
	                 c->worker, st.attempts);
done:
	orch_task_state_clear(&st);
	return error;
}

/* How an attempt ended, to be recorded. */
struct outcome {
	struct run *run;
	size_t task;
	int attempt;
	orch_state state; /* done, ready (retry), failed, timeout, conflict,
	                     cancelled */
	int exit_status;
	int64_t duration_ms;
	const char *commit;
	const char *error;
	const char *worktree;
	int64_t not_before_ms;
	const orch_strvec *paths;
	const char *worker;
	const orch_buf *log;
	const orch_strvec *shared;  /* findings of the attempt, or NULL */
	const git_oid *fence;       /* remote: our lease, expected unchanged */
	int interrupted;            /* ready again by no fault of the task */
	const char *rate_limit;     /* how it hit the rate limit, or NULL */
	const orch_job_result *res; /* resource use, or NULL */
	int recorded;               /* out: 1 when written */
	orch_state final;           /* out: state written */
};

/*
 * On a shared remote an outcome is recorded only while our lease is still
 * ours there (the push expects it) and, when done, pushes the result
 * branch in the same atomic push (SPEC 8, fencing).
 */
static int fence(orch_txn *txn, struct outcome *o)
{
	const char *id = o->run->plan->tasks[o->task].id;
	char lease_ref[512], branch[512];
	git_oid now, result;

	snprintf(lease_ref, sizeof(lease_ref),
	         "refs/orchestrate/locks/%s/task/%s", o->run->plan->name, id);
	if (git_reference_name_to_id(&now, o->run->repo, lease_ref) < 0 ||
	    !git_oid_equal(&now, o->fence)) {
		orch_error_set("task '%s': its lease was broken by another "
		               "runner; attempt %d is not recorded",
		               id, o->attempt);
		return ORCH_ELOCKED;
	}
	/* every outcome is followed by giving the lease back: in this push */
	orch_txn_delete_ref(txn, lease_ref, o->fence);
	if (o->state == ORCH_STATE_DONE && o->commit &&
	    git_oid_fromstr(&result, o->commit) == 0) {
		snprintf(branch, sizeof(branch), "refs/heads/orchestrate/%s/%s",
		         o->run->plan->name, id);
		orch_txn_push_ref(txn, branch, &result);
	}
	return 0;
}

static int outcome_cb(orch_txn *txn, void *payload)
{
	struct outcome *o = payload;
	const orch_task *task = &o->run->plan->tasks[o->task];
	orch_task_state st;
	char dur[32], shared[300] = "";
	size_t nshared = 0;
	int error;

	o->recorded = 0;
	orch_task_state_init(&st);
	if (o->fence && (error = fence(txn, o)) < 0)
		goto done;
	if ((error = orch_txn_get_task(&st, txn, task->id)) < 0)
		goto done;
	if (o->log && o->log->len &&
	    (error =
	         orch_txn_put_log(txn, task->id, o->log->ptr, o->log->len)) < 0)
		goto done;
	/* the attempt's findings, with its outcome (and under its fence) */
	if ((error = orch_shared_put(&nshared, txn, task->id, o->attempt,
	                             o->worker, orch_now_ms(), o->shared)) < 0)
		goto done;
	if (nshared)
		snprintf(shared, sizeof(shared), "\n\n%s: shared %zu finding%s",
		         task->id, nshared, nshared == 1 ? "" : "s");
	{
		orch_task_outcome end = {0};
		end.attempt = o->attempt;
		end.state = o->state;
		end.exit_status = o->exit_status;
		end.duration_ms = o->duration_ms;
		end.now_ms = orch_now_ms();
		end.commit = o->commit;
		end.error = o->error;
		end.worktree = o->worktree;
		end.not_before_ms = o->not_before_ms;
		end.paths = o->paths;
		end.interrupted = o->interrupted;
		if (o->res) {
			end.cpu_ms = o->res->cpu_ms;
			end.cpu_known = o->res->cpu_known;
			end.max_rss_kb = o->res->max_rss_kb;
			end.rss_known = o->res->rss_known;
		}
		if ((error = orch_task_end(&st, task->id, &end)) < 0) {
			if (error != ORCH_ENOCHANGE)
				goto done;
			/* changed under us (cancelled by `cancel`): keep that,
			 * log only */
			error = 0;
			o->final = st.state;
			orch_txn_message(txn, "%s: output of attempt %d (%s)%s",
			                 task->id, o->attempt,
			                 orch_state_name(st.state), shared);
			goto done;
		}
	}
	if ((error = orch_txn_put_task(txn, task->id, &st)) < 0)
		goto done;
	if (o->rate_limit) {
		orch_pause pause;
		char until[64];
		orch_pause_init(&pause);
		if ((error = orch_pause_hit(
		         &pause, txn, o->run->plan, task->id, o->attempt,
		         o->rate_limit, orch_now_ms(),
		         o->run->opts->rate_limit_first_ms)) < 0)
			goto done;
		orch_format_time(until, sizeof(until), pause.until_ms);
		orch_txn_message(
		    txn,
		    "%s: attempt %d on %s hit the rate limit (%s); "
		    "dispatch paused until %s",
		    task->id, o->attempt, o->worker, o->rate_limit, until);
		orch_pause_clear(&pause);
		o->final = o->state;
		o->recorded = 1;
		goto done;
	}
	if (o->state == ORCH_STATE_DONE && (error = orch_pause_reset(txn)) < 0)
		goto done;
	orch_format_duration(dur, sizeof(dur), o->duration_ms);
	switch (o->state) {
	case ORCH_STATE_DONE:
		orch_txn_message(txn, "%s: done on %s in %s (attempt %d)%s",
		                 task->id, o->worker, dur, o->attempt, shared);
		error = orch_task_promote_dependents(txn, o->run->plan,
		                                     o->run->graph, o->task);
		break;
	case ORCH_STATE_READY:
		orch_txn_message(txn, "%s: attempt %d on %s: %s; ready again%s",
		                 task->id, o->attempt, o->worker,
		                 o->error ? o->error : "stopped", shared);
		break;
	default:
		orch_txn_message(
		    txn, "%s: %s on %s after %s (attempt %d): %s%s", task->id,
		    orch_state_name(o->state), o->worker, dur, o->attempt,
		    o->error ? o->error : "", shared);
		break;
	}
	o->final = o->state;
	o->recorded = 1;
done:
	orch_task_state_clear(&st);
	return error;
}

struct skip {
	struct run *run;
	size_t *tasks;
	size_t count;
};

static int skip_cb(orch_txn *txn, void *payload)
{
	struct skip *s = payload;
	int error = 0, changed = 0;

	for (size_t i = 0; i < s->count && error == 0; i++) {
		const orch_plan *plan = s->run->plan;
		const char *id = plan->tasks[s->tasks[i]].id;
		orch_task_state st;
		orch_state dep_state;
		size_t dep;
		orch_task_state_init(&st);
		if ((error = orch_txn_get_task(&st, txn, id)) == 0 &&
		    (st.state == ORCH_STATE_PENDING ||
		     st.state == ORCH_STATE_READY) &&
		    (error = orch_task_dead_dep(&dep, &dep_state, txn, plan,
		                                s->tasks[i])) == 0 &&
		    dep != (size_t)-1 &&
		    (error = orch_task_skip(&st, id, plan->tasks[dep].id,
		                            dep_state)) == 0 &&
		    (error = orch_txn_put_task(txn, id, &st)) == 0)
			changed++;
		orch_task_state_clear(&st);
	}
	if (error < 0)
		return error;
	if (!changed)
		return ORCH_ENOCHANGE;
	orch_txn_message(txn, "%s%s: skipped, a dependency did not succeed",
	                 s->run->plan->tasks[s->tasks[0]].id,
	                 changed > 1 ? " and others" : "");
	return 0;
}

/* ---- the loop ---------------------------------------------------------- */

/*
 * Take what `git orchestrate set` changed in the stored plan (priority,
 * timeout, retries, needs of tasks) into the running one. A plan whose
 * tasks are not the same ones is left alone: only `set` changes a stored
 * plan that has started.
 */
static int reload_plan(struct run *run, const git_oid *seen)
{
	orch_plan *fresh = NULL;
	int error;

	if ((error = orch_store_reload_plan(&fresh, &run->plan_head,
	                                    &run->plan_blob, run->store,
	                                    run->plan->name, seen)) < 0 ||
	    !fresh)
		return error;
	if (fresh->ntasks != run->plan->ntasks)
		goto done;
	for (size_t i = 0; i < fresh->ntasks; i++)
		if (strcmp(fresh->tasks[i].id, run->plan->tasks[i].id))
			goto done;
	for (size_t i = 0; i < fresh->ntasks; i++) {
		orch_task *now = &run->plan->tasks[i], *set = &fresh->tasks[i];
		orch_strvec needs = now->needs;
		int changed = 0;
		if (now->priority != set->priority) {
			now->priority = set->priority;
			run->graph->priority[i] = (int)set->priority;
			changed = 1;
		}
		if (now->timeout_ms != set->timeout_ms ||
		    now->retries != set->retries) {
			now->timeout_ms = set->timeout_ms;
			now->retries = set->retries;
			changed = 1;
		}
		if (needs.count != set->needs.count)
			changed = 2;
		for (size_t k = 0; k < needs.count && changed != 2; k++)
			if (strcmp(needs.items[k], set->needs.items[k]))
				changed = 2;
		if (changed == 2) {
			now->needs = set->needs;
			set->needs = needs;
			run->rt[i].unrunnable = 0; /* matched again */
		}
		if (changed) {
			note(run, "%s: changed by 'git orchestrate set'",
			     now->id);
			run->ready.stale = 1;
		}
	}
done:
	orch_plan_free(fresh);
	return 0;
}

static void ready_states_changed(struct run *run);

/* The pause in the state; a new one (ours or another runner's) is noted. */
static int read_pause(struct run *run)
{
	orch_pause fresh;
	int error = orch_pause_read(&fresh, run->store, run->plan->name);
	int64_t now = orch_now_ms();

	if (error < 0)
		return error;
	if (orch_pause_active(&fresh, now) &&
	    fresh.until_ms != run->pause.until_ms) {
		char until[64];
		orch_format_time(until, sizeof(until), fresh.until_ms);
		note(run,
		     "rate limit: %s (attempt %d, %s): no task starts on any "
		     "worker until %s",
		     fresh.task ? fresh.task : "?", fresh.attempt,
		     fresh.reason ? fresh.reason : "?", until);
	}
	orch_pause_clear(&run->pause);
	run->pause = fresh;
	return 0;
}

static int sync_states(struct run *run)
{
	git_oid head;
	/* the head the states were read at: plan.json is compared there */
	int error = orch_store_read_states_since(run->states, &head, run->store,
	                                         run->plan, run->reader);
	run->last_sync = orch_monotonic_ms();
	/* the same head: states, plan and pause as they were */
	if (error < 0 ||
	    (run->synced && git_oid_equal(&head, &run->synced_head)))
		return error;
	if ((error = reload_plan(run, &head)) < 0 ||
	    (error = read_pause(run)) < 0) {
		/* what the read changed is not taken in: start again */
		run->ready.stale = 1;
		return error;
	}
	ready_states_changed(run);
	git_oid_cpy(&run->synced_head, &head);
	run->synced = 1;
	return 0;
}

/* The commit message of a result: subject, blank line, trailers. */
static char *result_message(const orch_plan *plan, const orch_task *task,
                            int attempt)
{
	orch_buf msg = {0};
	const char *what =
	    task->prompt ? task->prompt : orch_plan_command(plan, task);
	size_t len = what ? strcspn(what, "\n") : 0;

	if (len > 60)
		len = 60;
	orch_buf_printf(
	    &msg,
	    "%s: %.*s%s\n\nOrchestrate-Plan: %s\nOrchestrate-Task: %s\n"
	    "Orchestrate-Attempt: %d\n",
	    task->id, (int)len, what ? what : "",
	    what && strcspn(what, "\n") > 60 ? "..." : "", plan->name, task->id,
	    attempt);
	return orch_buf_detach(&msg);
}

/*
 * The spec of attempt `attempt` of `task` from `base`; `branch` and
 * `*message` (caller frees) hold what it points to.
 */
static void job_spec(orch_job_spec *spec, char *branch, size_t branchlen,
                     char **message, struct run *run, size_t task, int attempt,
                     const char *base)
{
	const orch_task *t = &run->plan->tasks[task];

	snprintf(branch, branchlen, "refs/heads/orchestrate/%s/%s",
	         run->plan->name, t->id);
	*message = result_message(run->plan, t, attempt);
	memset(spec, 0, sizeof(*spec));
	spec->plan = run->plan->name;
	spec->task = t->id;
	spec->attempt = attempt;
	spec->base = base;
	spec->branch = branch;
	spec->command = orch_plan_command(run->plan, t);
	spec->prompt = t->prompt;
	spec->setup = run->plan->setup;
	spec->message = *message;
}

static void keep_tail(orch_buf *buf)
{
	if (buf->len > ORCH_LOG_MAX) {
		size_t drop = buf->len - ORCH_LOG_MAX;
		memmove(buf->ptr, buf->ptr + drop, ORCH_LOG_MAX);
		buf->len = ORCH_LOG_MAX;
		buf->ptr[buf->len] = '\0';
	}
}

/*
 * The one way output comes in: what the job printed since the last call,
 * with every secret's value redacted before it is kept (and so before it
 * can be stored), then only the tail kept. `ended`: the job printed its
 * last, so what was held back as a possible start of a value goes out
 * too. Returns how many bytes were added.
 */
static size_t take_output(struct run *run, struct task_rt *rt, int ended)
{
	orch_buf raw = {0};
	size_t before = rt->output.len;

	if (rt->job)
		rt->worker->ops->read_output(&raw, rt->worker, rt->job);
	orch_redact_put(&rt->output, &rt->redactor, &run->secrets, raw.ptr,
	                raw.len);
	if (ended)
		orch_redact_flush(&rt->output, &rt->redactor, &run->secrets);
	orch_buf_free(&raw);
	keep_tail(&rt->output);
	return rt->output.len >= before ? rt->output.len - before : 0;
}

/*
 * What the ended attempt of `rt` shared, redacted like its output, split
 * into findings (appended to *out). A share file the worker cannot give
 * (too big...) is said in the run's notes and the task's output, never
 * dropped silently.
 */
static void take_shared(orch_strvec *out, struct run *run, size_t task)
{
	struct task_rt *rt = &run->rt[task];
	orch_buf raw = {0}, clean = {0};
	orch_redactor redactor = {0};
	int error;

	if (!rt->job || !rt->worker->ops->read_shared)
		return;
	if ((error = rt->worker->ops->read_shared(&raw, rt->worker, rt->job)) ==
	        0 &&
	    raw.len) {
		orch_redact_put(&clean, &redactor, &run->secrets, raw.ptr,
		                raw.len);
		orch_redact_flush(&clean, &redactor, &run->secrets);
		error = orch_shared_split(out, clean.ptr, clean.len,
		                          "the share file");
	}
	if (error < 0) {
		orch_buf_printf(
		    &rt->output, "%sgit-orchestrate: %s, attempt %d: %s\n",
		    rt->output.len && rt->output.ptr[rt->output.len - 1] != '\n'
		        ? "\n"
		        : "",
		    run->plan->tasks[task].id, rt->attempt,
		    orch_error_message());
		keep_tail(&rt->output);
		note(run, "warning: %s, attempt %d: %s",
		     run->plan->tasks[task].id, rt->attempt,
		     orch_error_message());
	}
	orch_redactor_clear(&redactor);
	orch_buf_free(&raw);
	orch_buf_free(&clean);
}

/*
 * The text of ORCHESTRATE_CONTEXT_FILE: all findings so far (borrowed from
 * the run's cache; NULL, said in a note, when they cannot be read).
 */
static const char *shared_context(struct run *run)
{
	const char *text;

	if (orch_shared_context(&text, &run->shared, run->store,
	                        run->plan->name) < 0) {
		note(run, "warning: cannot read what tasks shared: %s",
		     orch_error_message());
		return NULL;
	}
	return text;
}

/* Where a variable named in `env` comes from, for messages. */
static void env_source(char *out, size_t outlen, const struct run *run,
                       const orch_task *task, const orch_worker_config *wc)
{
	if (wc)
		snprintf(out, outlen, "worker '%s' (%s)", wc->name,
		         wc->source ? wc->source : "configuration");
	else if (task)
		snprintf(out, outlen, "task '%s' of plan '%s'", task->id,
		         run->plan->name);
	else
		snprintf(out, outlen, "plan '%s'", run->plan->name);
}

/*
 * Take the value of every variable the plan, its tasks and the workers of
 * this run name in `env` from our environment, before anything runs: an
 * unset one is ORCH_EINVALID naming it and who names it.
 */
static int resolve_secrets(struct run *run, const orch_config *config)
{
	char where[512];
	int error;

	env_source(where, sizeof(where), run, NULL, NULL);
	for (size_t k = 0; k < run->plan->env.count; k++)
		if ((error = orch_secrets_add_env(
		         &run->secrets, run->plan->env.items[k], where)) < 0)
			return error;
	for (size_t i = 0; i < run->plan->ntasks; i++) {
		const orch_task *t = &run->plan->tasks[i];
		if (!t->env.count)
			continue;
		env_source(where, sizeof(where), run, t, NULL);
		for (size_t k = 0; k < t->env.count; k++)
			if ((error = orch_secrets_add_env(
			         &run->secrets, t->env.items[k], where)) < 0)
				return error;
	}
	for (size_t w = 0; w < config->nworkers; w++) {
		const orch_worker_config *wc = &config->workers[w];
		if (run->opts->only && run->opts->only->count &&
		    !orch_strvec_contains(run->opts->only, wc->name))
			continue;
		env_source(where, sizeof(where), run, NULL, wc);
		for (size_t k = 0; k < wc->env.count; k++)
			if ((error = orch_secrets_add_env(
			         &run->secrets, wc->env.items[k], where)) < 0)
				return error;
	}
	return 0;
}

/* Add NAME=VALUE of each of `names` not in *out yet. */
static void push_env(orch_strvec *out, const struct run *run,
                     const orch_strvec *names)
{
	orch_buf var = {0};

	for (size_t k = 0; k < names->count; k++) {
		const char *name = names->items[k];
		const char *value = orch_secrets_get(&run->secrets, name);
		size_t len = strlen(name);
		int seen = 0;
		if (!value)
			continue; /* a worker opened by a test, say */
		for (size_t i = 0; i < out->count && !seen; i++)
			seen = !strncmp(out->items[i], name, len) &&
			       out->items[i][len] == '=';
		if (seen)
			continue;
		orch_buf_printf(&var, "%s=%s", name, value);
		orch_strvec_push_take(out, orch_buf_detach(&var));
	}
}

/* The variables `env` names for `task` on `worker`, as NAME=VALUE. */
static void job_env(orch_strvec *out, const struct run *run, size_t task,
                    const orch_worker *worker)
{
	const orch_worker_config *wc =
	    orch_config_worker(run->config, worker->name);

	push_env(out, run, &run->plan->tasks[task].env);
	push_env(out, run, &run->plan->env);
	if (wc)
		push_env(out, run, &wc->env);
}

/* Free a list of NAME=VALUE, overwriting the values first. */
static void env_free(orch_strvec *env)
{
	for (size_t i = 0; i < env->count; i++) {
		volatile char *p = env->items[i];
		while (*p)
			*p++ = '\0';
	}
	orch_strvec_free(env);
}

static int64_t backoff_ms(struct run *run, int attempt)
{
	int64_t ms = run->opts->retry_base_ms > 0 ? run->opts->retry_base_ms
	                                          : BACKOFF_BASE_MS;

	for (int i = 1; i < attempt && ms < BACKOFF_MAX_MS; i++)
		ms *= 2;
	if (ms > BACKOFF_MAX_MS)
		ms = BACKOFF_MAX_MS;
	/* jitter: +-25% */
	ms += (int64_t)((rand() / (double)RAND_MAX - 0.5) * ms / 2);
	return ms;
}

static int recorded(struct run *run, struct outcome *o, int error);

static int record(struct run *run, struct outcome *o)
{
	o->run = run;
	if (orch_store_remote(run->store))
		o->fence = &run->rt[o->task].lease;
	return recorded(run, o,
	                orch_store_update(run->store, run->plan->name,
	                                  outcome_cb, o, NULL));
}

static void release_task_lease(struct run *run, size_t task)
{
	char name[256];

	snprintf(name, sizeof(name), "task/%s", run->plan->tasks[task].id);
	if (!run->rt[task].lease_gone)
		orch_lease_release(run->store, run->plan->name, name,
		                   &run->rt[task].lease);
	run->rt[task].lease_gone = 0;
	release_pair_locks(run, &run->rt[task]);
	free(run->rt[task].locator);
	run->rt[task].locator = NULL;
}

/* The note on a task's result commit. Caller frees. */
static char *result_note(const struct run *run, size_t task, const char *worker,
                         int attempt, int64_t duration)
{
	orch_buf text = {0};

	orch_buf_printf(&text,
	                "plan: %s\ntask: %s\nworker: %s\nattempt: "
	                "%d\nduration-ms: %lld\nexit: 0\n",
	                run->plan->name, run->plan->tasks[task].id, worker,
	                attempt, (long long)duration);
	return orch_buf_detach(&text);
}

/*
 * merge = auto-rerun: a task that conflicts runs again from the base as it
 * is now, up to the plan's rerun-limit (the caller syncs the states).
 */
static void rerun_now(struct run *run, size_t task)
{
	orch_rerun_result res = {0};
	const char *id = run->plan->tasks[task].id;
	int error = orch_merge_rerun(&res, run->store, run->plan->name, id);

	if (error == 0)
		note(run,
		     "%s: conflicts with the base branch; re-run %d of %d "
		     "from %s at %.12s",
		     id, run->states[task].reruns + 1, res.limit, res.base,
		     git_oid_tostr_s(&res.base_tip));
	else if (error == ORCH_ENOCHANGE && res.exhausted.count)
		note(run,
		     "%s: conflicts with the base branch after %d re-run%s "
		     "(rerun-limit = %d); left unmerged: resolve it by hand, "
		     "or 'git orchestrate retry %s %s' to run it again",
		     id, res.limit, res.limit == 1 ? "" : "s", res.limit,
		     run->plan->name, id);
	else if (error < 0 && error != ORCH_ENOCHANGE)
		note(run, "%s: conflicts; cannot set it to run again: %s", id,
		     orch_error_message());
	orch_rerun_result_clear(&res);
}

/* run --merge, merge = auto: merge a task into the base as soon as it is done.
 */
static void merge_now(struct run *run, size_t task)
{
	orch_merge_options mopts = {0};
	orch_merge_result res;
	const char *id = run->plan->tasks[task].id;
	int error;

	orch_merge_result_init(&res);
	mopts.plan = run->plan->name;
	error = orch_merge_task(&res, run->store, &mopts, id);
	if (error < 0 && error != ORCH_ENOCHANGE)
		note(run, "%s: not merged: %s", id, orch_error_message());
	else if (res.merged.count)
		note(run, "%s: merged into %s", id,
		     res.into ? res.into : "the base branch");
	else if (res.conflicted.count && run->plan->merge_rerun)
		rerun_now(run, task);
	else if (res.conflicted.count)
		note(run, "%s: conflicts with the base branch; left unmerged",
		     id);
	else if (res.rejected.count)
		note(run, "%s: rejected: the merged result fails verify", id);
	orch_merge_result_clear(&res);
}

/*
 * Remove the worktree kept for an earlier failed attempt of `task`: a later
 * attempt succeeded or kept its own (the state names one only).
 */
static void release_old_kept(struct run *run, size_t task)
{
	static const orch_worker_config here = {.name = "local",
	                                        .host = "local"};
	struct task_rt *rt = &run->rt[task];
	const orch_worker_config *wc = NULL;

	if (!rt->old_kept)
		return;
	if (run->config && rt->old_kept_worker)
		wc = orch_config_worker(run->config, rt->old_kept_worker);
	if (!wc)
		wc = &here;
	if (orch_worker_kind_of(wc)->remove_kept(wc, run->repo, rt->old_kept) <
	    0)
		note(run,
		     "warning: %s: cannot remove the worktree kept for an "
		     "earlier attempt: %s",
		     run->plan->tasks[task].id, orch_error_message());
	free(rt->old_kept);
	free(rt->old_kept_worker);
	rt->old_kept = rt->old_kept_worker = NULL;
}

/*
 * A slot of `worker` failed its setup: the worker keeps it out of this
 * run, so the run counts one slot less there. A worker left without a
 * slot cannot run anything any more (see ready_tasks_lack_workers).
 */
static void setup_failed(struct run *run, orch_worker *worker, const char *why)
{
	note(run, "%s", why);
	if (worker->slots > 0)
		worker->slots--;
	for (size_t w = 0; w < run->nworkers; w++)
		if (run->workers[w] == worker && worker->slots == 0)
			snprintf(run->setup_broken[w],
			         sizeof(run->setup_broken[w]),
			         "%s, and on every other slot", why);
}

/* An attempt of ours that ended, on its way to being recorded. */
struct ending {
	size_t task;
	orch_job_result res;
	struct outcome o;
	orch_strvec shared;
	int64_t duration;
	const char *worker;
	char *kept; /* the worktree kept for it, or NULL */
	char hex[GIT_OID_HEXSZ + 1], why[600], limited[160];
	int stored; /* its outcome went into a commit (or was refused) */
	int code;   /* what recording it returned */
};

/*
 * An attempt was lost to another runner (SPEC 8): not ours to record, not
 * a retry used.
 */
static void conclude_lost(struct run *run, size_t task)
{
	struct task_rt *rt = &run->rt[task];

	if (rt->job)
		rt->worker->ops->finish(rt->worker, rt->job, 0, NULL);
	rt->job = NULL;
	rt->worker->running--;
	run->ours--;
	release_task_lease(run, task);
	orch_buf_clear(&rt->output);
	orch_buf_clear(&rt->redactor.carry);
	rt->timed_out = rt->cancelled = rt->lost = 0;
	note(run, "%s: attempt %d stopped: another runner broke its lease",
	     run->plan->tasks[task].id, rt->attempt);
}

/* What `e`'s attempt ended with, ready to record (its slot is let go first
 * when it failed: the worker says which worktree it kept). */
static void conclude_begin(struct run *run, struct ending *e)
{
	struct task_rt *rt = &run->rt[e->task];
	const orch_task *t = &run->plan->tasks[e->task];
	const orch_job_result *res = &e->res;
	struct outcome *o = &e->o;

	e->duration = orch_monotonic_ms() - rt->started_mono;
	e->worker = rt->worker->name;
	take_output(run, rt, 1);
	take_shared(&e->shared, run, e->task);
	o->shared = &e->shared;
	o->task = e->task;
	o->attempt = rt->attempt;
	o->exit_status = res->exit_status;
	o->duration_ms = e->duration;
	o->worker = e->worker;
	o->log = &rt->output;
	o->res = res;
	if (res->rss_known && res->max_rss_kb > run->task_kb)
		run->task_kb = res->max_rss_kb;
	if (res->phase == ORCH_JOB_EXITED && res->has_result &&
	    !rt->timed_out && !rt->cancelled) {
		git_oid_tostr(e->hex, sizeof(e->hex), &res->result);
		/* fault injection for the crash-safety tests: die between the
		 * result commit and its record */
		if (run->opts->crash_before_record)
			raise(SIGKILL);
		o->state = ORCH_STATE_DONE;
		o->commit = e->hex;
		/* its slot is free for the next task now: the result is on
		 * its branch, where recover() finds it after a crash */
		if (rt->job)
			rt->worker->ops->finish(rt->worker, rt->job, 0, NULL);
		return;
	}
	int final, rate_limited =
	               res->phase == ORCH_JOB_EXITED && !res->setup_failed &&
	               !rt->timed_out && !rt->cancelled &&
	               orch_rate_limit_hit(e->limited, sizeof(e->limited),
	                                   &run->rate_limit, res->exit_status,
	                                   rt->output.ptr);
	if (rt->timed_out) {
		char lim[32];
		orch_format_duration(lim, sizeof(lim),
		                     orch_plan_task_timeout(run->plan, t));
		snprintf(e->why, sizeof(e->why), "timed out after %s", lim);
	} else if (rt->cancelled) {
		snprintf(e->why, sizeof(e->why), "cancelled");
	} else if (rate_limited) {
		snprintf(e->why, sizeof(e->why), "rate limit: %s", e->limited);
	} else {
		snprintf(e->why, sizeof(e->why), "%s",
		         res->error[0] ? res->error : "failed");
	}
	final = rt->cancelled || orch_task_retries_exhausted(
	                             &run->states[e->task], rt->attempt,
	                             orch_plan_task_retries(run->plan, t));
	if (res->phase == ORCH_JOB_LOST || res->setup_failed || rate_limited) {
		/* not the task's fault: run it again without using a retry */
		final = 0;
	}
	if (res->setup_failed)
		setup_failed(run, rt->worker, res->error);
	o->interrupted =
	    res->phase == ORCH_JOB_LOST || res->setup_failed || rate_limited;
	o->rate_limit = rate_limited ? e->limited : NULL;
	if (rt->job)
		rt->worker->ops->finish(rt->worker, rt->job,
		                        final && !rt->cancelled, &e->kept);
	o->error = e->why;
	o->worktree = e->kept;
	if (rt->cancelled)
		o->state = ORCH_STATE_CANCELLED;
	else if (!final)
		o->state = ORCH_STATE_READY;
	else
		o->state =
		    rt->timed_out ? ORCH_STATE_TIMEOUT : ORCH_STATE_FAILED;
	if (o->state == ORCH_STATE_READY && !o->interrupted)
		o->not_before_ms = orch_now_ms() + backoff_ms(run, rt->attempt);
}

/* Recorded (or not): what follows, then the attempt is let go. */
static void conclude_end(struct run *run, struct ending *e)
{
	struct task_rt *rt = &run->rt[e->task];
	struct outcome *o = &e->o;
	orch_run_event event = {0};

	if (o->state == ORCH_STATE_DONE) {
		/* its note is written (settle_endings) */
		if (o->recorded)
			release_old_kept(run, e->task);
		if (o->recorded && !orch_store_remote(run->store) &&
		    (run->opts->merge || run->plan->merge_auto))
			merge_now(run, e->task);
	} else if (o->recorded && e->kept) {
		release_old_kept(run, e->task);
	}
	release_task_lease(run, e->task);
	event.kind = ORCH_RUN_EVENT_END;
	event.task = run->plan->tasks[e->task].id;
	event.worker = e->worker;
	event.attempt = rt->attempt;
	event.state = o->final;
	event.duration_ms = e->duration;
	event.message = o->error;
	emit(run, &event);
	orch_buf_clear(&rt->output);
	rt->timed_out = rt->cancelled = 0;
}

static void ending_clear(struct ending *e)
{
	orch_strvec_free(&e->shared);
	free(e->kept);
	e->kept = NULL;
}

/* One record's result for `o`, as record() takes it. */
static int recorded(struct run *run, struct outcome *o, int error)
{
	if (error == 0 && o->fence)
		run->rt[o->task].lease_gone = 1;
	if (error == ORCH_ENOCHANGE)
		error = 0;
	if (error == ORCH_ELOCKED) {
		/* fenced off: another runner has the task now */
		note(run, "%s", orch_error_message());
		run->rt[o->task].lost = 1;
		o->final = ORCH_STATE_READY;
		error = 0;
	}
	return error;
}

/* A change of a mixed batch: its callback and payload. */
struct change {
	orch_store_update_cb cb;
	void *payload;
};

static int change_cb(orch_txn *txn, void *payload)
{
	struct change *c = payload;
	return c->cb(txn, c->payload);
}

/*
 * Record the pending outcomes not recorded yet and also[0..nalso) after
 * them, in one commit; also_codes gets what each of those returned.
 * Returns 0, or the update's error when nothing could be recorded.
 */
static int record_pending(struct run *run, const struct change *also,
                          size_t nalso, int *also_codes)
{
	size_t n = 0, m = run->npending + nalso + 1;
	struct change *changes = orch_calloc(m, sizeof(*changes));
	void **payloads = orch_calloc(m, sizeof(*payloads));
	int *codes = orch_calloc(m, sizeof(*codes));
	int error = 0;

	for (size_t i = 0; i < run->npending; i++) {
		struct ending *e = run->pending[i];
		if (e->stored)
			continue;
		changes[n].cb = outcome_cb;
		changes[n].payload = &e->o;
		payloads[n] = &changes[n];
		n++;
	}
	for (size_t k = 0; k < nalso; k++) {
		changes[n] = also[k];
		payloads[n] = &changes[n];
		n++;
	}
	if (n == 0)
		goto done;
	if (n == 1) {
		/* one change: orch_store_update's own code and message */
		codes[0] = orch_store_update(run->store, run->plan->name,
		                             change_cb, payloads[0], NULL);
	} else {
		error =
		    orch_store_update_each(run->store, run->plan->name,
		                           change_cb, payloads, codes, n, NULL);
		if (error < 0 && error != ORCH_ENOCHANGE)
			goto done; /* nothing recorded: the pending wait */
		error = 0;
	}
	for (size_t i = 0, k = 0; i < run->npending; i++) {
		struct ending *e = run->pending[i];
		if (e->stored)
			continue;
		e->stored = 1;
		e->code = codes[k++];
	}
	for (size_t k = 0; k < nalso; k++)
		also_codes[k] = codes[n - nalso + k];
done:
	free(codes);
	free(payloads);
	free(changes);
	return error;
}

/* The notes on the results of the pending outcomes: waiting (flush_notes). */
static void add_notes(struct run *run)
{
	for (size_t i = 0; i < run->npending; i++) {
		const struct ending *e = run->pending[i];
		if (e->o.state != ORCH_STATE_DONE || !e->o.recorded)
			continue;
		if (run->nnotes == run->anotes) {
			run->anotes = run->anotes ? run->anotes * 2 : 16;
			run->note_oids =
			    orch_realloc(run->note_oids,
			                 run->anotes * sizeof(*run->note_oids));
			run->note_texts = orch_realloc(
			    run->note_texts,
			    run->anotes * sizeof(*run->note_texts));
		}
		if (!run->nnotes)
			run->notes_since = orch_monotonic_ms();
		run->note_oids[run->nnotes] = e->res.result;
		run->note_texts[run->nnotes++] =
		    result_note(run, e->task, e->worker,
		                run->rt[e->task].attempt, e->duration);
	}
}

/*
 * The waiting notes in one notes commit, once the first has waited
 * NOTES_WINDOW_MS or NOTES_BATCH wait; all of them when `all`.
 */
static void flush_notes(struct run *run, int all)
{
	if (!run->nnotes ||
	    (!all && run->nnotes < NOTES_BATCH &&
	     orch_monotonic_ms() - run->notes_since < NOTES_WINDOW_MS))
		return;
	if (orch_notes_set_each(run->store, run->note_oids,
	                        (const char *const *)run->note_texts,
	                        run->nnotes) < 0)
		note(run, "warning: cannot add the notes on %zu result%s: %s",
		     run->nnotes, run->nnotes == 1 ? "" : "s",
		     orch_error_message());
	for (size_t i = 0; i < run->nnotes; i++)
		free(run->note_texts[i]);
	run->nnotes = 0;
}

/*
 * The pending outcomes: recorded if no claim took them, then each attempt
 * is let go (note, kept worktree, merge, lease).
 */
static int settle_endings(struct run *run)
{
	int error;

	if (!run->npending)
		return 0;
	error = record_pending(run, NULL, 0, NULL);
	for (size_t i = 0; i < run->npending && error == 0; i++)
		error =
		    recorded(run, &run->pending[i]->o, run->pending[i]->code);
	if (error == 0)
		add_notes(run);
	for (size_t i = 0; i < run->npending; i++) {
		struct ending *e = run->pending[i];
		if (error == 0)
			conclude_end(run, e);
		ending_clear(e);
		free(e);
	}
	run->npending = 0;
	if (error < 0)
		return error;
	return sync_states(run);
}

/*
 * The attempts of ours that ended in one pass of the loop: their slots
 * are free at once, their outcomes go into the commit of the next claim
 * of this pass (or settle_endings' after it), so that a burst of
 * completions and the starts they make room for cost one commit (SPEC 5).
 * A task has one attempt at most, so each task's history keeps every
 * transition.
 */
static void conclude(struct run *run, const size_t *tasks,
                     const orch_job_result *results, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct task_rt *rt = &run->rt[tasks[i]];
		struct ending *e;
		if (rt->lost) {
			conclude_lost(run, tasks[i]);
			continue;
		}
		e = orch_calloc(1, sizeof(*e));
		e->task = tasks[i];
		e->res = results[i];
		conclude_begin(run, e);
		e->o.run = run;
		if (orch_store_remote(run->store))
			e->o.fence = &rt->lease;
		rt->job = NULL;
		rt->worker->running--;
		run->ours--;
		if (run->npending == run->apending) {
			run->apending = run->apending ? run->apending * 2 : 8;
			run->pending =
			    orch_realloc(run->pending,
			                 run->apending * sizeof(*run->pending));
		}
		run->pending[run->npending++] = e;
	}
}

/* Is `task` a pending outcome of a result? */
static int pending_done(const struct run *run, size_t task)
{
	for (size_t k = 0; k < run->npending; k++)
		if (run->pending[k]->task == task &&
		    run->pending[k]->o.state == ORCH_STATE_DONE)
			return 1;
	return 0;
}

/*
 * Must the pending outcomes be recorded before anything is dispatched? A
 * rate limit pauses dispatch, and a result that makes a dependent ready
 * (its other dependencies done, or pending results too) may put it before
 * what is ready now.
 */
static int settle_first(struct run *run)
{
	const orch_graph *g = run->graph;

	for (size_t k = 0; k < run->npending; k++) {
		const struct ending *e = run->pending[k];
		if (e->o.rate_limit)
			return 1;
		if (e->o.state != ORCH_STATE_DONE)
			continue;
		for (size_t r = g->rdep_start[e->task];
		     r < g->rdep_start[e->task + 1]; r++) {
			size_t dep = g->rdeps[r], d;
			orch_state s = run->states[dep].state;
			if (s != ORCH_STATE_PENDING && s != ORCH_STATE_READY)
				continue;
			for (d = g->dep_start[dep]; d < g->dep_start[dep + 1];
			     d++)
				if (!orch_state_is_success(
				        run->states[g->deps[d]].state) &&
				    !pending_done(run, g->deps[d]))
					break;
			if (d == g->dep_start[dep + 1])
				return 1; /* ready once recorded */
		}
	}
	return 0;
}

/* The claim of a dispatch, in one commit with the pending outcomes. */
static int claim_update(struct run *run, struct claim *claim)
{
	struct change c = {claim_cb, claim};
	int code = 0, error = record_pending(run, &c, 1, &code);

	return error < 0 ? error : code;
}

/* Are `task`'s dependencies done, and is it waiting for a slot? */
static int is_ready(struct run *run, size_t task)
{
	const orch_task_state *st = &run->states[task];
	const orch_graph *g = run->graph;

	if (run->rt[task].job || run->rt[task].unrunnable)
		return 0;
	if (st->state != ORCH_STATE_READY && st->state != ORCH_STATE_PENDING)
		return 0;
	for (size_t k = g->dep_start[task]; k < g->dep_start[task + 1]; k++)
		if (!orch_state_is_success(run->states[g->deps[k]].state))
			return 0;
	return 1;
}

/* Can `task` start now, as far as the plan's states say? */
static int startable(struct run *run, size_t task, int64_t now)
{
	if (!is_ready(run, task) || run->states[task].not_before_ms > now)
		return 0;
	for (size_t k = run->ov_start[task]; k < run->ov_start[task + 1]; k++)
		if (run->states[run->ov[k]].state == ORCH_STATE_RUNNING ||
		    run->rt[run->ov[k]].job)
			return 0;
	return 1;
}

static orch_worker *pick_worker(struct run *run, size_t task)
{
	const orch_task *t = &run->plan->tasks[task];
	const orch_task_state *st = &run->states[task];
	orch_worker *best = NULL;
	int best_fresh = 0;

	for (size_t w = 0; w < run->nworkers; w++) {
		orch_worker *worker = run->workers[w];
		int fresh;
		if (worker->down || worker->running >= worker->slots ||
		    !orch_worker_can_run(worker, &t->needs))
			continue;
		/* a retry prefers a worker it has not failed on */
		fresh = !orch_strvec_contains(&st->workers_tried, worker->name);
		if (!best || (fresh && !best_fresh) ||
		    (fresh == best_fresh &&
		     worker->running * best->slots <
		         best->running * worker->slots)) {
			best = worker;
			best_fresh = fresh;
		}
	}
	return best;
}

static int any_worker_can_run(struct run *run, size_t task)
{
	for (size_t w = 0; w < run->nworkers; w++)
		if (orch_worker_can_run(run->workers[w],
		                        &run->plan->tasks[task].needs))
			return 1;
	return 0;
}

/* ---- the ready set ---------------------------------------------------- */

static int ready_less(const struct run *run, size_t a, size_t b)
{
	return orch_graph_compare_ready(run->graph, run->bottom, a, b) < 0;
}

static void ready_heap_push(struct run *run, size_t task)
{
	struct ready_set *rs = &run->ready;
	size_t i = rs->len++;

	while (i > 0) {
		size_t parent = (i - 1) / 2;
		if (!ready_less(run, task, rs->heap[parent]))
			break;
		rs->heap[i] = rs->heap[parent];
		i = parent;
	}
	rs->heap[i] = task;
}

static size_t ready_heap_pop(struct run *run)
{
	struct ready_set *rs = &run->ready;
	size_t top = rs->heap[0], last = rs->heap[--rs->len], i = 0;

	for (;;) {
		size_t child = 2 * i + 1;
		if (child >= rs->len)
			break;
		if (child + 1 < rs->len &&
		    ready_less(run, rs->heap[child + 1], rs->heap[child]))
			child++;
		if (!ready_less(run, rs->heap[child], last))
			break;
		rs->heap[i] = rs->heap[child];
		i = child;
	}
	if (rs->len)
		rs->heap[i] = last;
	return top;
}

/* A task no worker at all can run is set apart once, with a note. */
static int mark_unrunnable(struct run *run, size_t task)
{
	if (any_worker_can_run(run, task))
		return 0;
	if (!run->rt[task].unrunnable) {
		run->rt[task].unrunnable = 1;
		idset_add(&run->unrunnable, task);
		note(run, "%s: no worker has every capability it needs",
		     run->plan->tasks[task].id);
	}
	return 1;
}

/* Put `task` in the ready set if it is ready and not there already. */
static void ready_offer(struct run *run, size_t task)
{
	struct ready_set *rs = &run->ready;

	if (!rs->built || rs->held[task] || !is_ready(run, task) ||
	    mark_unrunnable(run, task))
		return;
	rs->held[task] = 1;
	ready_heap_push(run, task);
}

/* Push back what the last dispatch set aside. */
static void ready_restore(struct run *run)
{
	struct ready_set *rs = &run->ready;

	for (size_t k = 0; k < rs->naside; k++)
		ready_heap_push(run, rs->aside[k]);
	rs->naside = 0;
}

static int state_is_live(orch_state s)
{
	return s == ORCH_STATE_RUNNING || s == ORCH_STATE_READY ||
	       s == ORCH_STATE_PENDING;
}

/*
 * Task `i` went from `old` (ORCH_STATE__COUNT: not known) to `now`: keep
 * the count and sets of struct run up to date.
 */
static void track_state(struct run *run, size_t i, orch_state old,
                        orch_state now)
{
	const orch_graph *g = run->graph;

	if (old != ORCH_STATE__COUNT && state_is_live(old))
		run->nlive--;
	if (state_is_live(now))
		run->nlive++;
	if (now == ORCH_STATE_RUNNING)
		idset_add(&run->running, i);
	if ((now == ORCH_STATE_READY || now == ORCH_STATE_PENDING) &&
	    run->states[i].not_before_ms > 0)
		idset_add(&run->timed, i);
	if (now == ORCH_STATE_READY || now == ORCH_STATE_PENDING)
		idset_add(&run->skipcheck, i);
	if (orch_state_is_dead_end(now))
		for (size_t k = g->rdep_start[i]; k < g->rdep_start[i + 1]; k++)
			idset_add(&run->skipcheck, g->rdeps[k]);
}

/* Every ready task, from the states as they are: O(n log n), rare. */
static void ready_rebuild(struct run *run)
{
	struct ready_set *rs = &run->ready;
	size_t n = run->plan->ntasks;

	if (!rs->heap) {
		rs->heap = orch_malloc((n + 1) * sizeof(size_t));
		rs->aside = orch_malloc((n + 1) * sizeof(size_t));
		rs->held = orch_calloc(n + 1, 1);
		rs->seen = orch_calloc(n + 1, sizeof(orch_state));
	}
	rs->len = rs->naside = 0;
	memset(rs->held, 0, n);
	rs->built = 1;
	rs->stale = 0;
	run->nlive = 0;
	idset_clear(&run->running);
	idset_clear(&run->timed);
	for (size_t i = 0; i < n; i++) {
		rs->seen[i] = run->states[i].state;
		track_state(run, i, ORCH_STATE__COUNT, rs->seen[i]);
		idset_add(&run->skipcheck, i);
		ready_offer(run, i);
	}
}

/*
 * After a state sync: offer each task whose state changed (ready again
 * after a retry, an interruption or a lost worker; set back by another
 * runner) and, of a task that succeeded, its dependents.
 */
static void ready_states_changed(struct run *run)
{
	struct ready_set *rs = &run->ready;
	const orch_graph *g = run->graph;
	const size_t *changed;
	size_t nchanged;

	if (!rs->built)
		return;
	changed = orch_states_reader_changed(run->reader, &nchanged);
	for (size_t c = 0; c < nchanged; c++) {
		size_t i = changed[c];
		orch_state s = run->states[i].state;
		track_state(run, i, rs->seen[i], s);
		if (s == rs->seen[i])
			continue;
		rs->seen[i] = s;
		ready_offer(run, i);
		if (orch_state_is_success(s))
			for (size_t k = g->rdep_start[i];
			     k < g->rdep_start[i + 1]; k++)
				ready_offer(run, g->rdeps[k]);
	}
}

/*
 * The best task that can start now and a worker with a free slot for it,
 * or (size_t)-1. What cannot start now (backoff, overlapping files, no
 * free worker with its capabilities) is set aside so it blocks nothing
 * behind it; ready_restore pushes it back.
 */
static size_t ready_take(orch_worker **out, struct run *run, int64_t now)
{
	struct ready_set *rs = &run->ready;
	int free_slot = 0;

	*out = NULL;
	for (size_t w = 0; w < run->nworkers && !free_slot; w++)
		free_slot = !run->workers[w]->down &&
		            run->workers[w]->running < run->workers[w]->slots;
	if (!free_slot)
		return (size_t)-1;
	while (rs->len) {
		size_t task = ready_heap_pop(run);
		if (!is_ready(run, task)) {
			rs->held[task] = 0; /* stale */
			continue;
		}
		if (startable(run, task, now) &&
		    (*out = pick_worker(run, task)) != NULL) {
			rs->held[task] = 0;
			return task;
		}
		if (mark_unrunnable(run, task)) {
			rs->held[task] = 0;
			continue;
		}
		rs->aside[rs->naside++] = task;
	}
	return (size_t)-1;
}

/*
 * On a shared remote the base and the dependencies' results may have been
 * made elsewhere: fetch those this repository lacks from the remote, and
 * say which is missing there too.
 */
static int fetch_missing(struct run *run, size_t task, const git_oid *base,
                         const git_oid *deps, size_t ndeps)
{
	const orch_graph *g = run->graph;
	orch_strvec specs = {0};
	git_odb *odb = NULL;
	int error;

	if ((error = git_repository_odb(&odb, run->repo)) < 0)
		return orch_error_git(error, "cannot open the object database");
	if (!git_odb_exists(odb, base)) {
		orch_buf spec = {0};
		orch_buf_printf(&spec, "refs/heads/%s", run->plan->base);
		orch_strvec_push_take(&specs, orch_buf_detach(&spec));
	}
	for (size_t k = g->dep_start[task], n = 0;
	     k < g->dep_start[task + 1] && n < ndeps; k++) {
		orch_buf spec = {0};
		if (!run->states[g->deps[k]].commit)
			continue;
		if (!git_odb_exists(odb, &deps[n++])) {
			orch_buf_printf(&spec, "refs/heads/orchestrate/%s/%s",
			                run->plan->name,
			                run->plan->tasks[g->deps[k]].id);
			orch_strvec_push_take(&specs, orch_buf_detach(&spec));
		}
	}
	if (specs.count &&
	    (error = orch_remote_fetch(run->repo, orch_store_remote(run->store),
	                               &specs)) == 0) {
		git_odb_refresh(odb);
		for (size_t i = 0; i <= ndeps && error == 0; i++) {
			const git_oid *want = i < ndeps ? &deps[i] : base;
			if (!git_odb_exists(odb, want)) {
				orch_error_set(
				    "'%s' lacks commit %s, which task "
				    "'%s' starts from",
				    orch_store_remote(run->store),
				    git_oid_tostr_s(want),
				    run->plan->tasks[task].id);
				orch_error_hint(
				    "push it to '%s' from the clone "
				    "that has it",
				    orch_store_remote(run->store));
				error = ORCH_ERROR;
			}
		}
	}
	orch_strvec_free(&specs);
	git_odb_free(odb);
	return error;
}

/*
 * A re-run on conflict starts from the base branch as it was when the task
 * was set to run again, or as it is now when it has moved on from there
 * (tasks merged since): what the re-run must merge onto.
 */
static int rerun_start(git_oid *out, struct run *run, size_t task)
{
	orch_buf refname = {0};
	git_oid tip;

	if (git_oid_fromstr(out, run->states[task].rerun_base) < 0) {
		git_error_clear();
		return orch_error_set("task '%s' has an invalid re-run base "
		                      "'%s'",
		                      run->plan->tasks[task].id,
		                      run->states[task].rerun_base);
	}
	orch_buf_printf(&refname, "refs/heads/%s", run->plan->base);
	if (!orch_store_remote(run->store) && run->plan->base &&
	    git_reference_name_to_id(&tip, run->repo, refname.ptr) == 0 &&
	    (git_oid_equal(&tip, out) ||
	     git_graph_descendant_of(run->repo, &tip, out) == 1))
		git_oid_cpy(out, &tip);
	git_error_clear();
	orch_buf_free(&refname);
	return 0;
}

/* The start commit of `task`: the recorded base with its dependencies'
 * results. */
static int task_start_commit(git_oid *out, orch_strvec *conflicts,
                             struct run *run, size_t task)
{
	const orch_graph *g = run->graph;
	git_oid base, *deps;
	size_t ndeps = 0;
	int error;

	git_oid_fromstr(&base, run->plan->base_commit);
	if (run->states[task].rerun_base &&
	    (error = rerun_start(&base, run, task)) < 0)
		return error;
	deps = orch_calloc(g->dep_start[task + 1] - g->dep_start[task] + 1,
	                   sizeof(git_oid));
	for (size_t k = g->dep_start[task]; k < g->dep_start[task + 1]; k++) {
		const char *c = run->states[g->deps[k]].commit;
		if (c && git_oid_fromstr(&deps[ndeps], c) == 0)
			ndeps++;
	}
	if (orch_store_remote(run->store) &&
	    (error = fetch_missing(run, task, &base, deps, ndeps)) < 0)
		goto done;
	error = orch_merge_start_commit(out, conflicts, run->repo, &base, deps,
	                                ndeps, run->plan->name,
	                                run->plan->tasks[task].id);
done:
	free(deps);
	return error;
}

/*
 * Starting a task on a worker: lease, start commit (dispatch_prepare),
 * claim (the state says running; the claims of a pass share a commit,
 * dispatch_all), start (dispatch_start). Losing a race to another
 * orchestrator is not an error: the task is simply not ours.
 */

/* A task on its way to start: its lease taken, its start commit made. */
struct prep {
	size_t task;
	orch_worker *worker;
	struct claim claim;
	char *kept, *kept_worker; /* the worktree the claim forgets */
	int code;                 /* what its claim returned */
};

/*
 * Start `task` on `worker`, first part: lease, locks, start commit. 1 when
 * *p is ready for its claim, 0 when there is nothing to start (someone
 * else runs it, or it conflicted: recorded), or an error.
 */
static int dispatch_prepare(struct run *run, size_t task, orch_worker *worker,
                            struct prep *p)
{
	struct task_rt *rt = &run->rt[task];
	const orch_task *t = &run->plan->tasks[task];
	orch_lease lease;
	orch_job_spec spec;
	struct outcome o = {0};
	git_oid start;
	orch_strvec conflicts = {0};
	char lease_name[256], why[600];
	int error;

	memset(p, 0, sizeof(*p));
	p->task = task;
	p->worker = worker;
	snprintf(lease_name, sizeof(lease_name), "task/%s", t->id);
	/* the lease names the attempt before it can exist */
	memset(&spec, 0, sizeof(spec));
	spec.plan = run->plan->name;
	spec.task = t->id;
	spec.attempt = run->states[task].attempts + 1;
	free(rt->locator);
	rt->locator =
	    worker->ops->locator ? worker->ops->locator(worker, &spec) : NULL;
	fill_lease(run, &lease, t->id, worker->name, spec.attempt, rt->locator);
	error = take_lock(&rt->lease, run, lease_name, &lease);
	if (error < 0)
		goto done; /* ORCH_ELOCKED: someone else runs it */
	if ((error = take_pair_locks(run, task)) < 0) {
		orch_lease_release(run->store, run->plan->name, lease_name,
		                   &rt->lease);
		goto done;
	}
	p->claim.run = run;
	p->claim.task = task;
	p->claim.worker = worker->name;
	error = task_start_commit(&start, &conflicts, run, task);
	if (error == ORCH_ECONFLICT) {
		/* recorded as an attempt that ended in conflict */
		snprintf(why, sizeof(why), "%s", orch_error_message());
		p->claim.base = run->plan->base_commit;
		if (claim_update(run, &p->claim) == 0) {
			o.task = task;
			o.exit_status = -1;
			o.worker = worker->name;
			o.attempt = p->claim.attempt;
			o.state = ORCH_STATE_CONFLICT;
			o.error = why;
			o.paths = &conflicts;
			record(run, &o);
		}
		goto release;
	}
	if (error < 0)
		goto release;
	git_oid_tostr(rt->base, sizeof(rt->base), &start);
	p->claim.base = rt->base;
	if (run->states[task].worktree) {
		/* the claim forgets the worktree kept for the last attempt */
		p->kept = orch_strdup(run->states[task].worktree);
		p->kept_worker = run->states[task].worker
		                     ? orch_strdup(run->states[task].worker)
		                     : NULL;
	}
	orch_strvec_free(&conflicts);
	return 1;
release:
	release_task_lease(run, task);
	sync_states(run);
done:
	if (error == ORCH_ELOCKED || error == ORCH_ENOCHANGE ||
	    error == ORCH_ECONFLICT)
		error = 0;
	free(rt->locator);
	rt->locator = NULL;
	orch_strvec_free(&conflicts);
	return error;
}

/*
 * Second part, once p's claim is recorded (p->code): start the attempt,
 * or give the task back. 0 or an error; rt->job says whether it started.
 */
static int dispatch_start(struct run *run, struct prep *p)
{
	size_t task = p->task;
	orch_worker *worker = p->worker;
	struct task_rt *rt = &run->rt[task];
	const orch_task *t = &run->plan->tasks[task];
	orch_job_spec spec;
	struct outcome o = {0};
	orch_strvec env = {0};
	char branch[512], why[600], *message = NULL, *conflict_list = NULL;
	int error = p->code;

	if (error < 0)
		goto release; /* ORCH_ENOCHANGE: no longer ready */
	rt->attempt = p->claim.attempt;
	if (p->kept) {
		free(rt->old_kept);
		free(rt->old_kept_worker);
		rt->old_kept = p->kept;
		rt->old_kept_worker = p->kept_worker;
		p->kept = p->kept_worker = NULL;
	}
	memset(&spec, 0, sizeof(spec));
	spec.plan = run->plan->name;
	spec.task = t->id;
	spec.attempt = rt->attempt;
	job_spec(&spec, branch, sizeof(branch), &message, run, task,
	         rt->attempt, rt->base);
	job_env(&env, run, task, worker);
	spec.env = &env;
	if (run->states[task].rerun_base) /* a re-run on conflict */
		spec.conflicts = conflict_list =
		    orch_merge_conflict_list(&run->states[task].rerun_paths);
	spec.context = shared_context(run);
	rt->worker = worker;
	rt->started_mono = orch_monotonic_ms();
	rt->last_renew = rt->started_mono;
	rt->last_flush = rt->started_mono;
	rt->received = rt->flushed = 0;
	rt->timed_out = rt->cancelled = 0;
	orch_buf_clear(&rt->redactor.carry);
	if ((error = worker->ops->start(&rt->job, worker, &spec)) < 0) {
		/* could not even start: an attempt that failed */
		snprintf(why, sizeof(why), "cannot start: %s",
		         orch_error_message());
		rt->job = NULL;
		o.task = task;
		o.exit_status = -1;
		o.worker = worker->name;
		o.attempt = rt->attempt;
		o.state = orch_task_retries_exhausted(
		              &run->states[task], rt->attempt,
		              orch_plan_task_retries(run->plan, t))
		              ? ORCH_STATE_FAILED
		              : ORCH_STATE_READY;
		o.error = why;
		o.not_before_ms = orch_now_ms() + backoff_ms(run, rt->attempt);
		error = record(run, &o);
		note(run, "%s: %s", t->id, why);
		goto release;
	}
	/* the timeout counts from when the attempt started (a start over SSH
	 * can take a while) */
	rt->started_mono = orch_monotonic_ms();
	worker->running++;
	run->ours++;
	idset_add(&run->active, task);
	{
		orch_run_event event = {0};
		event.kind = ORCH_RUN_EVENT_START;
		event.task = t->id;
		event.worker = worker->name;
		event.attempt = rt->attempt;
		emit(run, &event);
	}
	goto done;
release:
	release_task_lease(run, task);
done:
	if (error == ORCH_ELOCKED || error == ORCH_ENOCHANGE ||
	    error == ORCH_ECONFLICT)
		error = 0;
	if (!rt->job) {
		free(rt->locator);
		rt->locator = NULL;
	}
	env_free(&env);
	free(message);
	free(conflict_list);
	return error;
}

/*
 * Start the prepared tasks: their claims in one commit (with the pending
 * outcomes), then each attempt. 0 or the first error.
 */
static int dispatch_all(struct run *run, struct prep *preps, size_t n)
{
	struct change *claims = orch_calloc(n + 1, sizeof(*claims));
	int *codes = orch_calloc(n + 1, sizeof(*codes));
	int error = 0;

	for (size_t k = 0; k < n; k++) {
		claims[k].cb = claim_cb;
		claims[k].payload = &preps[k].claim;
		codes[k] = ORCH_ENOCHANGE;
	}
	if ((error = record_pending(run, claims, n, codes)) < 0)
		for (size_t k = 0; k < n; k++)
			codes[k] = error; /* nothing recorded: all given back */
	for (size_t k = 0; k < n; k++) {
		int e;
		preps[k].code = codes[k];
		e = dispatch_start(run, &preps[k]);
		if (e < 0 && error == 0)
			error = e;
		free(preps[k].kept);
		free(preps[k].kept_worker);
	}
	sync_states(run);
	free(codes);
	free(claims);
	return error;
}

/* Pending or ready tasks downstream of a dead end become skipped. */
static int propagate_skips(struct run *run)
{
	struct skip skip = {run, NULL, 0};
	const orch_graph *g = run->graph;
	int error = 0;

	/* the tasks whose dependencies or own state changed */
	for (size_t c = 0; c < run->skipcheck.n; c++) {
		size_t i = run->skipcheck.items[c];
		orch_state s = run->states[i].state;
		if (s != ORCH_STATE_PENDING && s != ORCH_STATE_READY)
			continue;
		for (size_t k = g->dep_start[i]; k < g->dep_start[i + 1]; k++) {
			if (orch_state_is_dead_end(
			        run->states[g->deps[k]].state)) {
				if (!skip.tasks)
					skip.tasks = orch_malloc(
					    run->plan->ntasks * sizeof(size_t));
				skip.tasks[skip.count++] = i;
				break;
			}
		}
	}
	idset_clear(&run->skipcheck);
	if (skip.count) {
		error = orch_store_update(run->store, run->plan->name, skip_cb,
		                          &skip, NULL);
		if (error == ORCH_ENOCHANGE)
			error = 0;
		if (error == 0)
			error = sync_states(run);
	}
	free(skip.tasks);
	return error;
}

static orch_worker *find_worker(struct run *run, const char *name)
{
	for (size_t w = 0; w < run->nworkers; w++)
		if (name && !strcmp(run->workers[w]->name, name))
			return run->workers[w];
	return NULL;
}

/* Did the attempt leave a committed result on its branch? */
static int result_on_branch(git_oid *out, struct run *run, size_t task,
                            int attempt)
{
	char branch[512], want_task[256], want_attempt[64];
	git_commit *commit = NULL;
	const char *msg;
	int found = 0;

	snprintf(branch, sizeof(branch), "refs/heads/orchestrate/%s/%s",
	         run->plan->name, run->plan->tasks[task].id);
	if (git_reference_name_to_id(out, run->repo, branch) < 0 ||
	    git_commit_lookup(&commit, run->repo, out) < 0)
		return 0;
	msg = git_commit_message(commit);
	snprintf(want_task, sizeof(want_task), "\nOrchestrate-Task: %s\n",
	         run->plan->tasks[task].id);
	snprintf(want_attempt, sizeof(want_attempt),
	         "\nOrchestrate-Attempt: %d\n", attempt);
	snprintf(branch, sizeof(branch), "\nOrchestrate-Plan: %s\n",
	         run->plan->name);
	found = msg && strstr(msg, want_task) && strstr(msg, want_attempt) &&
	        strstr(msg, branch);
	git_commit_free(commit);
	return found;
}

/*
 * A task recorded as running: if its lease is stale (owner gone), take the
 * attempt over: adopt it if it still runs or ended, collect a result
 * already committed, or make it ready again.
 */
static int recover(struct run *run, size_t task)
{
	struct task_rt *rt = &run->rt[task];
	const orch_task *t = &run->plan->tasks[task];
	const orch_task_state *st = &run->states[task];
	orch_lease seen = {0}, mine;
	orch_job_spec spec;
	git_oid seen_oid, result;
	char name[256], branch[512], *message = NULL, *locator = NULL;
	const char *where;
	orch_worker *worker = find_worker(run, st->worker);
	int error, have_lease = 0;

	snprintf(name, sizeof(name), "task/%s", t->id);
	job_spec(&spec, branch, sizeof(branch), &message, run, task,
	         st->attempts, st->base);
	if (worker && worker->ops->locator)
		locator = worker->ops->locator(worker, &spec);
	fill_lease(run, &mine, t->id, st->worker, st->attempts, locator);
	error = orch_lease_read(&seen, &seen_oid, run->store, run->plan->name,
	                        name);
	if (error == ORCH_ENOTFOUND) {
		error = orch_lease_acquire(&rt->lease, run->store,
		                           run->plan->name, name, &mine);
		if (error == ORCH_ELOCKED || error == ORCH_EEXISTS) {
			error = 0;
			goto done;
		}
	} else if (error == 0) {
		if (!lease_is_stale(run, name, &seen, &seen_oid)) {
			goto done; /* a live orchestrator runs it */
		}
		error =
		    orch_lease_break(&rt->lease, run->store, run->plan->name,
		                     name, &seen_oid, &mine);
		if (error == ORCH_EMODIFIED) {
			error = 0;
			goto done;
		}
	}
	if (error < 0)
		goto done;
	have_lease = 1;
	/* the attempt as its lease names it (leases of older versions name
	 * none: then as this version would) */
	where = seen.task && seen.locator ? seen.locator : locator;
	if (worker && orch_store_remote(run->store)) {
		/* another runner's attempt: never adopted here, only stopped
		 * where this machine can reach it; its result, if any, can
		 * no longer be recorded (its lease is ours now) */
		if (worker->ops->reap)
			worker->ops->reap(worker, where);
	} else if (worker && st->base) {
		/* a result committed but not recorded: record it, never re-run
		 */
		if (result_on_branch(&result, run, task, st->attempts)) {
			orch_job_result res = {0};
			if (worker->ops->reap)
				worker->ops->reap(worker, where);
			res.phase = ORCH_JOB_EXITED;
			res.has_result = 1;
			res.result = result;
			/* the adopted job (if any) carries the output and the
			 * worktree */
			rt->job = NULL;
			if (worker->ops->adopt &&
			    worker->ops->adopt(&rt->job, worker, &spec, where) <
			        0)
				rt->job = NULL;
			rt->worker = worker;
			rt->attempt = st->attempts;
			rt->started_mono =
			    orch_monotonic_ms() -
			    (st->started_ms ? orch_now_ms() - st->started_ms
			                    : 0);
			worker->running++;
			run->ours++;
			note(run,
			     "%s: result of attempt %d found on its branch; "
			     "recorded",
			     t->id, st->attempts);
			conclude(run, &task, &res, 1);
			error = settle_endings(run);
			have_lease = 0;
			goto done;
		}
		if (worker->ops->adopt &&
		    worker->ops->adopt(&rt->job, worker, &spec, where) == 0) {
			orch_run_event event = {0};
			free(rt->locator);
			rt->locator = where ? orch_strdup(where) : NULL;
			rt->worker = worker;
			rt->attempt = st->attempts;
			snprintf(rt->base, sizeof(rt->base), "%s", st->base);
			rt->started_mono =
			    orch_monotonic_ms() -
			    (st->started_ms ? orch_now_ms() - st->started_ms
			                    : 0);
			rt->last_renew = 0;
			idset_add(&run->active, task);
			worker->running++;
			run->ours++;
			note(run,
			     "%s: attempt %d left by a stopped run is adopted",
			     t->id, st->attempts);
			event.kind = ORCH_RUN_EVENT_START;
			event.task = t->id;
			event.worker = worker->name;
			event.attempt = rt->attempt;
			emit(run, &event);
			have_lease = 0; /* kept while it runs */
			goto done;
		}
		if (worker->ops->reap &&
		    (error = worker->ops->reap(worker, where)) < 0)
			goto done;
	}
	{
		/* nothing left of it: ready again, without using a retry */
		struct outcome o = {0};
		o.task = task;
		o.attempt = st->attempts;
		o.state = ORCH_STATE_READY;
		o.exit_status = -1;
		o.error = "interrupted (its orchestrator stopped)";
		o.interrupted = 1;
		o.worker = st->worker ? st->worker : "?";
		error = record(run, &o);
		if (error == 0 && o.recorded)
			note(run, "%s: attempt %d was interrupted; ready again",
			     t->id, st->attempts);
	}
done:
	if (have_lease)
		release_task_lease(run, task);
	orch_lease_clear(&seen);
	free(locator);
	free(message);
	return error;
}

struct log_flush {
	const char *task;
	int attempt;
	const orch_buf *output;
};

static int log_flush_cb(orch_txn *txn, void *payload)
{
	struct log_flush *f = payload;
	orch_task_state st;
	int error, running;

	orch_task_state_init(&st);
	if ((error = orch_txn_get_task(&st, txn, f->task)) < 0)
		return error;
	running = st.state == ORCH_STATE_RUNNING && st.attempts == f->attempt;
	orch_task_state_clear(&st);
	if (!running)
		return ORCH_ENOCHANGE;
	if ((error = orch_txn_put_log(txn, f->task, f->output->ptr,
	                              f->output->len)) < 0)
		return error;
	orch_txn_message(txn, "%s: output so far (attempt %d)", f->task,
	                 f->attempt);
	return 0;
}

/*
 * Output streams into the state while a task runs: new output is written
 * to logs/<task>.log at most every ORCH_LOG_FLUSH_MS (10 s; the tests set
 * it lower), so `git show` of the plan ref shows a running task's output.
 */
static void flush_logs(struct run *run, int64_t now)
{
	int64_t interval =
	    run->opts->log_flush_ms > 0 ? run->opts->log_flush_ms : 10000;

	for (size_t a = 0; a < run->active.n; a++) {
		size_t i = run->active.items[a];
		struct task_rt *rt = &run->rt[i];
		struct log_flush f;
		if (!rt->job || now - rt->last_flush < interval ||
		    rt->received == rt->flushed)
			continue;
		f.task = run->plan->tasks[i].id;
		f.attempt = rt->attempt;
		f.output = &rt->output;
		orch_store_update(run->store, run->plan->name, log_flush_cb, &f,
		                  NULL);
		rt->last_flush = now;
		rt->flushed = rt->received;
	}
}

static int renew_leases(struct run *run, int64_t now)
{
	int error;

	for (size_t a = 0; a < run->active.n; a++) {
		size_t i = run->active.items[a];
		struct task_rt *rt = &run->rt[i];
		orch_lease lease;
		char name[256];
		if (!rt->job || rt->lost ||
		    now - rt->last_renew < lease_ttl(run) / 3)
			continue;
		snprintf(name, sizeof(name), "task/%s", run->plan->tasks[i].id);
		fill_lease(run, &lease, run->plan->tasks[i].id,
		           rt->worker->name, rt->attempt, rt->locator);
		error = orch_lease_renew(&rt->lease, run->store,
		                         run->plan->name, name, &lease);
		if (error == ORCH_EMODIFIED && orch_store_remote(run->store)) {
			/* lost it: stop the command at once (SPEC 8) */
			rt->lost = 1;
			rt->worker->ops->cancel(rt->worker, rt->job);
		} else if (error < 0)
			note(run, "warning: cannot renew the lease of '%s': %s",
			     run->plan->tasks[i].id, orch_error_message());
		rt->last_renew = now;
		for (size_t k = 0; k < rt->locks.count; k++) {
			fill_lease(run, &lease, NULL, NULL, 0, NULL);
			orch_lease_renew(&rt->lock_oids[k], run->store,
			                 run->plan->name, rt->locks.items[k],
			                 &lease);
		}
	}
	return 0;
}

static int build_overlaps(struct run *run)
{
	size_t n = run->plan->ntasks;
	size_t *count = orch_calloc(n + 1, sizeof(size_t));
	int error;

	if ((error = orch_graph_overlaps(&run->overlaps, &run->noverlaps,
	                                 run->graph, run->plan)) < 0) {
		free(count);
		return error;
	}
	for (size_t i = 0; i < run->noverlaps; i++) {
		count[run->overlaps[i].a]++;
		count[run->overlaps[i].b]++;
	}
	run->ov_start = orch_calloc(n + 1, sizeof(size_t));
	for (size_t i = 0; i < n; i++)
		run->ov_start[i + 1] = run->ov_start[i] + count[i];
	run->ov = orch_calloc(run->ov_start[n] + 1, sizeof(size_t));
	memset(count, 0, (n + 1) * sizeof(size_t));
	for (size_t i = 0; i < run->noverlaps; i++) {
		size_t a = run->overlaps[i].a, b = run->overlaps[i].b;
		run->ov[run->ov_start[a] + count[a]++] = b;
		run->ov[run->ov_start[b] + count[b]++] = a;
	}
	free(count);
	return 0;
}

static int open_workers(struct run *run, const orch_config *config)
{
	/* -j auto: opened with the most it may use, then follows the load */
	int error, jobs = run->opts->jobs_auto ? orch_autojobs_cpus()
	                                       : run->opts->jobs;

	const orch_worker_config **chosen =
	    orch_calloc(config->nworkers + 1, sizeof(*chosen));
	size_t nchosen = 0;

	for (size_t w = 0; w < config->nworkers; w++)
		if (!run->opts->only || !run->opts->only->count ||
		    orch_strvec_contains(run->opts->only,
		                         config->workers[w].name))
			chosen[nchosen++] = &config->workers[w];
	if (!run->opts->open_worker) {
		/* connected in parallel: an unreachable worker costs its
		 * timeout once, not once per worker */
		error = orch_worker_open_all(&run->workers, chosen, nchosen,
		                             run->repo, run->token, jobs);
		free(chosen);
		if (error < 0)
			return error;
		run->nworkers = nchosen;
	} else {
		run->workers = orch_calloc(nchosen + 1, sizeof(orch_worker *));
		for (size_t w = 0; w < nchosen; w++) {
			orch_worker *worker = NULL;
			error = run->opts->open_worker(
			    &worker, chosen[w], run->repo, run->token, jobs,
			    run->opts->open_worker_payload);
			if (error < 0) {
				free(chosen);
				return error;
			}
			run->workers[run->nworkers++] = worker;
		}
		free(chosen);
	}
	if (run->opts->only) {
		for (size_t i = 0; i < run->opts->only->count; i++)
			if (!find_worker(run, run->opts->only->items[i])) {
				orch_error_set(
				    "no worker named '%s' is configured",
				    run->opts->only->items[i]);
				orch_error_hint(
				    "'git orchestrate workers' lists them");
				return ORCH_EINVALID;
			}
	}
	if (!run->nworkers) {
		orch_error_set("no worker to run on");
		orch_error_hint(
		    "configure one in orchestrate.ini, or drop --worker");
		return ORCH_EINVALID;
	}
	return 0;
}

/* Stop every attempt of ours and record it ready again (Ctrl-C). */
static int stop_all(struct run *run)
{
	int64_t deadline;
	int error = 0;

	for (size_t i = 0; i < run->plan->ntasks; i++)
		if (run->rt[i].job)
			run->rt[i].worker->ops->cancel(run->rt[i].worker,
			                               run->rt[i].job);
	deadline = orch_monotonic_ms() + 15000;
	while (run->ours > 0 && orch_monotonic_ms() < deadline) {
		for (size_t i = 0; i < run->plan->ntasks; i++) {
			struct task_rt *rt = &run->rt[i];
			orch_job_result res;
			struct outcome o = {0};
			if (!rt->job)
				continue;
			if (rt->worker->ops->poll(&res, rt->worker, rt->job) <
			        0 ||
			    res.phase == ORCH_JOB_RUNNING)
				continue;
			take_output(run, rt, 1);
			rt->worker->ops->finish(rt->worker, rt->job, 0, NULL);
			rt->job = NULL;
			o.task = i;
			o.attempt = rt->attempt;
			o.state = ORCH_STATE_READY;
			o.exit_status = res.exit_status;
			o.duration_ms = orch_monotonic_ms() - rt->started_mono;
			o.error = "interrupted";
			o.interrupted = 1;
			o.worker = rt->worker->name;
			o.log = &rt->output;
			if (record(run, &o) < 0)
				error = -1;
			rt->worker->running--;
			run->ours--;
			release_task_lease(run, i);
		}
		usleep(POLL_BUSY_MS * 1000);
	}
	return error;
}

struct worker_note {
	const orch_worker *worker;
	const char *autojobs; /* -j auto: what the slots follow, or "" */
	int slots_changed;    /* the note is of new slots, not down or up */
};

static int worker_note_cb(orch_txn *txn, void *payload)
{
	const struct worker_note *wn = payload;
	const orch_worker *w = wn->worker;
	cJSON *root = cJSON_CreateObject();
	char path[300], *text;
	int error;

	snprintf(path, sizeof(path), "workers/%s.json", w->name);
	cJSON_AddBoolToObject(root, "down", w->down);
	cJSON_AddStringToObject(root, "reason", w->down ? w->down_reason : "");
	cJSON_AddNumberToObject(root, "at", (double)orch_now_ms());
	if (wn->autojobs && *wn->autojobs) {
		cJSON_AddNumberToObject(root, "slots", w->slots);
		cJSON_AddStringToObject(root, "auto", wn->autojobs);
	}
	text = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	error = orch_txn_put_file(txn, path, text, strlen(text));
	cJSON_free(text);
	if (error < 0)
		return error;
	if (wn->slots_changed)
		orch_txn_message(txn, "worker %s: %d slot%s (-j auto: %s)",
		                 w->name, w->slots, w->slots == 1 ? "" : "s",
		                 wn->autojobs);
	else if (w->down)
		orch_txn_message(txn, "worker %s: down (%s)", w->name,
		                 w->down_reason);
	else
		orch_txn_message(txn, "worker %s: up again", w->name);
	return 0;
}

int orch_run_read_workers(orch_worker_status **out, size_t *count,
                          orch_store *store, const char *plan)
{
	orch_strvec files = {0};
	orch_worker_status *list = NULL;
	size_t n = 0;
	int error;

	*out = NULL;
	*count = 0;
	if ((error = orch_store_list_dir(&files, store, plan, "workers")) < 0)
		return error;
	list = orch_calloc(files.count + 1, sizeof(*list));
	for (size_t i = 0; i < files.count; i++) {
		const char *file = files.items[i];
		size_t len = strlen(file);
		orch_buf bytes = {0};
		char path[320];
		cJSON *root;
		const char *reason;
		if (len < 6 || strcmp(file + len - 5, ".json"))
			continue;
		snprintf(path, sizeof(path), "workers/%s", file);
		if (orch_store_read_file(&bytes, store, plan, path) < 0) {
			orch_buf_free(&bytes);
			continue;
		}
		root = cJSON_ParseWithLength(bytes.ptr, bytes.len);
		orch_buf_free(&bytes);
		if (!root)
			continue;
		reason = cJSON_GetStringValue(
		    cJSON_GetObjectItemCaseSensitive(root, "reason"));
		list[n].name = orch_strndup(file, len - 5);
		list[n].down = cJSON_IsTrue(
		    cJSON_GetObjectItemCaseSensitive(root, "down"));
		list[n].reason = orch_strdup(reason ? reason : "");
		reason = cJSON_GetStringValue(
		    cJSON_GetObjectItemCaseSensitive(root, "auto"));
		list[n].autojobs = orch_strdup(reason ? reason : "");
		{
			const cJSON *slots =
			    cJSON_GetObjectItemCaseSensitive(root, "slots");
			list[n].slots = cJSON_IsNumber(slots) &&
			                        slots->valuedouble >= 1 &&
			                        slots->valuedouble <= 4096
			                    ? (int)slots->valuedouble
			                    : 0;
		}
		n++;
		cJSON_Delete(root);
	}
	orch_strvec_free(&files);
	*out = list;
	*count = n;
	return 0;
}

void orch_run_workers_free(orch_worker_status *list, size_t count)
{
	for (size_t i = 0; list && i < count; i++) {
		free(list[i].name);
		free(list[i].reason);
		free(list[i].autojobs);
	}
	free(list);
}

/*
 * A worker that went down or came back is said once (unless `quiet`) and
 * recorded in the plan state (workers/<name>.json), so `status` shows it
 * and why.
 */
static void watch_workers(struct run *run, int quiet)
{
	for (size_t w = 0; w < run->nworkers; w++) {
		orch_worker *worker = run->workers[w];
		struct worker_note wn = {worker, run->autojobs[w], 0};
		int down = worker->down;
		if (down == run->was_down[w])
			continue;
		run->was_down[w] = down;
		if (!quiet && down)
			note(run, "worker %s is down: %s", worker->name,
			     worker->down_reason);
		else if (!quiet)
			note(run, "worker %s is back", worker->name);
		orch_store_update(run->store, run->plan->name, worker_note_cb,
		                  &wn, NULL);
	}
}

/*
 * -j auto: every ORCH_AUTOJOBS_MS, set the slots of the local workers from
 * the machine's load and free memory (see autojobs.h); a change is noted
 * and recorded in the plan's state (workers/<name>.json), for `status`.
 */
static void auto_slots(struct run *run, int64_t mono)
{
	orch_autojobs_input in = {0};
	int probed = 0;

	if (!run->opts->jobs_auto ||
	    (run->last_auto && mono - run->last_auto < ORCH_AUTOJOBS_MS))
		return;
	run->last_auto = mono;
	for (size_t w = 0; w < run->nworkers; w++) {
		orch_worker *worker = run->workers[w];
		const orch_worker_config *wc =
		    orch_config_worker(run->config, worker->name);
		struct worker_note wn = {worker, run->autojobs[w], 1};
		char was[160];
		int slots;
		if (!wc || !orch_worker_is_local(wc))
			continue;
		if (!probed) {
			in.cpus = orch_autojobs_cpus();
			orch_autojobs_probe(&in, run->opts->autojobs_probe);
			probed = 1;
		}
		in.running = worker->running;
		in.task_kb = run->task_kb;
		slots = orch_autojobs_slots(&in);
		snprintf(was, sizeof(was), "%s", run->autojobs[w]);
		orch_autojobs_describe(run->autojobs[w],
		                       sizeof(run->autojobs[w]), &in);
		if (slots == worker->slots && was[0])
			continue;
		worker->slots = slots;
		note(run, "worker %s: %d slot%s (-j auto: %s)", worker->name,
		     slots, slots == 1 ? "" : "s", run->autojobs[w]);
		orch_store_update(run->store, run->plan->name, worker_note_cb,
		                  &wn, NULL);
	}
}

/*
 * 1 when some task is ready and every worker able to run a ready task is
 * down: nothing can start until one of them comes back.
 */
static int ready_tasks_lack_workers(struct run *run)
{
	int ready = 0, all_up = 1;

	/* a ready task no worker can run is set apart (unrunnable): with
	 * every worker up, one can run each of the others */
	for (size_t w = 0; w < run->nworkers && all_up; w++)
		all_up = !run->workers[w]->down && !run->setup_broken[w][0];
	if (all_up)
		return 0;

	for (size_t i = 0; i < run->plan->ntasks; i++) {
		if (!is_ready(run, i))
			continue;
		for (size_t w = 0; w < run->nworkers; w++) {
			if (!orch_worker_can_run(run->workers[w],
			                         &run->plan->tasks[i].needs))
				continue;
			ready = 1;
			if (!run->workers[w]->down && !run->setup_broken[w][0])
				return 0;
		}
	}
	return ready;
}

/*
 * The workers able to run a ready task and why each is down, joined by
 * "; ", into `out`: "worker 'w1': REASON" (the name said once, also when
 * the reason names the worker already).
 */
static void describe_down_workers(orch_buf *out, struct run *run)
{
	size_t said = 0;

	for (size_t w = 0; w < run->nworkers; w++) {
		const orch_worker *worker = run->workers[w];
		const char *reason =
		    run->setup_broken[w][0]  ? run->setup_broken[w]
		    : worker->down_reason[0] ? worker->down_reason
		                             : "cannot be reached";
		char prefix[300];
		int able = 0;
		for (size_t i = 0; i < run->plan->ntasks && !able; i++)
			able = is_ready(run, i) &&
			       orch_worker_can_run(worker,
			                           &run->plan->tasks[i].needs);
		if (!able || (!worker->down && !run->setup_broken[w][0]))
			continue;
		snprintf(prefix, sizeof(prefix), "worker '%s': ", worker->name);
		if (!strncmp(reason, prefix, strlen(prefix)))
			reason += strlen(prefix);
		orch_buf_printf(out, "%s%s%s", said++ ? "; " : "", prefix,
		                reason);
	}
}

/* 1 when a worker able to run a ready task is down (it may come back). */
static int any_able_worker_down(struct run *run)
{
	for (size_t w = 0; w < run->nworkers; w++) {
		if (!run->workers[w]->down || run->setup_broken[w][0])
			continue;
		for (size_t i = 0; i < run->plan->ntasks; i++)
			if (is_ready(run, i) &&
			    orch_worker_can_run(run->workers[w],
			                        &run->plan->tasks[i].needs))
				return 1;
	}
	return 0;
}

static int64_t wait_workers_ms(const struct run *run)
{
	if (run->opts->wait_workers_ms < 0)
		return 0;
	return run->opts->wait_workers_ms > 0 ? run->opts->wait_workers_ms
	                                      : ORCH_RUN_WAIT_WORKERS_MS;
}

/*
 * SPEC 7: nothing that can run the ready tasks is reachable at the start
 * of the run: stop at once, naming each worker and why.
 */
static int unreachable_at_start(struct run *run)
{
	orch_buf why = {0};

	watch_workers(run, 1);
	describe_down_workers(&why, run);
	orch_error_set("no worker able to run the ready tasks of plan '%s' "
	               "can be reached: %s",
	               run->plan->name, why.ptr ? why.ptr : "");
	orch_error_hint("'git orchestrate workers check' shows what is "
	                "wrong; then run the plan again");
	orch_buf_free(&why);
	return ORCH_ERROR;
}

/*
 * Workers lost during the run are waited for, at most wait_workers_ms
 * (SPEC 7): 1 when the run must stop (error set), else 0.
 */
static int waited_too_long(struct run *run, int64_t mono)
{
	int64_t wait = wait_workers_ms(run);
	char limit[32];
	orch_buf why = {0};

	if (!ready_tasks_lack_workers(run)) {
		run->blocked_since = 0;
		return 0;
	}
	if (!any_able_worker_down(run)) {
		/* slots lost to a failed setup do not come back */
		if (run->ours > 0)
			return 0;
		describe_down_workers(&why, run);
		orch_error_set("no worker able to run the ready tasks of plan "
		               "'%s' has a slot left: %s",
		               run->plan->name, why.ptr ? why.ptr : "");
		orch_error_hint("the setup's output is in the task's log "
		                "('git orchestrate log %s TASK'); fix setup "
		                "in [plan], store the plan again or run it "
		                "again",
		                run->plan->name);
		orch_buf_free(&why);
		return 1;
	}
	orch_format_duration(limit, sizeof(limit), wait);
	if (!run->blocked_since) {
		run->blocked_since = mono;
		if (wait > 0)
			note(run,
			     "every worker able to run the ready tasks is "
			     "down; waiting up to %s for one to come back "
			     "(--wait-workers; Ctrl-C stops)",
			     limit);
	}
	/* attempts of ours still running are not cut short */
	if (run->ours > 0 || mono - run->blocked_since < wait)
		return 0;
	describe_down_workers(&why, run);
	orch_error_set("no worker able to run the ready tasks of plan '%s' "
	               "came back within %s: %s",
	               run->plan->name, limit, why.ptr ? why.ptr : "");
	orch_error_hint("'git orchestrate workers check' shows what is "
	                "wrong; 'git orchestrate run %s' resumes",
	                run->plan->name);
	orch_buf_free(&why);
	return 1;
}

/*
 * Is any task running, ready or pending (and some worker able to run
 * it)? Running tasks without an attempt of ours are looked at right after
 * a sync (recover: their runner may be gone); *next_wake gets how long
 * until the first task waiting for a time may start, if sooner.
 */
static int still_waiting(int64_t *next_wake, struct run *run, int64_t mono,
                         int64_t now)
{
	size_t unrunnable = 0;

	for (size_t k = 0; k < run->unrunnable.n; k++) {
		size_t i = run->unrunnable.items[k];
		if (!run->rt[i].unrunnable) {
			idset_drop_at(&run->unrunnable, k--);
			continue;
		}
		unrunnable += state_is_live(run->states[i].state);
	}
	for (size_t k = 0; k < run->running.n; k++)
		if (run->states[run->running.items[k]].state !=
		    ORCH_STATE_RUNNING)
			idset_drop_at(&run->running, k--);
	if (mono - run->last_sync < 5 && run->running.n) {
		/* recover may sync, which changes the set: walk a copy */
		size_t n = run->running.n;
		size_t *copy = orch_malloc(n * sizeof(*copy));
		memcpy(copy, run->running.items, n * sizeof(*copy));
		for (size_t k = 0; k < n; k++) {
			size_t i = copy[k];
			if (run->states[i].state == ORCH_STATE_RUNNING &&
			    !run->rt[i].job && !run->rt[i].unrunnable)
				recover(run, i);
		}
		free(copy);
	}
	for (size_t k = 0; k < run->timed.n; k++) {
		size_t i = run->timed.items[k];
		const orch_task_state *st = &run->states[i];
		if ((st->state != ORCH_STATE_READY &&
		     st->state != ORCH_STATE_PENDING) ||
		    st->not_before_ms <= now) {
			idset_drop_at(&run->timed, k--);
			continue;
		}
		if (!run->rt[i].unrunnable &&
		    st->not_before_ms - now < *next_wake)
			*next_wake = st->not_before_ms - now;
	}
	return run->nlive > unrunnable;
}

static void sleep_ms(int64_t ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/*
 * Dispatch: the best startable task first, onto a free matching slot, as
 * many as there are free slots; their claims share one commit. A task
 * that cannot start after all (lost a race, conflicted) ends the pass:
 * what it changed is read first.
 */
static int dispatch_pass(struct run *run, int64_t now, int *progressed)
{
	struct prep *preps = NULL;
	size_t n = 0, cap = 0;
	int error = 0, more = 1;

	while (more) {
		orch_worker *worker = NULL;
		size_t best;
		int ready;
		if (run->ready.stale) {
			ready_restore(run);
			ready_rebuild(run);
		}
		best = ready_take(&worker, run, now);
		if (best == (size_t)-1)
			break;
		if (n == cap) {
			cap = cap ? cap * 2 : 8;
			preps = orch_realloc(preps, cap * sizeof(*preps));
		}
		ready = dispatch_prepare(run, best, worker, &preps[n]);
		if (ready < 0) {
			error = ready;
			break;
		}
		*progressed = 1;
		if (ready) {
			/* its slot is taken until it starts or is given back */
			worker->running++;
			n++;
			continue;
		}
		run->rt[best].unrunnable = 0;
		ready_offer(run, best);
		more = 0; /* lost a race or conflicted: re-read first */
	}
	for (size_t k = 0; k < n; k++)
		preps[k].worker->running--;
	if (error < 0) {
		/* the run stops: what was prepared is given back unclaimed */
		for (size_t k = 0; k < n; k++) {
			release_task_lease(run, preps[k].task);
			free(preps[k].kept);
			free(preps[k].kept_worker);
		}
		n = 0;
	}
	if (n) {
		int e = dispatch_all(run, preps, n);
		if (error == 0)
			error = e;
		for (size_t k = 0; k < n; k++) {
			size_t task = preps[k].task;
			if (!run->rt[task].job) {
				run->rt[task].unrunnable = 0;
				ready_offer(run, task);
			}
		}
	}
	free(preps);
	return error;
}

static int loop(struct run *run)
{
	int error = 0;

	ready_rebuild(run);

	for (;;) {
		int64_t mono = orch_monotonic_ms(), now = orch_now_ms();
		int progressed = 0, waiting = 0;
		int64_t next_wake = POLL_IDLE_MS;
		size_t nended = 0;

		if (run->opts->interrupted && *run->opts->interrupted)
			return ORCH_EINTR;
		/* attempts of ours */
		for (size_t a = 0; a < run->active.n; a++) {
			size_t i = run->active.items[a];
			struct task_rt *rt = &run->rt[i];
			orch_job_result res;
			int64_t timeout;
			if (!rt->job) {
				idset_drop_at(&run->active, a--);
				continue;
			}
			rt->received += take_output(run, rt, 0);
			timeout = orch_plan_task_timeout(run->plan,
			                                 &run->plan->tasks[i]);
			if (timeout > 0 && !rt->timed_out &&
			    mono - rt->started_mono > timeout) {
				rt->timed_out = 1;
				rt->worker->ops->cancel(rt->worker, rt->job);
			}
			if (run->states[i].state == ORCH_STATE_CANCELLED &&
			    !rt->cancelled) {
				rt->cancelled = 1;
				rt->worker->ops->cancel(rt->worker, rt->job);
			}
			if ((error = rt->worker->ops->poll(&res, rt->worker,
			                                   rt->job)) < 0)
				return error;
			if (res.phase == ORCH_JOB_RUNNING)
				continue;
			if (nended == run->aended) {
				run->aended = run->aended ? run->aended * 2 : 8;
				run->ended = orch_realloc(
				    run->ended,
				    run->aended * sizeof(*run->ended));
				run->ended_res = orch_realloc(
				    run->ended_res,
				    run->aended * sizeof(*run->ended_res));
			}
			run->ended[nended] = i;
			run->ended_res[nended++] = res;
		}
		if (nended) {
			conclude(run, run->ended, run->ended_res, nended);
			progressed = 1;
		}
		if (settle_first(run) && (error = settle_endings(run)) < 0)
			return error;
		renew_leases(run, mono);
		flush_logs(run, mono);
		watch_workers(run, 0);
		auto_slots(run, mono);
		if (mono - run->last_sync >= SYNC_MS &&
		    (error = sync_states(run)) < 0)
			return error;
		if ((error = propagate_skips(run)) < 0)
			return error;
		/* dispatch: best startable task first, onto a free matching
		 * slot; none while a rate limit pauses the plan */
		if (!orch_pause_active(&run->pause, now))
			error = dispatch_pass(run, now, &progressed);
		ready_restore(run);
		if (error < 0)
			return error;
		/* the outcomes no claim took, and what follows each */
		if ((error = settle_endings(run)) < 0)
			return error;
		flush_notes(run, 0);
		for (size_t k = 0; k < nended; k++)
			ready_offer(run, run->ended[k]); /* ready again: retry,
			                                    lost */
		/* anything left that might still run? */
		if (run->ready.stale) {
			ready_restore(run);
			ready_rebuild(run);
		}
		waiting = still_waiting(&next_wake, run, mono, now);
		if (mono - run->last_tick >= 1000) {
			orch_run_event event = {0};
			event.kind = ORCH_RUN_EVENT_TICK;
			emit(run, &event);
			run->last_tick = mono;
		}
		if (!waiting && run->ours == 0)
			return 0;
		if (waited_too_long(run, mono))
			return ORCH_ERROR;
		if (!progressed)
			sleep_ms(run->ours ? POLL_BUSY_MS
			                   : (next_wake > 0 ? next_wake : 1));
	}
}

/*
 * Remove the stale leases of tasks that ended: a run killed between
 * recording an outcome and giving the lease back left one (recover looks
 * only at running tasks, dispatch only at ready ones). Its holder is gone,
 * so nobody else will. A lease that changed since it was read is left.
 */
static int sweep_leases(struct run *run)
{
	orch_strvec names = {0};
	int error;

	if ((error = orch_lease_list(&names, run->store, run->plan->name)) < 0)
		return error;
	for (size_t k = 0; k < names.count && error == 0; k++) {
		const char *name = names.items[k];
		orch_lease seen = {0};
		git_oid oid;
		long pos;
		if (strncmp(name, "task/", 5) ||
		    (pos = orch_plan_find(run->plan, name + 5)) < 0 ||
		    !orch_state_is_final(run->states[pos].state) ||
		    run->rt[pos].job)
			continue;
		if (orch_lease_read(&seen, &oid, run->store, run->plan->name,
		                    name) == 0 &&
		    lease_is_stale(run, name, &seen, &oid)) {
			error =
			    orch_lease_break(NULL, run->store, run->plan->name,
			                     name, &oid, NULL);
			if (error == ORCH_EMODIFIED || error == ORCH_ENOTFOUND)
				error = 0;
		}
		orch_lease_clear(&seen);
	}
	orch_strvec_free(&names);
	return error;
}

int orch_run(orch_run_summary *out, orch_store *store,
             const orch_config *config, const orch_run_options *opts)
{
	struct run run = {0};
	int64_t *durations = NULL;
	int error, finished;

	memset(out, 0, sizeof(*out));
	run.store = store;
	orch_store_keep_replaced(store);
	run.config = config;
	run.repo = orch_store_repo(store);
	run.opts = opts;
	run.started_mono = orch_monotonic_ms();
	gethostname(run.host, sizeof(run.host) - 1);
	srand((unsigned)(getpid() ^ orch_now_ms()));
	snprintf(run.token, sizeof(run.token), "%d-%lld-%d", (int)getpid(),
	         (long long)orch_now_ms(), rand());
	if ((error = orch_store_reload_plan(&run.plan, &run.plan_head,
	                                    &run.plan_blob, store, opts->plan,
	                                    NULL)) < 0)
		goto done;
	durations = orch_malloc((run.plan->ntasks + 1) * sizeof(int64_t));
	for (size_t i = 0; i < run.plan->ntasks; i++)
		durations[i] = -1;
	if ((error = orch_notes_learned_durations(durations, store, run.plan)) <
	    0)
		goto done;
	for (size_t i = 0; i < run.plan->ntasks; i++)
		if (run.plan->tasks[i].duration_ms >= 0 || durations[i] < 0)
			durations[i] = run.plan->tasks[i].duration_ms >= 0
			                   ? run.plan->tasks[i].duration_ms
			                   : 60000;
	if ((error = orch_graph_build(&run.graph, run.plan, durations)) < 0 ||
	    (error = orch_rate_limit_compile(&run.rate_limit,
	                                     run.plan->rate_limit)) < 0)
		goto done;
	run.bottom = orch_malloc((run.plan->ntasks + 1) * sizeof(int64_t));
	if ((error = orch_graph_bottom_levels(run.bottom, run.graph)) < 0 ||
	    (error = build_overlaps(&run)) < 0)
		goto done;
	run.states = orch_calloc(run.plan->ntasks + 1, sizeof(orch_task_state));
	run.reader = orch_states_reader_new(run.plan);
	run.rt = orch_calloc(run.plan->ntasks + 1, sizeof(struct task_rt));
	idset_init(&run.active, run.plan->ntasks);
	idset_init(&run.running, run.plan->ntasks);
	idset_init(&run.timed, run.plan->ntasks);
	idset_init(&run.unrunnable, run.plan->ntasks);
	idset_init(&run.skipcheck, run.plan->ntasks);
	for (size_t i = 0; i < run.plan->ntasks; i++)
		orch_task_state_init(&run.states[i]);
	if ((error = resolve_secrets(&run, config)) < 0 ||
	    (error = open_workers(&run, config)) < 0 ||
	    (error = sync_states(&run)) < 0)
		goto done;
	run.was_down = orch_calloc(run.nworkers + 1, sizeof(int));
	run.autojobs = orch_calloc(run.nworkers + 1, sizeof(*run.autojobs));
	for (size_t i = 0; i < run.plan->ntasks; i++)
		if (run.states[i].max_rss_kb > run.task_kb)
			run.task_kb = run.states[i].max_rss_kb;
	run.setup_broken =
	    orch_calloc(run.nworkers + 1, sizeof(*run.setup_broken));
	/* what a stopped run left: attempts recorded running */
	for (size_t i = 0; i < run.plan->ntasks; i++)
		if (run.states[i].state == ORCH_STATE_RUNNING &&
		    (error = recover(&run, i)) < 0)
			goto done;
	if ((error = sync_states(&run)) < 0 || (error = sweep_leases(&run)) < 0)
		goto done;
	if (run.ours == 0 && ready_tasks_lack_workers(&run)) {
		error = unreachable_at_start(&run);
		goto done;
	}
	error = loop(&run);
	if (error == ORCH_EINTR || (opts->interrupted && *opts->interrupted)) {
		stop_all(&run);
		out->interrupted = 1;
		error = ORCH_EINTR;
		orch_error_set("interrupted; running tasks were stopped and "
		               "are ready again");
		orch_error_hint("'git orchestrate run %s' resumes",
		                run.plan->name);
	} else if (error < 0) {
		char saved[1024], hint[1024];
		const char *had_hint = orch_error_hint_text();
		snprintf(saved, sizeof(saved), "%s", orch_error_message());
		snprintf(hint, sizeof(hint), "%s", had_hint ? had_hint : "");
		stop_all(&run);
		orch_error_set("%s", saved);
		if (had_hint)
			orch_error_hint("%s", hint);
	}
	flush_notes(&run, 1);
	sync_states(&run);
	/* the packs of this run's state changes become one */
	if ((finished = orch_store_finish(store)) < 0 && error >= 0)
		error = finished;
	orch_metrics_compute(&out->achieved, run.states, run.plan->ntasks,
	                     orch_now_ms());
	memcpy(out->counts, out->achieved.counts, sizeof(out->counts));
	out->estimate = run.plan->estimate;
done:
	if (run.workers) {
		for (size_t w = 0; w < run.nworkers; w++)
			run.workers[w]->ops->close(run.workers[w]);
		free(run.workers);
	}
	if (run.rt) {
		for (size_t i = 0; i < run.plan->ntasks; i++) {
			orch_buf_free(&run.rt[i].output);
			orch_redactor_clear(&run.rt[i].redactor);
			orch_strvec_free(&run.rt[i].locks);
			free(run.rt[i].lock_oids);
			free(run.rt[i].locator);
			free(run.rt[i].old_kept);
			free(run.rt[i].old_kept_worker);
		}
		free(run.rt);
	}
	free(run.ended);
	free(run.ended_res);
	for (size_t i = 0; i < run.nnotes; i++)
		free(run.note_texts[i]);
	free(run.note_texts);
	free(run.note_oids);
	idset_free(&run.active);
	idset_free(&run.running);
	idset_free(&run.timed);
	idset_free(&run.unrunnable);
	idset_free(&run.skipcheck);
	for (size_t i = 0; i < run.npending; i++) {
		ending_clear(run.pending[i]);
		free(run.pending[i]);
	}
	free(run.pending);
	if (run.states) {
		for (size_t i = 0; i < run.plan->ntasks; i++)
			orch_task_state_clear(&run.states[i]);
		free(run.states);
	}
	orch_states_reader_free(run.reader);
	orch_strmap_clear(&run.seen_index);
	free(run.seen);
	orch_graph_overlaps_free(run.overlaps, run.noverlaps);
	free(run.was_down);
	free(run.autojobs);
	free(run.setup_broken);
	orch_shared_cache_clear(&run.shared);
	free(run.ov_start);
	free(run.ov);
	free(run.bottom);
	free(run.ready.heap);
	free(run.ready.aside);
	free(run.ready.held);
	free(run.ready.seen);
	free(durations);
	orch_graph_free(run.graph);
	orch_plan_free(run.plan);
	orch_secrets_free(&run.secrets);
	orch_rate_limit_free(&run.rate_limit);
	orch_pause_clear(&run.pause);
	return error;
}
