#include "unit.h"
#include "error.h"
#include "plan.h"
#include "run.h"
#include "store.h"
#include "util.h"
#include "worker.h"

#include <stdint.h>

#include <git2.h>

/*
 * The run loop driven in-process by fake workers: no process, no sshd.
 * Every test works in a fresh repository (unit_tmpdir) with one commit,
 * stores a plan built by hand, and runs it with orch_run on workers opened
 * by fake_open (orch_run_options.open_worker).
 */

typedef enum {
	FAKE_OK = 0, /* exits 0 with a result commit on the task's branch */
	FAKE_FAIL,   /* exits 1 */
	FAKE_LOST,   /* the worker loses it and goes down */
	FAKE_HANG    /* runs until cancelled */
} fake_outcome;

/* How attempt `attempt` of `task` ends (unlisted: FAKE_OK). */
struct fake_rule {
	const char *task;
	int attempt;
	fake_outcome outcome;
};

/* What the fakes were asked to do, in order. */
struct fake_call {
	char what[16]; /* "start", "cancel", "reap", "adopt" */
	char task[32];
	char worker[32];
	char locator[128];
	int attempt;
	int64_t at_ms; /* monotonic */
};

struct fake_env {
	git_repository *repo;
	const struct fake_rule *rules;
	int adopt_found;        /* adopt finds the attempt (it then exits 0) */
	int jobs_seen;          /* `jobs` given to the last open */
	int down_at_open;       /* every worker opens down (unreachable) */
	orch_worker *opened[2]; /* the workers opened, in order */
	size_t nopened;
	struct fake_call calls[64];
	size_t ncalls;
};

typedef struct {
	orch_worker parent;
	struct fake_env *env;
} fake_worker;

struct orch_job {
	char *task;
	char *branch;
	char *message;
	git_oid base;
	int attempt;
	fake_outcome outcome;
	int cancelled;
};

static struct fake_call *fake_record(struct fake_env *env, const char *what,
                                     const char *worker, const char *task,
                                     int attempt, const char *locator)
{
	struct fake_call *call;

	if (env->ncalls == sizeof(env->calls) / sizeof(env->calls[0]))
		abort();
	call = &env->calls[env->ncalls++];
	memset(call, 0, sizeof(*call));
	snprintf(call->what, sizeof(call->what), "%s", what);
	snprintf(call->worker, sizeof(call->worker), "%s", worker);
	snprintf(call->task, sizeof(call->task), "%s", task ? task : "");
	snprintf(call->locator, sizeof(call->locator), "%s",
	         locator ? locator : "");
	call->attempt = attempt;
	call->at_ms = orch_monotonic_ms();
	return call;
}

static orch_job *fake_job(struct fake_env *env, const orch_job_spec *spec)
{
	orch_job *job = orch_calloc(1, sizeof(*job));

	job->task = orch_strdup(spec->task);
	job->branch = orch_strdup(spec->branch);
	job->message = orch_strdup(spec->message);
	job->attempt = spec->attempt;
	if (git_oid_fromstr(&job->base, spec->base) < 0)
		abort();
	job->outcome = FAKE_OK;
	for (const struct fake_rule *r = env->rules; r && r->task; r++)
		if (!strcmp(r->task, spec->task) && r->attempt == spec->attempt)
			job->outcome = r->outcome;
	return job;
}

static int fake_start(orch_job **out, orch_worker *worker,
                      const orch_job_spec *spec)
{
	fake_worker *fw = (fake_worker *)worker;

	fake_record(fw->env, "start", worker->name, spec->task, spec->attempt,
	            NULL);
	*out = fake_job(fw->env, spec);
	return 0;
}

/* The result: a commit of the start tree on the task's branch. */
static int fake_commit(git_oid *out, git_repository *repo, const orch_job *job)
{
	git_commit *parent = NULL;
	git_tree *tree = NULL;
	git_signature *sig = NULL;
	int error;

	if ((error = git_commit_lookup(&parent, repo, &job->base)) < 0 ||
	    (error = git_commit_tree(&tree, parent)) < 0 ||
	    (error = git_signature_new(&sig, "Unit", "unit@example.com",
	                               1700000000, 0)) < 0)
		goto done;
	{
		const git_commit *parents[1] = {parent};
		error = git_commit_create(out, repo, job->branch, sig, sig,
		                          NULL, job->message, tree, 1, parents);
	}
done:
	git_signature_free(sig);
	git_tree_free(tree);
	git_commit_free(parent);
	return error;
}

static int fake_poll(orch_job_result *out, orch_worker *worker, orch_job *job)
{
	fake_worker *fw = (fake_worker *)worker;

	memset(out, 0, sizeof(*out));
	out->phase = ORCH_JOB_EXITED;
	if (job->cancelled) {
		out->exit_status = 128 + 15;
		return 0;
	}
	switch (job->outcome) {
	case FAKE_OK:
		if (fake_commit(&out->result, fw->env->repo, job) < 0)
			abort();
		out->has_result = 1;
		break;
	case FAKE_FAIL:
		out->exit_status = 1;
		snprintf(out->error, sizeof(out->error), "exit 1");
		break;
	case FAKE_LOST:
		out->phase = ORCH_JOB_LOST;
		out->exit_status = -1;
		snprintf(out->error, sizeof(out->error), "connection lost");
		worker->down = 1;
		snprintf(worker->down_reason, sizeof(worker->down_reason),
		         "connection lost");
		break;
	case FAKE_HANG:
		out->phase = ORCH_JOB_RUNNING;
		break;
	}
	return 0;
}

static int fake_read_output(orch_buf *out, orch_worker *worker, orch_job *job)
{
	(void)worker;
	(void)job;
	(void)out;
	return 0;
}

static int fake_cancel(orch_worker *worker, orch_job *job)
{
	fake_worker *fw = (fake_worker *)worker;

	fake_record(fw->env, "cancel", worker->name, job->task, job->attempt,
	            NULL);
	job->cancelled = 1;
	return 0;
}

static int fake_finish(orch_worker *worker, orch_job *job, int keep,
                       char **out_worktree)
{
	(void)worker;
	if (out_worktree)
		*out_worktree = keep ? orch_strdup("fake:kept") : NULL;
	free(job->task);
	free(job->branch);
	free(job->message);
	free(job);
	return 0;
}

static char *fake_locator(orch_worker *worker, const orch_job_spec *spec)
{
	orch_buf buf = {0};

	orch_buf_printf(&buf, "%s:%s#%d", worker->name, spec->task,
	                spec->attempt);
	return orch_buf_detach(&buf);
}

static int fake_reap(orch_worker *worker, const char *locator)
{
	fake_worker *fw = (fake_worker *)worker;

	fake_record(fw->env, "reap", worker->name, NULL, 0, locator);
	return 0;
}

static int fake_adopt(orch_job **out, orch_worker *worker,
                      const orch_job_spec *spec, const char *locator)
{
	fake_worker *fw = (fake_worker *)worker;

	*out = NULL;
	fake_record(fw->env, "adopt", worker->name, spec->task, spec->attempt,
	            locator);
	if (!fw->env->adopt_found)
		return ORCH_ENOTFOUND;
	*out = fake_job(fw->env, spec);
	(*out)->outcome = FAKE_OK;
	return 0;
}

static void fake_close(orch_worker *worker)
{
	orch_worker_base_clear(worker);
	free(worker);
}

static const orch_worker_ops fake_ops = {
    .start = fake_start,
    .poll = fake_poll,
    .read_output = fake_read_output,
    .cancel = fake_cancel,
    .finish = fake_finish,
    .locator = fake_locator,
    .reap = fake_reap,
    .adopt = fake_adopt,
    .close = fake_close,
};

static int fake_open(orch_worker **out, const orch_worker_config *config,
                     git_repository *repo, const char *token, int jobs,
                     void *payload)
{
	fake_worker *fw = orch_calloc(1, sizeof(*fw));

	(void)repo;
	(void)token;
	orch_worker_base_init(&fw->parent, &fake_ops, config);
	if (jobs > 0)
		fw->parent.slots = jobs;
	fw->env = payload;
	fw->env->jobs_seen = jobs;
	if (fw->env->down_at_open) {
		fw->parent.down = 1;
		/* as the SSH worker says it: with the worker's name */
		snprintf(fw->parent.down_reason, sizeof(fw->parent.down_reason),
		         "worker '%s': cannot connect to 127.0.0.1 port 9: "
		         "Connection refused",
		         config->name);
	}
	if (fw->env->nopened < 2)
		fw->env->opened[fw->env->nopened++] = &fw->parent;
	*out = &fw->parent;
	return 0;
}

/* ---- fixture ----------------------------------------------------------- */

struct fixture {
	git_repository *repo;
	orch_store *store;
	char base[GIT_OID_HEXSZ + 1];
	orch_config config;
	orch_worker_config workers[2];
	struct fake_env env;
	orch_run_options opts;
};

static void setup(struct fixture *fx, size_t nworkers)
{
	static char *names[] = {"w1", "w2"};
	git_signature *sig = NULL;
	git_treebuilder *bld = NULL;
	git_tree *tree = NULL;
	git_oid tree_oid, first;

	memset(fx, 0, sizeof(*fx));
	git_libgit2_init();
	if (git_repository_init(&fx->repo, unit_tmpdir(), 0) < 0 ||
	    git_signature_new(&sig, "Unit", "unit@example.com", 1700000000, 0) <
	        0 ||
	    git_treebuilder_new(&bld, fx->repo, NULL) < 0 ||
	    git_treebuilder_write(&tree_oid, bld) < 0 ||
	    git_tree_lookup(&tree, fx->repo, &tree_oid) < 0 ||
	    git_commit_create(&first, fx->repo, "HEAD", sig, sig, NULL,
	                      "initial\n", tree, 0, NULL) < 0 ||
	    orch_store_open(&fx->store, fx->repo) < 0)
		abort();
	git_oid_tostr(fx->base, sizeof(fx->base), &first);
	git_tree_free(tree);
	git_treebuilder_free(bld);
	git_signature_free(sig);
	for (size_t i = 0; i < nworkers; i++) {
		fx->workers[i].name = names[i];
		fx->workers[i].host = names[i];
		fx->workers[i].slots = 1;
	}
	fx->config.workers = fx->workers;
	fx->config.nworkers = nworkers;
	fx->env.repo = fx->repo;
	fx->opts.plan = "p";
	fx->opts.open_worker = fake_open;
	fx->opts.open_worker_payload = &fx->env;
	fx->opts.retry_base_ms = 1;
}

static void teardown(struct fixture *fx)
{
	for (size_t i = 0; i < 2; i++)
		orch_strvec_free(&fx->workers[i].capabilities);
	orch_store_free(fx->store);
	git_repository_free(fx->repo);
	git_libgit2_shutdown();
}

struct task_def {
	const char *id;
	orch_priority priority;
	int64_t duration_ms;
	const char *depends; /* one task id, or NULL */
	int retries;         /* -1: the plan's */
	int64_t timeout_ms;  /* -1: the plan's */
	const char *needs;   /* one capability, or NULL */
};

/* Store plan "p" of `defs` (up to an entry with a NULL id). */
static void store_plan(struct fixture *fx, const struct task_def *defs,
                       int retries)
{
	orch_plan *plan = orch_calloc(1, sizeof(*plan));
	size_t n = 0;

	while (defs[n].id)
		n++;
	plan->name = orch_strdup("p");
	plan->base = orch_strdup("main");
	plan->base_commit = orch_strdup(fx->base);
	plan->retries = retries;
	plan->tasks = orch_calloc(n + 1, sizeof(orch_task));
	plan->ntasks = n;
	for (size_t i = 0; i < n; i++) {
		orch_task *task = &plan->tasks[i];
		task->id = orch_strdup(defs[i].id);
		task->run = orch_strdup("true");
		task->priority = defs[i].priority;
		task->duration_ms = defs[i].duration_ms;
		task->retries = defs[i].retries;
		task->timeout_ms = defs[i].timeout_ms;
		if (defs[i].depends)
			orch_strvec_push(&task->depends, defs[i].depends);
		if (defs[i].needs)
			orch_strvec_push(&task->needs, defs[i].needs);
	}
	if (orch_plan_reindex(plan) < 0 || orch_plan_validate(plan) < 0 ||
	    orch_store_create_plan(fx->store, plan, 0) < 0)
		abort();
	orch_plan_free(plan);
}

/* The recorded state of task `id` of plan "p" (caller clears). */
static void read_state(orch_task_state *out, struct fixture *fx, const char *id)
{
	orch_plan *plan = NULL;
	orch_task_state *states;

	if (orch_store_load_plan(&plan, NULL, fx->store, "p") < 0)
		abort();
	states = orch_calloc(plan->ntasks + 1, sizeof(*states));
	for (size_t i = 0; i < plan->ntasks; i++)
		orch_task_state_init(&states[i]);
	if (orch_store_read_states(states, NULL, fx->store, plan) < 0)
		abort();
	orch_task_state_init(out);
	for (size_t i = 0; i < plan->ntasks; i++) {
		if (!strcmp(plan->tasks[i].id, id))
			orch_task_state_copy(out, &states[i]);
		orch_task_state_clear(&states[i]);
	}
	free(states);
	orch_plan_free(plan);
}

/* The calls `what` the fakes got, as "task@worker#attempt" joined by ' '. */
static void calls_of(char *out, size_t outlen, const struct fixture *fx,
                     const char *what)
{
	size_t len = 0;

	out[0] = '\0';
	for (size_t i = 0; i < fx->env.ncalls; i++) {
		const struct fake_call *c = &fx->env.calls[i];
		if (strcmp(c->what, what))
			continue;
		len += snprintf(out + len, outlen - len, "%s%s@%s#%d",
		                len ? " " : "", c->task, c->worker, c->attempt);
		if (len >= outlen)
			abort();
	}
}

static const struct fake_call *find_call(const struct fixture *fx,
                                         const char *what, size_t nth)
{
	for (size_t i = 0; i < fx->env.ncalls; i++)
		if (!strcmp(fx->env.calls[i].what, what) && nth-- == 0)
			return &fx->env.calls[i];
	return NULL;
}

/* ---- tests ------------------------------------------------------------- */

TEST(dispatch_takes_priority_then_critical_path)
{
	struct fixture fx;
	orch_run_summary summary;
	char order[512];
	const struct task_def defs[] = {
	    {"a", ORCH_PRIORITY_MEDIUM, 1000, NULL, -1, -1, NULL},
	    {"low", ORCH_PRIORITY_LOW, 9000, NULL, -1, -1, NULL},
	    {"b", ORCH_PRIORITY_MEDIUM, 1000, NULL, -1, -1, NULL},
	    {"c", ORCH_PRIORITY_MEDIUM, 5000, "b", -1, -1, NULL},
	    {"high", ORCH_PRIORITY_HIGH, 1000, NULL, -1, -1, NULL},
	    {NULL, 0, 0, NULL, 0, 0, NULL},
	};

	setup(&fx, 1);
	store_plan(&fx, defs, 2);
	CHECK_INT(orch_run(&summary, fx.store, &fx.config, &fx.opts), 0);
	CHECK_INT(summary.counts[ORCH_STATE_DONE], 5);
	calls_of(order, sizeof(order), &fx, "start");
	/* b leads the longer path (b then c), so it goes before a; once b
	 * is done, c's path is longer than a's */
	CHECK_STR(order, "high@w1#1 b@w1#1 c@w1#1 a@w1#1 low@w1#1");
	teardown(&fx);
}

TEST(jobs_reach_the_workers_through_open)
{
	struct fixture fx;
	orch_run_summary summary;
	char order[512];
	const struct fake_rule rules[] = {
	    {"a", 1, FAKE_FAIL}, {"b", 1, FAKE_FAIL}, {NULL}};
	const struct task_def defs[] = {
	    {"a", ORCH_PRIORITY_MEDIUM, -1, NULL, 0, -1, NULL},
	    {"b", ORCH_PRIORITY_MEDIUM, -1, NULL, 0, -1, NULL},
	    {NULL, 0, 0, NULL, 0, 0, NULL},
	};

	setup(&fx, 1);
	store_plan(&fx, defs, 2);
	fx.env.rules = rules;
	fx.opts.jobs = 3;
	CHECK_INT(orch_run(&summary, fx.store, &fx.config, &fx.opts), 0);
	CHECK_INT(fx.env.jobs_seen, 3);
	CHECK_INT(summary.counts[ORCH_STATE_FAILED], 2);
	calls_of(order, sizeof(order), &fx, "start");
	CHECK_STR(order, "a@w1#1 b@w1#1");
	teardown(&fx);
}

TEST(a_failed_attempt_is_retried_after_a_backoff_on_another_worker)
{
	struct fixture fx;
	orch_run_summary summary;
	orch_task_state st;
	char order[512];
	const struct fake_rule rules[] = {{"flaky", 1, FAKE_FAIL}, {NULL}};
	const struct task_def defs[] = {
	    {"flaky", ORCH_PRIORITY_MEDIUM, -1, NULL, -1, -1, NULL},
	    {NULL, 0, 0, NULL, 0, 0, NULL},
	};
	const struct fake_call *first, *second;

	setup(&fx, 2);
	store_plan(&fx, defs, 2);
	fx.env.rules = rules;
	fx.opts.retry_base_ms = 200;
	CHECK_INT(orch_run(&summary, fx.store, &fx.config, &fx.opts), 0);
	CHECK_INT(summary.counts[ORCH_STATE_DONE], 1);
	calls_of(order, sizeof(order), &fx, "start");
	CHECK_STR(order, "flaky@w1#1 flaky@w2#2");
	first = find_call(&fx, "start", 0);
	second = find_call(&fx, "start", 1);
	/* 200 ms, give or take the 25% jitter */
	CHECK(first && second && second->at_ms - first->at_ms >= 150);
	read_state(&st, &fx, "flaky");
	CHECK_INT(st.attempts, 2);
	CHECK_STR(st.worker, "w2");
	CHECK(st.commit != NULL);
	orch_task_state_clear(&st);
	teardown(&fx);
}

TEST(a_task_that_fails_every_retry_fails_and_keeps_its_worktree)
{
	struct fixture fx;
	orch_run_summary summary;
	orch_task_state st;
	char order[512];
	const struct fake_rule rules[] = {
	    {"bad", 1, FAKE_FAIL}, {"bad", 2, FAKE_FAIL}, {NULL}};
	const struct task_def defs[] = {
	    {"bad", ORCH_PRIORITY_MEDIUM, -1, NULL, 1, -1, NULL},
	    {"after", ORCH_PRIORITY_MEDIUM, -1, "bad", -1, -1, NULL},
	    {NULL, 0, 0, NULL, 0, 0, NULL},
	};

	setup(&fx, 1);
	store_plan(&fx, defs, 2);
	fx.env.rules = rules;
	CHECK_INT(orch_run(&summary, fx.store, &fx.config, &fx.opts), 0);
	CHECK_INT(summary.counts[ORCH_STATE_FAILED], 1);
	CHECK_INT(summary.counts[ORCH_STATE_SKIPPED], 1);
	calls_of(order, sizeof(order), &fx, "start");
	CHECK_STR(order, "bad@w1#1 bad@w1#2");
	read_state(&st, &fx, "bad");
	CHECK_STR(st.worktree, "fake:kept");
	orch_task_state_clear(&st);
	teardown(&fx);
}

TEST(an_attempt_past_its_timeout_is_cancelled_and_recorded_timeout)
{
	struct fixture fx;
	orch_run_summary summary;
	orch_task_state st;
	char cancels[512];
	const struct fake_rule rules[] = {{"slow", 1, FAKE_HANG}, {NULL}};
	const struct task_def defs[] = {
	    {"slow", ORCH_PRIORITY_MEDIUM, -1, NULL, 0, 50, NULL},
	    {NULL, 0, 0, NULL, 0, 0, NULL},
	};

	setup(&fx, 1);
	store_plan(&fx, defs, 2);
	fx.env.rules = rules;
	CHECK_INT(orch_run(&summary, fx.store, &fx.config, &fx.opts), 0);
	CHECK_INT(summary.counts[ORCH_STATE_TIMEOUT], 1);
	calls_of(cancels, sizeof(cancels), &fx, "cancel");
	CHECK_STR(cancels, "slow@w1#1");
	CHECK(find_call(&fx, "cancel", 0)->at_ms -
	          find_call(&fx, "start", 0)->at_ms >=
	      50);
	read_state(&st, &fx, "slow");
	CHECK_INT(st.state, ORCH_STATE_TIMEOUT);
	CHECK_INT(st.exit_status, 128 + 15);
	orch_task_state_clear(&st);
	teardown(&fx);
}

TEST(a_task_lost_with_its_worker_runs_again_elsewhere_without_a_retry)
{
	struct fixture fx;
	orch_run_summary summary;
	orch_task_state st;
	char order[512];
	const struct fake_rule rules[] = {{"t", 1, FAKE_LOST}, {NULL}};
	const struct task_def defs[] = {
	    {"t", ORCH_PRIORITY_MEDIUM, -1, NULL, 0, -1, NULL},
	    {NULL, 0, 0, NULL, 0, 0, NULL},
	};

	setup(&fx, 2);
	store_plan(&fx, defs, 2);
	fx.env.rules = rules;
	fx.opts.retry_base_ms = 60000; /* a backoff would stall the test */
	CHECK_INT(orch_run(&summary, fx.store, &fx.config, &fx.opts), 0);
	CHECK_INT(summary.counts[ORCH_STATE_DONE], 1);
	calls_of(order, sizeof(order), &fx, "start");
	CHECK_STR(order, "t@w1#1 t@w2#2");
	read_state(&st, &fx, "t");
	CHECK_STR(st.worker, "w2");
	orch_task_state_clear(&st);
	teardown(&fx);
}

struct running {
	const char *base;
};

static int mark_running_cb(orch_txn *txn, void *payload)
{
	struct running *r = payload;
	orch_task_state st;
	int error;

	orch_task_state_init(&st);
	if ((error = orch_txn_get_task(&st, txn, "t")) < 0)
		goto done;
	st.state = ORCH_STATE_RUNNING;
	st.attempts = 1;
	free(st.worker);
	st.worker = orch_strdup("w1");
	free(st.base);
	st.base = orch_strdup(r->base);
	st.started_ms = orch_now_ms();
	orch_strvec_push(&st.workers_tried, "w1");
	error = orch_txn_put_task(txn, "t", &st);
	orch_txn_message(txn, "t: started on w1 (attempt 1)");
done:
	orch_task_state_clear(&st);
	return error;
}

/*
 * What a run killed mid-attempt leaves: task t recorded running (attempt
 * 1 on w1) under an expired lease naming `locator` (NULL: a lease of an
 * older version, which names none).
 */
static void leave_crashed_run(struct fixture *fx, const char *locator)
{
	const struct task_def defs[] = {
	    {"t", ORCH_PRIORITY_MEDIUM, -1, NULL, -1, -1, NULL},
	    {NULL, 0, 0, NULL, 0, 0, NULL},
	};
	struct running r = {fx->base};
	orch_lease lease = {0};
	git_oid held;
	char host[256] = "";

	store_plan(fx, defs, 2);
	if (orch_store_update(fx->store, "p", mark_running_cb, &r, NULL) < 0)
		abort();
	gethostname(host, sizeof(host) - 1);
	lease.host = host;
	lease.pid = (int)getpid();
	lease.token = "dead-run";
	lease.expires_ms = orch_now_ms() - 1000;
	lease.task = "t";
	lease.worker = "w1";
	lease.attempt = 1;
	lease.locator = (char *)locator;
	if (orch_lease_acquire(&held, fx->store, "p", "task/t", &lease) < 0)
		abort();
}

TEST(an_attempt_left_by_a_dead_run_is_adopted_at_its_locator)
{
	struct fixture fx;
	orch_run_summary summary;
	orch_task_state st;
	char starts[512];
	const struct fake_call *adopt;

	setup(&fx, 1);
	leave_crashed_run(&fx, "somewhere-w1-said");
	fx.env.adopt_found = 1;
	CHECK_INT(orch_run(&summary, fx.store, &fx.config, &fx.opts), 0);
	CHECK_INT(summary.counts[ORCH_STATE_DONE], 1);
	adopt = find_call(&fx, "adopt", 0);
	CHECK(adopt != NULL);
	if (adopt)
		CHECK_STR(adopt->locator, "somewhere-w1-said");
	calls_of(starts, sizeof(starts), &fx, "start");
	CHECK_STR(starts, ""); /* collected, not run again */
	read_state(&st, &fx, "t");
	CHECK_INT(st.attempts, 1);
	orch_task_state_clear(&st);
	teardown(&fx);
}

TEST(an_attempt_left_by_a_dead_run_and_gone_is_reaped_and_run_again)
{
	struct fixture fx;
	orch_run_summary summary;
	char starts[512];
	const struct fake_call *reap;

	setup(&fx, 1);
	leave_crashed_run(&fx, "somewhere-w1-said");
	CHECK_INT(orch_run(&summary, fx.store, &fx.config, &fx.opts), 0);
	CHECK_INT(summary.counts[ORCH_STATE_DONE], 1);
	reap = find_call(&fx, "reap", 0);
	CHECK(reap != NULL);
	if (reap)
		CHECK_STR(reap->locator, "somewhere-w1-said");
	calls_of(starts, sizeof(starts), &fx, "start");
	CHECK_STR(starts, "t@w1#2");
	teardown(&fx);
}

TEST(a_lease_of_an_older_version_is_reaped_where_the_worker_would_look)
{
	struct fixture fx;
	orch_run_summary summary;
	const struct fake_call *reap;

	setup(&fx, 1);
	leave_crashed_run(&fx, NULL);
	CHECK_INT(orch_run(&summary, fx.store, &fx.config, &fx.opts), 0);
	CHECK_INT(summary.counts[ORCH_STATE_DONE], 1);
	reap = find_call(&fx, "reap", 0);
	CHECK(reap != NULL);
	if (reap)
		CHECK_STR(reap->locator, "w1:t#1");
	teardown(&fx);
}

struct lease_seen {
	orch_store *store;
	char locator[128];
	int starts;
};

/* On START: the locator the attempt's lease names, as it runs. */
static void read_lease_on_start(const orch_run_event *event, void *payload)
{
	struct lease_seen *seen = payload;
	orch_lease lease = {0};

	if (event->kind != ORCH_RUN_EVENT_START)
		return;
	seen->starts++;
	if (orch_lease_read(&lease, NULL, seen->store, "p", "task/slow") == 0 &&
	    lease.locator)
		snprintf(seen->locator, sizeof(seen->locator), "%s",
		         lease.locator);
	orch_lease_clear(&lease);
}

TEST(a_running_attempt_has_its_locator_in_its_lease)
{
	struct fixture fx;
	orch_run_summary summary;
	struct lease_seen seen = {0};
	const struct fake_rule rules[] = {{"slow", 1, FAKE_HANG}, {NULL}};
	const struct task_def defs[] = {
	    {"slow", ORCH_PRIORITY_MEDIUM, -1, NULL, 0, 20, NULL},
	    {NULL, 0, 0, NULL, 0, 0, NULL},
	};

	setup(&fx, 1);
	store_plan(&fx, defs, 2);
	fx.env.rules = rules;
	seen.store = fx.store;
	fx.opts.on_event = read_lease_on_start;
	fx.opts.payload = &seen;
	CHECK_INT(orch_run(&summary, fx.store, &fx.config, &fx.opts), 0);
	CHECK_INT(seen.starts, 1);
	CHECK_STR(seen.locator, "w1:slow#1");
	teardown(&fx);
}

TEST(a_run_whose_workers_cannot_be_reached_stops_at_once_naming_them)
{
	struct fixture fx;
	orch_run_summary summary;
	orch_task_state st;
	const char *msg;
	const struct task_def defs[] = {
	    {"t", ORCH_PRIORITY_MEDIUM, -1, NULL, 0, -1, NULL},
	    {NULL, 0, 0, NULL, 0, 0, NULL},
	};

	setup(&fx, 2);
	store_plan(&fx, defs, 2);
	fx.env.down_at_open = 1;
	CHECK_INT(orch_run(&summary, fx.store, &fx.config, &fx.opts),
	          ORCH_ERROR);
	msg = orch_error_message();
	CHECK(strstr(msg, "no worker able to run the ready tasks of plan 'p' "
	                  "can be reached") != NULL);
	CHECK(strstr(msg, "worker 'w1': cannot connect to 127.0.0.1 port 9: "
	                  "Connection refused; worker 'w2': cannot connect") !=
	      NULL);
	CHECK(strstr(msg, "'w1': worker 'w1'") == NULL);
	CHECK(strstr(orch_error_hint_text(), "workers check") != NULL);
	CHECK_INT(fx.env.ncalls, 0);
	read_state(&st, &fx, "t");
	CHECK_STR(orch_state_name(st.state), "ready");
	CHECK_INT(st.attempts, 0);
	orch_task_state_clear(&st);
	teardown(&fx);
}

TEST(a_worker_lost_mid_run_is_waited_for_at_most_wait_workers)
{
	struct fixture fx;
	orch_run_summary summary;
	orch_task_state st;
	int64_t started;
	const struct fake_rule rules[] = {{"t", 1, FAKE_LOST}, {NULL}};
	const struct task_def defs[] = {
	    {"t", ORCH_PRIORITY_MEDIUM, -1, NULL, 0, -1, NULL},
	    {NULL, 0, 0, NULL, 0, 0, NULL},
	};

	setup(&fx, 1);
	store_plan(&fx, defs, 2);
	fx.env.rules = rules;
	fx.opts.wait_workers_ms = 300;
	started = orch_monotonic_ms();
	CHECK_INT(orch_run(&summary, fx.store, &fx.config, &fx.opts),
	          ORCH_ERROR);
	CHECK(orch_monotonic_ms() - started >= 300);
	CHECK(strstr(orch_error_message(),
	             "no worker able to run the ready tasks of plan 'p' came "
	             "back within 300ms: worker 'w1': connection lost") !=
	      NULL);
	CHECK(strstr(orch_error_hint_text(),
	             "'git orchestrate run p' resumes") != NULL);
	read_state(&st, &fx, "t");
	CHECK_STR(orch_state_name(st.state), "ready");
	orch_task_state_clear(&st);
	/* the state is saved: a later run, its worker back, resumes */
	fx.env.rules = NULL;
	CHECK_INT(orch_run(&summary, fx.store, &fx.config, &fx.opts), 0);
	read_state(&st, &fx, "t");
	CHECK_STR(orch_state_name(st.state), "done");
	CHECK_INT(st.attempts, 2);
	orch_task_state_clear(&st);
	teardown(&fx);
}

/* The worker comes back as soon as the run says it waits for it. */
static void back_when_waiting(const orch_run_event *event, void *payload)
{
	struct fake_env *env = payload;

	if (event->kind == ORCH_RUN_EVENT_NOTE &&
	    strstr(event->message,
	           "waiting up to 1m00s for one to come back") &&
	    env->nopened)
		env->opened[env->nopened - 1]->down = 0;
}

TEST(a_lost_worker_that_comes_back_within_the_wait_runs_the_task)
{
	struct fixture fx;
	orch_run_summary summary;
	orch_task_state st;
	const struct fake_rule rules[] = {{"t", 1, FAKE_LOST}, {NULL}};
	const struct task_def defs[] = {
	    {"t", ORCH_PRIORITY_MEDIUM, -1, NULL, 0, -1, NULL},
	    {NULL, 0, 0, NULL, 0, 0, NULL},
	};

	setup(&fx, 1);
	store_plan(&fx, defs, 2);
	fx.env.rules = rules;
	fx.opts.wait_workers_ms = 60000;
	fx.opts.on_event = back_when_waiting;
	fx.opts.payload = &fx.env;
	CHECK_INT(orch_run(&summary, fx.store, &fx.config, &fx.opts), 0);
	read_state(&st, &fx, "t");
	CHECK_STR(orch_state_name(st.state), "done");
	CHECK_STR(st.worker, "w1");
	orch_task_state_clear(&st);
	teardown(&fx);
}

TEST(dispatch_follows_priority_bottom_level_and_plan_order_along_a_chain)
{
	struct fixture fx;
	orch_run_summary summary;
	char order[512];
	/* bottom levels: c1 3000, m1 and m2 2500, c2 2000, l1 1010, c3
	 * 1000; h2 is high but waits for the low l1 */
	const struct task_def defs[] = {
	    {"l1", ORCH_PRIORITY_LOW, 1000, NULL, -1, -1, NULL},
	    {"c1", ORCH_PRIORITY_MEDIUM, 1000, NULL, -1, -1, NULL},
	    {"m1", ORCH_PRIORITY_MEDIUM, 2500, NULL, -1, -1, NULL},
	    {"c2", ORCH_PRIORITY_MEDIUM, 1000, "c1", -1, -1, NULL},
	    {"h1", ORCH_PRIORITY_HIGH, 10, NULL, -1, -1, NULL},
	    {"c3", ORCH_PRIORITY_MEDIUM, 1000, "c2", -1, -1, NULL},
	    {"m2", ORCH_PRIORITY_MEDIUM, 2500, NULL, -1, -1, NULL},
	    {"h2", ORCH_PRIORITY_HIGH, 10, "l1", -1, -1, NULL},
	    {NULL, 0, 0, NULL, 0, 0, NULL},
	};

	setup(&fx, 1);
	store_plan(&fx, defs, 2);
	CHECK_INT(orch_run(&summary, fx.store, &fx.config, &fx.opts), 0);
	CHECK_INT(summary.counts[ORCH_STATE_DONE], 8);
	calls_of(order, sizeof(order), &fx, "start");
	CHECK_STR(order, "h1@w1#1 c1@w1#1 m1@w1#1 m2@w1#1 c2@w1#1 c3@w1#1 "
	                 "l1@w1#1 h2@w1#1");
	teardown(&fx);
}

TEST(a_task_whose_capability_has_no_free_worker_does_not_hold_up_others)
{
	struct fixture fx;
	orch_run_summary summary;
	char order[512];
	const struct task_def defs[] = {
	    {"g1", ORCH_PRIORITY_HIGH, -1, NULL, -1, -1, "gpu"},
	    {"g2", ORCH_PRIORITY_HIGH, -1, NULL, -1, -1, "gpu"},
	    {"x", ORCH_PRIORITY_LOW, -1, NULL, -1, -1, NULL},
	    {NULL, 0, 0, NULL, 0, 0, NULL},
	};

	setup(&fx, 2);
	orch_strvec_push(&fx.workers[0].capabilities, "gpu");
	store_plan(&fx, defs, 2);
	CHECK_INT(orch_run(&summary, fx.store, &fx.config, &fx.opts), 0);
	CHECK_INT(summary.counts[ORCH_STATE_DONE], 3);
	calls_of(order, sizeof(order), &fx, "start");
	/* g2 waits for w1, the only gpu worker; x starts on w2 meanwhile */
	CHECK_STR(order, "g1@w1#1 x@w2#1 g2@w1#1");
	teardown(&fx);
}

TEST(a_task_no_worker_can_run_is_noted_and_the_rest_runs)
{
	struct fixture fx;
	orch_run_summary summary;
	char order[512];
	orch_task_state st;
	const struct task_def defs[] = {
	    {"tpu", ORCH_PRIORITY_HIGH, -1, NULL, -1, -1, "tpu"},
	    {"a", ORCH_PRIORITY_MEDIUM, -1, NULL, -1, -1, NULL},
	    {"b", ORCH_PRIORITY_LOW, -1, "a", -1, -1, NULL},
	    {NULL, 0, 0, NULL, 0, 0, NULL},
	};

	setup(&fx, 1);
	store_plan(&fx, defs, 2);
	CHECK_INT(orch_run(&summary, fx.store, &fx.config, &fx.opts), 0);
	CHECK_INT(summary.counts[ORCH_STATE_DONE], 2);
	calls_of(order, sizeof(order), &fx, "start");
	CHECK_STR(order, "a@w1#1 b@w1#1");
	read_state(&st, &fx, "tpu");
	CHECK_STR(orch_state_name(st.state), "ready");
	orch_task_state_clear(&st);
	teardown(&fx);
}

static const unit_test tests[] = {
    T(dispatch_takes_priority_then_critical_path),
    T(dispatch_follows_priority_bottom_level_and_plan_order_along_a_chain),
    T(a_task_whose_capability_has_no_free_worker_does_not_hold_up_others),
    T(a_task_no_worker_can_run_is_noted_and_the_rest_runs),
    T(jobs_reach_the_workers_through_open),
    T(a_failed_attempt_is_retried_after_a_backoff_on_another_worker),
    T(a_task_that_fails_every_retry_fails_and_keeps_its_worktree),
    T(an_attempt_past_its_timeout_is_cancelled_and_recorded_timeout),
    T(a_task_lost_with_its_worker_runs_again_elsewhere_without_a_retry),
    T(an_attempt_left_by_a_dead_run_is_adopted_at_its_locator),
    T(an_attempt_left_by_a_dead_run_and_gone_is_reaped_and_run_again),
    T(a_lease_of_an_older_version_is_reaped_where_the_worker_would_look),
    T(a_running_attempt_has_its_locator_in_its_lease),
    T(a_run_whose_workers_cannot_be_reached_stops_at_once_naming_them),
    T(a_worker_lost_mid_run_is_waited_for_at_most_wait_workers),
    T(a_lost_worker_that_comes_back_within_the_wait_runs_the_task),
};

UNIT_MAIN(tests)
