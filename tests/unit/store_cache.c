#include "unit.h"
#include "error.h"
#include "plan.h"
#include "store.h"
#include "store_internal.h"
#include "util.h"

#include <git2.h>

/*
 * The states cache: what a whole read of a plan's states gives with it is
 * what the tree gives, whatever the cache file holds.
 */
struct fixture {
	char path[256];
	git_repository *repo;
	orch_store *store;
};

static void setup(struct fixture *fx)
{
	git_signature *sig = NULL;
	git_treebuilder *bld = NULL;
	git_tree *tree = NULL;
	git_oid tree_oid, commit;

	git_libgit2_init();
	snprintf(fx->path, sizeof(fx->path), "%s", unit_tmpdir());
	if (git_repository_init(&fx->repo, fx->path, 0) < 0 ||
	    git_signature_new(&sig, "Unit", "unit@example.com", 1700000000, 0) <
	        0 ||
	    git_treebuilder_new(&bld, fx->repo, NULL) < 0 ||
	    git_treebuilder_write(&tree_oid, bld) < 0 ||
	    git_tree_lookup(&tree, fx->repo, &tree_oid) < 0 ||
	    git_commit_create(&commit, fx->repo, "HEAD", sig, sig, NULL,
	                      "initial\n", tree, 0, NULL) < 0 ||
	    orch_store_open(&fx->store, fx->repo) < 0)
		abort();
	git_tree_free(tree);
	git_treebuilder_free(bld);
	git_signature_free(sig);
}

static void teardown(struct fixture *fx)
{
	orch_store_free(fx->store);
	git_repository_free(fx->repo);
	git_libgit2_shutdown();
}

/* A fresh store on the repository: nothing parsed in memory yet. */
static void reopen(struct fixture *fx)
{
	orch_store_free(fx->store);
	if (orch_store_open(&fx->store, fx->repo) < 0)
		abort();
}

static orch_plan *make_plan(const char *name, size_t n, const char *prefix)
{
	orch_plan *plan = orch_calloc(1, sizeof(*plan));
	char id[32];

	plan->name = orch_strdup(name);
	plan->base = orch_strdup("main");
	plan->base_commit =
	    orch_strdup("0123456789012345678901234567890123456789");
	plan->tasks = orch_calloc(n + 1, sizeof(orch_task));
	plan->ntasks = n;
	for (size_t i = 0; i < n; i++) {
		orch_task *task = &plan->tasks[i];
		snprintf(id, sizeof(id), "%s%zu", prefix, i);
		task->id = orch_strdup(id);
		task->run = orch_strdup("true");
		task->priority = ORCH_PRIORITY_MEDIUM;
		task->duration_ms = -1;
		task->retries = -1;
		task->timeout_ms = -1;
		if (i % 3 == 2) {
			snprintf(id, sizeof(id), "%s%zu", prefix, i - 1);
			orch_strvec_push(&task->depends, id);
		}
	}
	if (orch_plan_reindex(plan) < 0)
		abort();
	return plan;
}

/* A state with every field away from its default, varied by `k`. */
static void full_state(orch_task_state *st, int k)
{
	char text[64];

	orch_task_state_init(st);
	st->state = (orch_state)(k % ORCH_STATE__COUNT);
	st->attempts = 3 + k;
	st->interrupted = 1;
	snprintf(text, sizeof(text), "w%d", k);
	st->worker = orch_strdup(text);
	st->started_ms = 1700000000123 + k;
	st->ended_ms = 1700000004567 + k;
	st->duration_ms = 4444;
	st->exit_status = k % 7;
	st->commit = orch_strdup("0123456789abcdef0123456789abcdef01234567");
	st->base = orch_strdup("fedcba9876543210fedcba9876543210fedcba98");
	st->error = orch_strdup("line one\nline \"two\"");
	st->worktree = orch_strdup("/tmp/wt");
	st->not_before_ms = 1700000009000;
	orch_strvec_push(&st->paths, "a.c");
	orch_strvec_push(&st->paths, "");
	st->reruns = 2;
	st->rerun_base = orch_strdup("abc");
	orch_strvec_push(&st->rerun_paths, "b.c");
	orch_strvec_push(&st->workers_tried, "local");
	orch_strvec_push(&st->workers_tried, "vps1");
	st->first_started_ms = 1699999990000;
	st->attempts_ms = 9999;
	st->cpu_ms = 12 + k;
	st->max_rss_kb = 640 + k;
}

struct put_states {
	const orch_plan *plan;
	size_t every; /* tasks 0, every, 2 * every... */
	int k;
	int running; /* keep the running states full_state gives */
};

static int put_states_cb(orch_txn *txn, void *payload)
{
	struct put_states *put = payload;
	int error = 0;

	for (size_t i = 0; i < put->plan->ntasks && !error; i += put->every) {
		orch_task_state st;
		full_state(&st, put->k + (int)i);
		/* a plan with a running task is not cached (see below) */
		if (st.state == ORCH_STATE_RUNNING && !put->running)
			st.state = ORCH_STATE_DONE;
		error = orch_txn_put_task(txn, put->plan->tasks[i].id, &st);
		orch_task_state_clear(&st);
	}
	orch_txn_message(txn, "states");
	return error;
}

static void put_states(struct fixture *fx, const orch_plan *plan, size_t every,
                       int k)
{
	struct put_states put = {plan, every, k, 0};

	if (orch_store_update(fx->store, plan->name, put_states_cb, &put,
	                      NULL) < 0)
		abort();
}

/* The JSON of each task's state from a whole read, one line each. */
static char *read_all(struct fixture *fx, const orch_plan *plan)
{
	orch_task_state *states = orch_calloc(plan->ntasks, sizeof(*states));
	orch_buf out = {0};

	for (size_t i = 0; i < plan->ntasks; i++)
		orch_task_state_init(&states[i]);
	if (orch_store_read_states(states, NULL, fx->store, plan) < 0)
		abort();
	for (size_t i = 0; i < plan->ntasks; i++) {
		char *json = orch_task_state_to_json(&states[i]);
		orch_buf_puts(&out, json);
		free(json);
		orch_task_state_clear(&states[i]);
	}
	free(states);
	return orch_buf_detach(&out);
}

/* The id of the plan's tasks tree now. */
static git_oid tasks_tree(struct fixture *fx, const char *plan)
{
	char spec[256];
	git_object *obj = NULL;
	git_oid oid;

	snprintf(spec, sizeof(spec), "refs/orchestrate/plans/%s:tasks", plan);
	if (git_revparse_single(&obj, fx->repo, spec) < 0)
		abort();
	git_oid_cpy(&oid, git_object_id(obj));
	git_object_free(obj);
	return oid;
}

/* 1 when the cache of `plan` is one of its tasks tree now. */
static int cache_hits(struct fixture *fx, const orch_plan *plan)
{
	orch_task_state *states = orch_calloc(plan->ntasks, sizeof(*states));
	unsigned char *have = orch_calloc(plan->ntasks + 1, 1);
	git_oid tree = tasks_tree(fx, plan->name);
	int hit;

	for (size_t i = 0; i < plan->ntasks; i++)
		orch_task_state_init(&states[i]);
	hit = orch_states_cache_read(states, have, fx->repo, plan->name, plan,
	                             &tree);
	for (size_t i = 0; i < plan->ntasks; i++)
		orch_task_state_clear(&states[i]);
	free(states);
	free(have);
	return hit;
}

static char *cache_file(struct fixture *fx, const char *plan)
{
	orch_buf path = {0};

	orch_buf_printf(&path, "%sorchestrate/cache/%s.states",
	                git_repository_commondir(fx->repo), plan);
	return orch_buf_detach(&path);
}

static void cached_reads_are_tree_reads(size_t n)
{
	struct fixture fx;
	orch_plan *plan = make_plan("p", n, "t");
	char *fresh, *again, *path;

	setup(&fx);
	CHECK_INT(orch_store_create_plan(fx.store, plan, 0), 0);
	put_states(&fx, plan, 3, 0);
	path = cache_file(&fx, "p");
	CHECK(access(path, F_OK) != 0);
	fresh = read_all(&fx, plan); /* writes the cache */
	CHECK(cache_hits(&fx, plan));
	reopen(&fx);
	again = read_all(&fx, plan); /* from it */
	CHECK_STR(again, fresh);
	free(again);
	free(fresh);

	/* a change: the cache is of another tree, read again and rewritten */
	put_states(&fx, plan, 5, 1);
	CHECK(!cache_hits(&fx, plan));
	reopen(&fx);
	fresh = read_all(&fx, plan);
	CHECK(cache_hits(&fx, plan));
	{
		/* what the tree says, read without the cache */
		orch_states_cache_remove(fx.repo, "p");
		reopen(&fx);
		again = read_all(&fx, plan);
		CHECK_STR(again, fresh);
		free(again);
	}
	free(fresh);
	free(path);
	orch_plan_free(plan);
	teardown(&fx);
}

TEST(a_read_from_the_cache_is_what_the_tree_gives)
{
	cached_reads_are_tree_reads(12);                      /* flat */
	cached_reads_are_tree_reads(ORCH_STORE_FLAT_MAX + 9); /* fanned out */
}

/*
 * While a task runs, the tree changes again within seconds: a whole read
 * (`status --watch` each second) does not write the cache then; once no
 * task runs it does.
 */
TEST(a_plan_with_a_running_task_is_not_cached)
{
	struct fixture fx;
	orch_plan *plan = make_plan("p", 12, "t");
	struct put_states put = {plan, 1, 0, 1};
	char *path;

	setup(&fx);
	CHECK_INT(orch_store_create_plan(fx.store, plan, 0), 0);
	/* task k gets state k % ORCH_STATE__COUNT: one of them runs */
	CHECK_INT(orch_store_update(fx.store, "p", put_states_cb, &put, NULL),
	          0);
	path = cache_file(&fx, "p");
	free(read_all(&fx, plan));
	CHECK(access(path, F_OK) != 0);
	put_states(&fx, plan, 1, 0); /* none runs now */
	reopen(&fx);
	free(read_all(&fx, plan));
	CHECK(cache_hits(&fx, plan));
	free(path);
	orch_plan_free(plan);
	teardown(&fx);
}

TEST(every_field_of_a_state_comes_back_from_the_cache)
{
	struct fixture fx;
	orch_plan *plan = make_plan("p", 5, "t");
	orch_task_state states[5], back[5];
	unsigned char have[6] = {1, 0, 1, 1, 0, 0}, got[6] = {0};
	git_oid tree;

	setup(&fx);
	memset(&tree, 0x5a, sizeof(tree));
	for (int i = 0; i < 5; i++) {
		full_state(&states[i], i);
		orch_task_state_init(&back[i]);
	}
	orch_task_state_clear(&states[3]); /* a default state too */
	orch_states_cache_write(fx.repo, "p", plan, &tree, states, have);
	CHECK_INT(orch_states_cache_read(back, got, fx.repo, "p", plan, &tree),
	          1);
	for (int i = 0; i < 5; i++) {
		CHECK_INT(got[i], have[i]);
		if (have[i]) {
			char *a = orch_task_state_to_json(&states[i]);
			char *b = orch_task_state_to_json(&back[i]);
			CHECK_STR(b, a);
			free(a);
			free(b);
		}
		orch_task_state_clear(&states[i]);
		orch_task_state_clear(&back[i]);
	}
	orch_plan_free(plan);
	teardown(&fx);
}

TEST(a_cache_of_other_tasks_or_damaged_or_cut_is_not_used)
{
	struct fixture fx;
	orch_plan *plan = make_plan("p", 40, "t");
	orch_plan *other = make_plan("p", 40, "u");
	char *fresh, *again, *path;
	orch_buf bytes = {0};

	setup(&fx);
	CHECK_INT(orch_store_create_plan(fx.store, plan, 0), 0);
	put_states(&fx, plan, 2, 0);
	fresh = read_all(&fx, plan);
	CHECK(cache_hits(&fx, plan));
	/* the same tree read for other task ids */
	CHECK(!cache_hits(&fx, other));

	path = cache_file(&fx, "p");
	CHECK_INT(orch_read_file(&bytes, path), 0);
	for (size_t at = 0; at < bytes.len; at += bytes.len / 7 + 1) {
		FILE *fp = fopen(path, "wb");
		bytes.ptr[at] ^= 0x10;
		fwrite(bytes.ptr, 1, bytes.len, fp);
		fclose(fp);
		bytes.ptr[at] ^= 0x10;
		CHECK(!cache_hits(&fx, plan));
		reopen(&fx);
		again = read_all(&fx, plan); /* and written again */
		CHECK_STR(again, fresh);
		free(again);
		CHECK(cache_hits(&fx, plan));
	}
	{
		FILE *fp = fopen(path, "wb");
		fwrite(bytes.ptr, 1, bytes.len - 9, fp);
		fclose(fp);
		CHECK(!cache_hits(&fx, plan));
		reopen(&fx);
		again = read_all(&fx, plan);
		CHECK_STR(again, fresh);
		free(again);
	}

	/* forgetting the plan removes its cache */
	CHECK_INT(orch_store_delete_plan(fx.store, "p"), 0);
	CHECK(access(path, F_OK) != 0);
	orch_buf_free(&bytes);
	free(path);
	free(fresh);
	orch_plan_free(other);
	orch_plan_free(plan);
	teardown(&fx);
}

/* clang-format off */
static const unit_test tests[] = {
	T(a_read_from_the_cache_is_what_the_tree_gives),
	T(a_plan_with_a_running_task_is_not_cached),
	T(every_field_of_a_state_comes_back_from_the_cache),
	T(a_cache_of_other_tasks_or_damaged_or_cut_is_not_used),
};
/* clang-format on */

UNIT_MAIN(tests)
