#include "unit.h"
#include "error.h"
#include "lease.h"
#include "notes.h"
#include "plan.h"
#include "store.h"
#include "util.h"

#include <stdint.h>
#include <sys/time.h>
#include <sys/wait.h>

#include <git2.h>

/*
 * Every test works in a fresh repository (unit_tmpdir) with one commit on
 * its current branch, opened through libgit2 like the product does.
 */
struct fixture {
	char path[256];
	git_repository *repo;
	orch_store *store;
	git_oid first; /* the repository's one commit */
};

static int make_commit(git_oid *out, git_repository *repo, const char *message,
                       const char *update_ref)
{
	git_signature *sig = NULL;
	git_treebuilder *bld = NULL;
	git_tree *tree = NULL;
	git_oid tree_oid;
	int error;

	if ((error = git_signature_new(&sig, "Unit", "unit@example.com",
	                               1700000000, 0)) < 0 ||
	    (error = git_treebuilder_new(&bld, repo, NULL)) < 0 ||
	    (error = git_treebuilder_write(&tree_oid, bld)) < 0 ||
	    (error = git_tree_lookup(&tree, repo, &tree_oid)) < 0)
		goto done;
	error = git_commit_create(out, repo, update_ref, sig, sig, NULL,
	                          message, tree, 0, NULL);
done:
	git_tree_free(tree);
	git_treebuilder_free(bld);
	git_signature_free(sig);
	return error;
}

static void setup(struct fixture *fx)
{
	git_libgit2_init();
	snprintf(fx->path, sizeof(fx->path), "%s", unit_tmpdir());
	if (git_repository_init(&fx->repo, fx->path, 0) < 0 ||
	    make_commit(&fx->first, fx->repo, "initial\n", "HEAD") < 0 ||
	    orch_store_open(&fx->store, fx->repo) < 0)
		abort();
}

static void teardown(struct fixture *fx)
{
	orch_store_free(fx->store);
	git_repository_free(fx->repo);
	git_libgit2_shutdown();
}

/* A second handle on the same repository, as another process would have. */
static void open_second(git_repository **repo, orch_store **store,
                        const struct fixture *fx)
{
	if (git_repository_open(repo, fx->path) < 0 ||
	    orch_store_open(store, *repo) < 0)
		abort();
}

/*
 * A plan of `n` tasks "t0".."t<n-1>" put together by hand; task i depends
 * on task i-1 when `chain` is set, else every task is independent.
 */
static orch_plan *make_plan(const char *name, size_t n, int chain)
{
	orch_plan *plan = orch_calloc(1, sizeof(*plan));
	char id[32];

	plan->name = orch_strdup(name);
	plan->base = orch_strdup("main");
	plan->base_commit =
	    orch_strdup("0123456789012345678901234567890123456789");
	plan->retries = 2;
	plan->tasks = orch_calloc(n + 1, sizeof(orch_task));
	plan->ntasks = n;
	for (size_t i = 0; i < n; i++) {
		orch_task *task = &plan->tasks[i];
		snprintf(id, sizeof(id), "t%zu", i);
		task->id = orch_strdup(id);
		task->run = orch_strdup("true");
		task->priority = ORCH_PRIORITY_MEDIUM;
		task->duration_ms = -1;
		task->retries = -1;
		task->timeout_ms = -1;
		if (chain && i > 0) {
			snprintf(id, sizeof(id), "t%zu", i - 1);
			orch_strvec_push(&task->depends, id);
		}
	}
	if (orch_plan_reindex(plan) < 0)
		abort();
	return plan;
}

/* The plan ref's head commit, or a zero oid. */
static git_oid plan_head(const struct fixture *fx, const char *plan)
{
	char refname[256];
	git_oid oid;

	memset(&oid, 0, sizeof(oid));
	snprintf(refname, sizeof(refname), "refs/orchestrate/plans/%s", plan);
	if (git_reference_name_to_id(&oid, fx->repo, refname) < 0)
		memset(&oid, 0, sizeof(oid));
	return oid;
}

/* Number of commits reachable from the plan ref (following first parents). */
static int history_length(const struct fixture *fx, const char *plan)
{
	git_oid oid = plan_head(fx, plan);
	git_commit *commit = NULL;
	int count = 0;

	while (!git_oid_is_zero(&oid) &&
	       git_commit_lookup(&commit, fx->repo, &oid) == 0) {
		count++;
		if (git_commit_parentcount(commit))
			git_oid_cpy(&oid, git_commit_parent_id(commit, 0));
		else
			memset(&oid, 0, sizeof(oid));
		git_commit_free(commit);
		commit = NULL;
	}
	return count;
}

/* The message of the plan ref's head commit, copied into `out`. */
static void head_message(char *out, size_t outlen, const struct fixture *fx,
                         const char *plan)
{
	git_oid oid = plan_head(fx, plan);
	git_commit *commit = NULL;

	out[0] = '\0';
	if (git_commit_lookup(&commit, fx->repo, &oid) == 0)
		snprintf(out, outlen, "%s", git_commit_message(commit));
	git_commit_free(commit);
}

/* The tree at `path` of the plan's head (caller frees), or NULL. */
static git_tree *head_subtree(const struct fixture *fx, const char *plan,
                              const char *path)
{
	git_oid oid = plan_head(fx, plan);
	git_commit *commit = NULL;
	git_tree *root = NULL, *sub = NULL;
	git_tree_entry *entry = NULL;

	if (git_commit_lookup(&commit, fx->repo, &oid) == 0 &&
	    git_commit_tree(&root, commit) == 0 &&
	    git_tree_entry_bypath(&entry, root, path) == 0)
		git_tree_lookup(&sub, fx->repo, git_tree_entry_id(entry));
	git_tree_entry_free(entry);
	git_tree_free(root);
	git_commit_free(commit);
	return sub;
}

static int contains(const char *haystack, const char *needle)
{
	return haystack && strstr(haystack, needle) != NULL;
}

/* ---- update callbacks used below ---- */

struct set_state {
	const char *task;
	orch_state state;
	int attempts;
	const char *worker;
	int runs; /* how many times the callback ran */
};

static int set_state_cb(orch_txn *txn, void *payload)
{
	struct set_state *set = payload;
	orch_task_state st;
	int error;

	set->runs++;
	orch_task_state_init(&st);
	if ((error = orch_txn_get_task(&st, txn, set->task)) == 0) {
		st.state = set->state;
		st.attempts = set->attempts;
		free(st.worker);
		st.worker = orch_strdup(set->worker);
		error = orch_txn_put_task(txn, set->task, &st);
		orch_txn_message(txn, "%s: %s", set->task,
		                 orch_state_name(set->state));
	}
	orch_task_state_clear(&st);
	return error;
}

static int set_task(orch_store *store, const char *plan, const char *task,
                    orch_state state, int attempts, const char *worker)
{
	struct set_state set = {task, state, attempts, worker, 0};
	return orch_store_update(store, plan, set_state_cb, &set, NULL);
}

/* Add one to the number in merges/counter. */
static int increment_cb(orch_txn *txn, void *payload)
{
	orch_buf buf = {0};
	char text[32];
	long value = 0;
	int error;

	(void)payload;
	error = orch_txn_read_file(&buf, txn, "merges/counter");
	if (error == 0)
		value = strtol(buf.ptr, NULL, 10);
	else if (error != ORCH_ENOTFOUND)
		goto done;
	snprintf(text, sizeof(text), "%ld\n", value + 1);
	error = orch_txn_put_file(txn, "merges/counter", text, strlen(text));
	orch_txn_message(txn, "counter: %ld", value + 1);
done:
	orch_buf_free(&buf);
	return error;
}

static long read_counter(orch_store *store, const char *plan)
{
	orch_buf buf = {0};
	long value = -1;

	if (orch_store_read_file(&buf, store, plan, "merges/counter") == 0)
		value = strtol(buf.ptr, NULL, 10);
	orch_buf_free(&buf);
	return value;
}

/* ---- task state JSON ---- */

TEST(a_default_state_is_only_its_name)
{
	orch_task_state st;
	char *json;

	orch_task_state_init(&st);
	json = orch_task_state_to_json(&st);
	CHECK_STR(json, "{\"state\":\"pending\"}\n");
	free(json);
	st.state = ORCH_STATE_READY;
	json = orch_task_state_to_json(&st);
	CHECK_STR(json, "{\"state\":\"ready\"}\n");
	free(json);
}

TEST(a_full_state_round_trips_in_a_fixed_key_order)
{
	orch_task_state st, back;
	char *json, *again;

	orch_task_state_init(&st);
	orch_task_state_init(&back);
	st.state = ORCH_STATE_CONFLICT;
	st.attempts = 2;
	st.worker = orch_strdup("vps1");
	st.started_ms = 1700000000123;
	st.ended_ms = 1700000004567;
	st.duration_ms = 4444;
	st.first_started_ms = 1699999990000;
	st.attempts_ms = 5555;
	st.exit_status = 0;
	st.commit = orch_strdup("abc");
	st.base = orch_strdup("def");
	st.error = orch_strdup("line one\nline \"two\"");
	st.worktree = orch_strdup("/tmp/wt");
	st.not_before_ms = 1700000009000;
	orch_strvec_push(&st.paths, "a.c");
	orch_strvec_push(&st.paths, "b.c");
	orch_strvec_push(&st.workers_tried, "local");
	json = orch_task_state_to_json(&st);
	CHECK_STR(json,
	          "{\"state\":\"conflict\",\"attempts\":2,\"worker\":\"vps1\","
	          "\"started\":1700000000123,\"ended\":1700000004567,"
	          "\"duration_ms\":4444,\"first_started\":1699999990000,"
	          "\"attempts_ms\":5555,\"exit\":0,\"commit\":\"abc\",\"base\":"
	          "\"def\","
	          "\"error\":\"line one\\nline "
	          "\\\"two\\\"\",\"worktree\":\"/tmp/wt\","
	          "\"not_before\":1700000009000,\"paths\":[\"a.c\",\"b.c\"],"
	          "\"workers_tried\":[\"local\"]}\n");
	CHECK_INT(orch_task_state_from_json(&back, json, strlen(json)), 0);
	again = orch_task_state_to_json(&back);
	CHECK_STR(again, json);
	CHECK_INT(back.started_ms, 1700000000123);
	CHECK_STR(back.error, "line one\nline \"two\"");
	CHECK_INT(back.paths.count, 2);
	free(json);
	free(again);
	orch_task_state_clear(&st);
	orch_task_state_clear(&back);
}

TEST(first_start_and_task_time_are_written_only_when_not_the_last_attempts)
{
	static const char one[] =
	    "{\"state\":\"done\",\"attempts\":1,\"started\":1000,"
	    "\"ended\":3000,\"duration_ms\":2000}\n";
	orch_task_state st;
	char *json;

	/* one attempt (or a record from before they were kept) */
	orch_task_state_init(&st);
	CHECK_INT(orch_task_state_from_json(&st, one, strlen(one)), 0);
	CHECK_INT(st.first_started_ms, 1000);
	CHECK_INT(st.attempts_ms, 2000);
	json = orch_task_state_to_json(&st);
	CHECK_STR(json, one);
	free(json);
	st.first_started_ms = 900;
	json = orch_task_state_to_json(&st);
	CHECK(strstr(json, "\"duration_ms\":2000,\"first_started\":900}"));
	free(json);
	orch_task_state_clear(&st);
}

TEST(state_members_are_read_in_any_order_the_first_of_duplicates)
{
	static const char json[] =
	    "{\"paths\":[\"a\"],\"commit\":\"c1\",\"state\":\"conflict\","
	    "\"commit\":\"c2\",\"other\":true,\"attempts\":2,"
	    "\"error\":\"x\",\"attempts\":9,\"worker\":null}";
	static const char bad[] =
	    "{\"state\":\"done\",\"exit\":\"0\",\"exit\":0}";
	orch_task_state st;

	orch_task_state_init(&st);
	CHECK_INT(orch_task_state_from_json(&st, json, strlen(json)), 0);
	CHECK_INT(st.state, ORCH_STATE_CONFLICT);
	CHECK_STR(st.commit, "c1");
	CHECK_INT(st.attempts, 2);
	CHECK_STR(st.error, "x");
	CHECK(st.worker == NULL);
	CHECK_INT(st.paths.count, 1);
	CHECK_INT(orch_task_state_from_json(&st, bad, strlen(bad)), ORCH_ERROR);
	CHECK(strstr(orch_error_message(), "'exit' is not a number") != NULL);
	orch_task_state_clear(&st);
}

TEST(resource_use_is_written_only_when_known_and_read_back)
{
	static const char old[] = "{\"state\":\"done\",\"exit\":0}\n";
	orch_task_state st;
	char *json;

	orch_task_state_init(&st);
	CHECK_INT(orch_task_state_from_json(&st, old, strlen(old)), 0);
	CHECK_INT(st.cpu_ms, -1);
	CHECK_INT(st.max_rss_kb, -1);
	json = orch_task_state_to_json(&st);
	CHECK_STR(json, old);
	free(json);
	st.cpu_ms = 0;
	st.max_rss_kb = 2048;
	json = orch_task_state_to_json(&st);
	CHECK_STR(json, "{\"state\":\"done\",\"exit\":0,\"cpu_ms\":0,"
	                "\"max_rss_kb\":2048}\n");
	CHECK_INT(orch_task_state_from_json(&st, json, strlen(json)), 0);
	CHECK_INT(st.cpu_ms, 0);
	CHECK_INT(st.max_rss_kb, 2048);
	free(json);
	orch_task_state_clear(&st);
}

TEST(a_bad_state_document_is_refused)
{
	static const char *const bad[] = {
	    "",
	    "[]",
	    "{\"attempts\":1}",
	    "{\"state\":\"sleeping\"}",
	    "{\"state\":\"ready\",\"attempts\":\"x\"}",
	    "{\"state\":\"ready\",\"paths\":[1]}",
	    "{\"state\":\"ready\"",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		orch_task_state st;
		orch_task_state_init(&st);
		CHECK(orch_task_state_from_json(&st, bad[i], strlen(bad[i])) <
		      0);
		CHECK(contains(orch_error_message(), "task state"));
		orch_task_state_clear(&st);
	}
}

TEST(state_names_parse_back_and_final_states_are_known)
{
	for (int i = 0; i < ORCH_STATE__COUNT; i++) {
		orch_state back;
		CHECK_INT(
		    orch_state_parse(&back, orch_state_name((orch_state)i)), 0);
		CHECK_INT(back, i);
	}
	CHECK(!orch_state_is_final(ORCH_STATE_RUNNING));
	CHECK(!orch_state_is_final(ORCH_STATE_READY));
	CHECK(orch_state_is_final(ORCH_STATE_DONE));
	CHECK(orch_state_is_final(ORCH_STATE_SKIPPED));
	CHECK(orch_state_is_final(ORCH_STATE_MERGED));
}

/* ---- plans ---- */

TEST(a_stored_plan_loads_back_with_one_commit_of_history)
{
	struct fixture fx;
	orch_plan *plan = make_plan("feature", 3, 1), *back = NULL;
	char message[256];
	git_oid head;

	setup(&fx);
	CHECK_INT(orch_store_create_plan(fx.store, plan, 0), 0);
	CHECK_INT(orch_store_load_plan(&back, &head, fx.store, "feature"), 0);
	CHECK(back != NULL);
	if (back) {
		CHECK_STR(back->name, "feature");
		CHECK_INT(back->ntasks, 3);
		CHECK_STR(back->tasks[2].id, "t2");
		CHECK_INT(back->tasks[2].depends.count, 1);
		CHECK_STR(back->base_commit, plan->base_commit);
	}
	CHECK(git_oid_equal(&head, &(git_oid){0}) == 0);
	git_oid expected = plan_head(&fx, "feature");
	CHECK(git_oid_equal(&head, &expected));
	CHECK_INT(history_length(&fx, "feature"), 1);
	head_message(message, sizeof(message), &fx, "feature");
	CHECK_STR(message, "plan stored: 3 tasks\n");
	orch_plan_free(back);
	orch_plan_free(plan);
	teardown(&fx);
}

TEST(a_new_plan_has_independent_tasks_ready_and_the_others_pending)
{
	struct fixture fx;
	orch_plan *plan = make_plan("p", 3, 1);
	orch_task_state states[3];
	orch_buf file = {0};

	setup(&fx);
	orch_strvec_free(&plan->tasks[2].depends); /* t2 independent too */
	CHECK_INT(orch_store_create_plan(fx.store, plan, 0), 0);
	for (int i = 0; i < 3; i++)
		orch_task_state_init(&states[i]);
	states[1].worker = orch_strdup("stale value that is replaced");
	CHECK_INT(orch_store_read_states(states, NULL, fx.store, plan), 0);
	CHECK_INT(states[0].state, ORCH_STATE_READY);
	CHECK_INT(states[1].state, ORCH_STATE_PENDING);
	CHECK(states[1].worker == NULL);
	CHECK_INT(states[2].state, ORCH_STATE_READY);
	CHECK_INT(orch_store_read_file(&file, fx.store, "p", "tasks/t1.json"),
	          0);
	CHECK_STR(file.ptr, "{\"state\":\"pending\"}\n");
	for (int i = 0; i < 3; i++)
		orch_task_state_clear(&states[i]);
	orch_buf_free(&file);
	orch_plan_free(plan);
	teardown(&fx);
}

TEST(each_update_is_one_commit_with_its_message)
{
	struct fixture fx;
	orch_plan *plan = make_plan("p", 2, 1);
	orch_task_state states[2];
	char message[256];
	git_oid commit, head;
	struct set_state set = {"t0", ORCH_STATE_RUNNING, 1, "vps1", 0};

	setup(&fx);
	CHECK_INT(orch_store_create_plan(fx.store, plan, 0), 0);
	CHECK_INT(orch_store_update(fx.store, "p", set_state_cb, &set, &commit),
	          0);
	head = plan_head(&fx, "p");
	CHECK(git_oid_equal(&commit, &head));
	head_message(message, sizeof(message), &fx, "p");
	CHECK_STR(message, "t0: running\n");
	CHECK_INT(set_task(fx.store, "p", "t0", ORCH_STATE_DONE, 1, "vps1"), 0);
	CHECK_INT(history_length(&fx, "p"), 3);
	head_message(message, sizeof(message), &fx, "p");
	CHECK_STR(message, "t0: done\n");
	orch_task_state_init(&states[0]);
	orch_task_state_init(&states[1]);
	CHECK_INT(orch_store_read_states(states, &head, fx.store, plan), 0);
	CHECK_INT(states[0].state, ORCH_STATE_DONE);
	CHECK_INT(states[0].attempts, 1);
	CHECK_STR(states[0].worker, "vps1");
	CHECK_INT(states[1].state, ORCH_STATE_PENDING);
	orch_task_state_clear(&states[0]);
	orch_task_state_clear(&states[1]);
	orch_plan_free(plan);
	teardown(&fx);
}

/* set_state_cb, but refusing (ORCH_ENOCHANGE) a task already at the state. */
static int set_state_once_cb(orch_txn *txn, void *payload)
{
	struct set_state *set = payload;
	orch_task_state st;
	int error;

	orch_task_state_init(&st);
	error = orch_txn_get_task(&st, txn, set->task);
	if (error == 0 && st.state == set->state)
		error = ORCH_ENOCHANGE;
	orch_task_state_clear(&st);
	return error < 0 ? error : set_state_cb(txn, payload);
}

TEST(changes_of_one_batch_share_one_commit_naming_each_change)
{
	struct fixture fx;
	orch_plan *plan = make_plan("p", 3, 0);
	orch_task_state states[3];
	char message[512];
	git_oid commit, head;
	struct set_state a = {"t0", ORCH_STATE_DONE, 1, "w", 0},
	                 b = {"t1", ORCH_STATE_READY, 0, "w", 0},
	                 c = {"t2", ORCH_STATE_FAILED, 1, "w", 0};
	void *payloads[3] = {&a, &b, &c};
	int results[3];

	setup(&fx);
	CHECK_INT(orch_store_create_plan(fx.store, plan, 0), 0);
	/* t1 is ready already: left out, the two others in one commit */
	CHECK_INT(orch_store_update_each(fx.store, "p", set_state_once_cb,
	                                 payloads, results, 3, &commit),
	          0);
	CHECK_INT(results[0], 0);
	CHECK_INT(results[1], ORCH_ENOCHANGE);
	CHECK_INT(results[2], 0);
	head = plan_head(&fx, "p");
	CHECK(git_oid_equal(&commit, &head));
	CHECK_INT(history_length(&fx, "p"), 2);
	head_message(message, sizeof(message), &fx, "p");
	CHECK_STR(message, "2 changes\n\nt0: done\nt2: failed\n");
	for (size_t i = 0; i < 3; i++)
		orch_task_state_init(&states[i]);
	CHECK_INT(orch_store_read_states(states, &head, fx.store, plan), 0);
	CHECK_INT(states[0].state, ORCH_STATE_DONE);
	CHECK_INT(states[1].state, ORCH_STATE_READY);
	CHECK_INT(states[2].state, ORCH_STATE_FAILED);
	/* one change alone: its own message; none: no commit */
	b.state = ORCH_STATE_RUNNING;
	CHECK_INT(orch_store_update_each(fx.store, "p", set_state_once_cb,
	                                 payloads, results, 3, NULL),
	          0);
	head_message(message, sizeof(message), &fx, "p");
	CHECK_STR(message, "t1: running\n");
	CHECK_INT(orch_store_update_each(fx.store, "p", set_state_once_cb,
	                                 payloads, results, 3, NULL),
	          ORCH_ENOCHANGE);
	CHECK_INT(history_length(&fx, "p"), 3);
	for (size_t i = 0; i < 3; i++)
		orch_task_state_clear(&states[i]);
	orch_plan_free(plan);
	teardown(&fx);
}

TEST(task_paths_are_flat_up_to_the_limit_then_fanned_out_by_fnv1a)
{
	orch_plan small = {0}, big = {0};
	char path[256];

	small.ntasks = ORCH_STORE_FLAT_MAX;
	big.ntasks = ORCH_STORE_FLAT_MAX + 1;
	CHECK_INT(orch_store_task_path(path, sizeof(path), &small, "a"), 0);
	CHECK_STR(path, "tasks/a.json");
	CHECK_INT(orch_store_log_path(path, sizeof(path), &small, "a"), 0);
	CHECK_STR(path, "logs/a.log");
	/* FNV-1a 32 of "a" is 0xe40c292c: directory 2c */
	CHECK_INT(orch_store_task_path(path, sizeof(path), &big, "a"), 0);
	CHECK_STR(path, "tasks/2c/a.json");
	CHECK_INT(orch_store_log_path(path, sizeof(path), &big, "a"), 0);
	CHECK_STR(path, "logs/2c/a.log");
	/* FNV-1a 32 of "foobar" is 0xbf9cf968 */
	CHECK_INT(orch_store_task_path(path, sizeof(path), &big, "foobar"), 0);
	CHECK_STR(path, "tasks/68/foobar.json");
	CHECK(orch_store_task_path(path, 8, &small, "foobar") < 0);
}

struct racer {
	orch_store *other;
	int runs;
};

/* On its first run only, let `other` commit before this transaction does. */
static int racing_cb(orch_txn *txn, void *payload)
{
	struct racer *racer = payload;
	orch_task_state st;
	int error;

	if (racer->runs++ == 0 && set_task(racer->other, "p", "t1",
	                                   ORCH_STATE_RUNNING, 1, "second") < 0)
		return ORCH_ERROR;
	orch_task_state_init(&st);
	error = orch_txn_get_task(&st, txn, "t0");
	st.state = ORCH_STATE_RUNNING;
	free(st.worker);
	st.worker = orch_strdup("first");
	if (!error)
		error = orch_txn_put_task(txn, "t0", &st);
	orch_task_state_clear(&st);
	return error;
}

TEST(a_racing_update_reruns_the_callback_and_loses_nothing)
{
	struct fixture fx;
	git_repository *repo2 = NULL;
	orch_store *store2 = NULL;
	orch_plan *plan = make_plan("p", 2, 0);
	orch_task_state states[2];
	struct racer racer;

	setup(&fx);
	open_second(&repo2, &store2, &fx);
	racer.other = store2;
	racer.runs = 0;
	CHECK_INT(orch_store_create_plan(fx.store, plan, 0), 0);
	CHECK_INT(orch_store_update(fx.store, "p", racing_cb, &racer, NULL), 0);
	CHECK_INT(racer.runs, 2);
	CHECK_INT(history_length(&fx, "p"), 3);
	orch_task_state_init(&states[0]);
	orch_task_state_init(&states[1]);
	CHECK_INT(orch_store_read_states(states, NULL, fx.store, plan), 0);
	CHECK_INT(states[0].state, ORCH_STATE_RUNNING);
	CHECK_STR(states[0].worker, "first");
	CHECK_INT(states[1].state, ORCH_STATE_RUNNING);
	CHECK_STR(states[1].worker, "second");
	orch_task_state_clear(&states[0]);
	orch_task_state_clear(&states[1]);
	orch_plan_free(plan);
	orch_store_free(store2);
	git_repository_free(repo2);
	teardown(&fx);
}

TEST(four_processes_incrementing_at_once_lose_no_increment)
{
	struct fixture fx;
	orch_plan *plan = make_plan("p", 1, 0);
	pid_t pids[4];

	setup(&fx);
	CHECK_INT(orch_store_create_plan(fx.store, plan, 0), 0);
	for (int c = 0; c < 4; c++) {
		pids[c] = fork();
		if (pids[c] == 0) {
			git_repository *repo = NULL;
			orch_store *store = NULL;
			int failed = 0;
			open_second(&repo, &store, &fx);
			for (int i = 0; i < 50 && !failed; i++)
				if (orch_store_update(store, "p", increment_cb,
				                      NULL, NULL) != 0) {
					fprintf(stderr, "child: %s\n",
					        orch_error_message());
					failed = 1;
				}
			orch_store_free(store);
			git_repository_free(repo);
			_exit(failed);
		}
	}
	for (int c = 0; c < 4; c++) {
		int status = -1;
		CHECK(pids[c] > 0);
		if (pids[c] > 0)
			waitpid(pids[c], &status, 0);
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	CHECK_INT(read_counter(fx.store, "p"), 200);
	CHECK_INT(history_length(&fx, "p"), 201);
	orch_plan_free(plan);
	teardown(&fx);
}

static int decline_cb(orch_txn *txn, void *payload)
{
	int *runs = payload;
	(*runs)++;
	(void)txn;
	return ORCH_ENOCHANGE;
}

static int same_state_cb(orch_txn *txn, void *payload)
{
	orch_task_state st;
	int error;

	(void)payload;
	orch_task_state_init(&st);
	if ((error = orch_txn_get_task(&st, txn, "t0")) == 0)
		error = orch_txn_put_task(txn, "t0", &st);
	orch_task_state_clear(&st);
	return error;
}

static int failing_cb(orch_txn *txn, void *payload)
{
	(void)payload;
	orch_txn_put_file(txn, "merges/x", "x", 1);
	orch_error_set("callback says no");
	return ORCH_EINVALID;
}

TEST(an_update_that_changes_nothing_commits_nothing)
{
	struct fixture fx;
	orch_plan *plan = make_plan("p", 1, 0);
	git_oid before, after, out;
	int runs = 0;

	setup(&fx);
	CHECK_INT(orch_store_create_plan(fx.store, plan, 0), 0);
	before = plan_head(&fx, "p");
	CHECK_INT(orch_store_update(fx.store, "p", decline_cb, &runs, &out),
	          ORCH_ENOCHANGE);
	CHECK_INT(runs, 1);
	CHECK(git_oid_equal(&out, &before));
	CHECK_INT(orch_store_update(fx.store, "p", same_state_cb, NULL, NULL),
	          ORCH_ENOCHANGE);
	CHECK_INT(orch_store_update(fx.store, "p", failing_cb, NULL, NULL),
	          ORCH_EINVALID);
	CHECK_STR(orch_error_message(), "callback says no");
	after = plan_head(&fx, "p");
	CHECK(git_oid_equal(&before, &after));
	CHECK_INT(
	    orch_store_update(fx.store, "nosuch", decline_cb, &runs, NULL),
	    ORCH_ENOTFOUND);
	CHECK(contains(orch_error_message(), "nosuch"));
	CHECK_INT(runs, 1);
	orch_plan_free(plan);
	teardown(&fx);
}

static int files_cb(orch_txn *txn, void *payload)
{
	orch_buf buf = {0};
	size_t big = ORCH_LOG_MAX + 10;
	char *log = orch_malloc(big);
	int error;

	(void)payload;
	memset(log, 'a', big);
	memcpy(log + big - 3, "end", 3);
	if ((error = orch_txn_put_log(txn, "t0", log, big)) < 0 ||
	    (error = orch_txn_put_file(txn, "merges/1.json", "{}\n", 3)) < 0)
		goto done;
	/* what was put reads back within the transaction */
	if ((error = orch_txn_read_file(&buf, txn, "merges/1.json")) < 0)
		goto done;
	if (strcmp(buf.ptr, "{}\n"))
		error = ORCH_ERROR;
	if (orch_txn_put_file(txn, "../escape", "x", 1) != ORCH_EINVALID ||
	    orch_txn_put_file(txn, "a//b", "x", 1) != ORCH_EINVALID ||
	    orch_txn_put_file(txn, ".git/config", "x", 1) != ORCH_EINVALID ||
	    orch_txn_put_task(txn, "nosuch", &(orch_task_state){0}) !=
	        ORCH_ENOTFOUND)
		error = ORCH_ERROR;
	orch_txn_message(txn, "files");
done:
	free(log);
	orch_buf_free(&buf);
	return error;
}

TEST(logs_keep_their_last_mebibyte_and_files_read_back)
{
	struct fixture fx;
	orch_plan *plan = make_plan("p", 1, 0);
	orch_buf buf = {0};

	setup(&fx);
	CHECK_INT(orch_store_create_plan(fx.store, plan, 0), 0);
	CHECK_INT(orch_store_update(fx.store, "p", files_cb, NULL, NULL), 0);
	CHECK_INT(orch_store_read_file(&buf, fx.store, "p", "logs/t0.log"), 0);
	CHECK_INT(buf.len, ORCH_LOG_MAX);
	CHECK(buf.len >= 3 && !memcmp(buf.ptr + buf.len - 3, "end", 3));
	orch_buf_clear(&buf);
	CHECK_INT(orch_store_read_file(&buf, fx.store, "p", "merges/1.json"),
	          0);
	CHECK_STR(buf.ptr, "{}\n");
	orch_buf_clear(&buf);
	CHECK_INT(orch_store_read_file(&buf, fx.store, "p", "merges/2.json"),
	          ORCH_ENOTFOUND);
	orch_buf_free(&buf);
	orch_plan_free(plan);
	teardown(&fx);
}

TEST(storing_again_replaces_a_plan_until_a_task_has_started)
{
	struct fixture fx;
	orch_plan *plan = make_plan("p", 2, 0);
	char message[256];
	git_oid first, second;
	git_commit *commit = NULL;

	setup(&fx);
	CHECK_INT(orch_store_create_plan(fx.store, plan, 0), 0);
	first = plan_head(&fx, "p");
	CHECK_INT(orch_store_create_plan(fx.store, plan, 0), ORCH_EEXISTS);
	CHECK(contains(orch_error_message(), "'p' already exists"));
	CHECK(orch_error_hint_text() != NULL);
	CHECK_INT(orch_store_create_plan(fx.store, plan, 1), 0);
	second = plan_head(&fx, "p");
	CHECK(!git_oid_equal(&first, &second));
	head_message(message, sizeof(message), &fx, "p");
	CHECK_STR(message, "plan replaced: 2 tasks\n");
	CHECK(git_commit_lookup(&commit, fx.repo, &second) == 0);
	CHECK(commit && git_commit_parentcount(commit) == 1 &&
	      git_oid_equal(git_commit_parent_id(commit, 0), &first));
	git_commit_free(commit);

	CHECK_INT(set_task(fx.store, "p", "t1", ORCH_STATE_RUNNING, 1, "local"),
	          0);
	second = plan_head(&fx, "p");
	CHECK_INT(orch_store_create_plan(fx.store, plan, 1), ORCH_EEXISTS);
	CHECK_STR(orch_error_message(),
	          "plan 'p' already exists and has started tasks");
	CHECK(contains(orch_error_hint_text(), "git orchestrate forget p"));
	first = plan_head(&fx, "p");
	CHECK(git_oid_equal(&first, &second));
	orch_plan_free(plan);
	teardown(&fx);
}

TEST(plans_are_listed_sorted_and_deleted_with_their_locks)
{
	struct fixture fx;
	orch_plan *b = make_plan("beta", 1, 0), *a = make_plan("alpha", 1, 0);
	orch_strvec names = {0};
	orch_lease lease = {0};
	git_oid held;
	git_reference *ref = NULL;

	setup(&fx);
	CHECK_INT(orch_store_list_plans(&names, fx.store), 0);
	CHECK_INT(names.count, 0);
	CHECK_INT(orch_store_create_plan(fx.store, b, 0), 0);
	CHECK_INT(orch_store_create_plan(fx.store, a, 0), 0);
	CHECK_INT(orch_store_list_plans(&names, fx.store), 0);
	CHECK_INT(names.count, 2);
	if (names.count == 2) {
		CHECK_STR(names.items[0], "alpha");
		CHECK_STR(names.items[1], "beta");
	}
	lease.host = "h";
	lease.pid = 1;
	lease.expires_ms = 1;
	CHECK_INT(
	    orch_lease_acquire(&held, fx.store, "beta", "task/t0", &lease), 0);
	CHECK_INT(orch_store_delete_plan(fx.store, "beta"), 0);
	CHECK(git_reference_lookup(&ref, fx.repo,
	                           "refs/orchestrate/plans/beta") ==
	      GIT_ENOTFOUND);
	CHECK(git_reference_lookup(&ref, fx.repo,
	                           "refs/orchestrate/locks/beta/task/t0") ==
	      GIT_ENOTFOUND);
	CHECK_INT(orch_store_delete_plan(fx.store, "beta"), ORCH_ENOTFOUND);
	orch_strvec_free(&names);
	CHECK_INT(orch_store_list_plans(&names, fx.store), 0);
	CHECK_INT(names.count, 1);
	CHECK_INT(
	    orch_store_load_plan(&(orch_plan *){NULL}, NULL, fx.store, "beta"),
	    ORCH_ENOTFOUND);
	CHECK(contains(orch_error_message(), "beta"));
	CHECK(contains(orch_error_hint_text(), "git orchestrate plan"));
	orch_strvec_free(&names);
	orch_plan_free(a);
	orch_plan_free(b);
	teardown(&fx);
}

/* ---- leases ---- */

TEST(a_lease_is_taken_once_renewed_and_released_by_compare_and_swap)
{
	struct fixture fx;
	orch_lease mine = {0}, theirs = {0}, seen = {0};
	git_oid held, other, seen_oid, stale;
	orch_strvec names = {0};

	setup(&fx);
	mine.host = "alpha";
	mine.pid = 4242;
	mine.token = "tok1";
	mine.expires_ms = 1700000060000;
	mine.task = "a";
	mine.worker = "local";
	mine.attempt = 1;
	mine.locator = "alpha:/tmp/pid";
	theirs = mine;
	theirs.pid = 9999;
	theirs.token = "tok2";

	CHECK_INT(orch_lease_acquire(&held, fx.store, "p", "task/a", &mine), 0);
	CHECK_INT(orch_lease_acquire(&other, fx.store, "p", "task/a", &theirs),
	          ORCH_ELOCKED);
	CHECK(contains(
	    orch_error_message(),
	    "task 'a' of plan 'p' is held by pid 4242 on alpha until"));
	CHECK_INT(orch_lease_read(&seen, &seen_oid, fx.store, "p", "task/a"),
	          0);
	CHECK(git_oid_equal(&seen_oid, &held));
	CHECK_STR(seen.host, "alpha");
	CHECK_INT(seen.pid, 4242);
	CHECK_STR(seen.token, "tok1");
	CHECK_INT(seen.expires_ms, 1700000060000);
	CHECK_STR(seen.task, "a");
	CHECK_STR(seen.worker, "local");
	CHECK_INT(seen.attempt, 1);
	CHECK_STR(seen.locator, "alpha:/tmp/pid");
	orch_lease_clear(&seen);

	/* renewing moves the lease; the old oid is now stale */
	stale = held;
	mine.expires_ms += 20000;
	CHECK_INT(orch_lease_renew(&held, fx.store, "p", "task/a", &mine), 0);
	CHECK(!git_oid_equal(&held, &stale));
	CHECK_INT(orch_lease_renew(&stale, fx.store, "p", "task/a", &mine),
	          ORCH_EMODIFIED);
	CHECK_INT(orch_lease_release(fx.store, "p", "task/a", &stale),
	          ORCH_EMODIFIED);
	CHECK_INT(
	    orch_lease_break(&other, fx.store, "p", "task/a", &stale, &theirs),
	    ORCH_EMODIFIED);
	CHECK_INT(orch_lease_break(NULL, fx.store, "p", "task/a", &stale, NULL),
	          ORCH_EMODIFIED);

	CHECK_INT(
	    orch_lease_acquire(&other, fx.store, "p", "file/a+b", &theirs), 0);
	CHECK_INT(orch_lease_list(&names, fx.store, "p"), 0);
	CHECK_INT(names.count, 2);
	if (names.count == 2) {
		CHECK_STR(names.items[0], "file/a+b");
		CHECK_STR(names.items[1], "task/a");
	}
	orch_strvec_free(&names);
	CHECK_INT(orch_lease_acquire(&stale, fx.store, "p", "file/a+b", &mine),
	          ORCH_ELOCKED);
	CHECK(contains(orch_error_message(),
	               "lock 'file/a+b' of plan 'p' is held by pid 9999"));

	/* a break against the current oid takes the lease over */
	CHECK_INT(
	    orch_lease_break(&other, fx.store, "p", "task/a", &held, &theirs),
	    0);
	CHECK_INT(orch_lease_release(fx.store, "p", "task/a", &held),
	          ORCH_EMODIFIED);
	CHECK_INT(orch_lease_release(fx.store, "p", "task/a", &other), 0);
	CHECK_INT(orch_lease_read(&seen, NULL, fx.store, "p", "task/a"),
	          ORCH_ENOTFOUND);
	CHECK_INT(orch_lease_acquire(&held, fx.store, "p", "task/a", &mine), 0);
	CHECK_INT(orch_lease_break(NULL, fx.store, "p", "task/a", &held, NULL),
	          0);
	CHECK_INT(orch_lease_list(&names, fx.store, "p"), 0);
	CHECK_INT(names.count, 1);
	orch_strvec_free(&names);
	CHECK_INT(orch_lease_acquire(&held, fx.store, "p", "bad..name", &mine),
	          ORCH_EINVALID);
	CHECK_INT(orch_lease_acquire(&held, fx.store, "../p", "task/a", &mine),
	          ORCH_EINVALID);
	teardown(&fx);
}

/* Create the lock file of `refname`, last modified `age` seconds ago. */
static void leave_lock_file(const struct fixture *fx, const char *refname,
                            int age)
{
	char path[512];
	struct timeval times[2];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/.git/%s.lock", fx->path, refname);
	for (char *slash = strchr(path + strlen(fx->path) + 1, '/'); slash;
	     slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		mkdir(path, 0755); /* the ref's directories, if missing */
		*slash = '/';
	}
	if (!(fp = fopen(path, "w")))
		abort();
	fclose(fp);
	gettimeofday(&times[0], NULL);
	times[0].tv_sec -= age;
	times[1] = times[0];
	if (utimes(path, times) < 0)
		abort();
}

static int lock_file_exists(const struct fixture *fx, const char *refname)
{
	char path[512];
	struct stat st;

	snprintf(path, sizeof(path), "%s/.git/%s.lock", fx->path, refname);
	return stat(path, &st) == 0;
}

TEST(a_lock_file_left_by_a_killed_process_is_removed_a_fresh_one_is_not)
{
	struct fixture fx;
	orch_plan *plan = make_plan("p", 1, 0);
	orch_lease lease = {0};
	git_oid held;

	setup(&fx);
	lease.host = "h";
	lease.pid = 1;
	CHECK_INT(orch_store_create_plan(fx.store, plan, 0), 0);

	/* fresh: someone is writing the ref right now */
	leave_lock_file(&fx, "refs/orchestrate/locks/p/task/t0", 0);
	CHECK_INT(orch_lease_acquire(&held, fx.store, "p", "task/t0", &lease),
	          ORCH_ELOCKED);
	CHECK(lock_file_exists(&fx, "refs/orchestrate/locks/p/task/t0"));

	/* stale: its writer died holding it */
	leave_lock_file(&fx, "refs/orchestrate/locks/p/task/t0", 3600);
	CHECK_INT(orch_lease_acquire(&held, fx.store, "p", "task/t0", &lease),
	          0);
	CHECK(!lock_file_exists(&fx, "refs/orchestrate/locks/p/task/t0"));

	leave_lock_file(&fx, "refs/orchestrate/plans/p", 3600);
	CHECK_INT(set_task(fx.store, "p", "t0", ORCH_STATE_RUNNING, 1, "w"), 0);
	CHECK(!lock_file_exists(&fx, "refs/orchestrate/plans/p"));

	leave_lock_file(&fx, ORCH_NOTES_REF, 3600);
	CHECK_INT(orch_notes_set(fx.store, &fx.first, "task: t0\n"), 0);
	CHECK(!lock_file_exists(&fx, ORCH_NOTES_REF));
	orch_plan_free(plan);
	teardown(&fx);
}

/* ---- notes ---- */

TEST(notes_are_set_read_and_overwritten)
{
	struct fixture fx;
	git_oid second;
	char *text = NULL;

	setup(&fx);
	CHECK(make_commit(&second, fx.repo, "second\n", NULL) == 0);
	CHECK_INT(orch_notes_read(&text, fx.store, &fx.first), ORCH_ENOTFOUND);
	CHECK_INT(
	    orch_notes_set(fx.store, &fx.first, "task: a\nduration-ms: 10\n"),
	    0);
	CHECK_INT(orch_notes_set(fx.store, &second, "task: b\n"), 0);
	CHECK_INT(orch_notes_read(&text, fx.store, &fx.first), 0);
	CHECK_STR(text, "task: a\nduration-ms: 10\n");
	free(text);
	CHECK_INT(
	    orch_notes_set(fx.store, &fx.first, "task: a\nduration-ms: 20\n"),
	    0);
	CHECK_INT(orch_notes_read(&text, fx.store, &fx.first), 0);
	CHECK_STR(text, "task: a\nduration-ms: 20\n");
	free(text);
	CHECK_INT(orch_notes_read(&text, fx.store, &second), 0);
	CHECK_STR(text, "task: b\n");
	free(text);
	teardown(&fx);
}

TEST(notes_added_by_racing_processes_are_all_kept)
{
	struct fixture fx;
	git_oid commits[30];
	pid_t pids[3];
	int found = 0;

	setup(&fx);
	for (int i = 0; i < 30; i++) {
		char message[32];
		snprintf(message, sizeof(message), "c%d\n", i);
		CHECK(make_commit(&commits[i], fx.repo, message, NULL) == 0);
	}
	for (int c = 0; c < 3; c++) {
		pids[c] = fork();
		if (pids[c] == 0) {
			git_repository *repo = NULL;
			orch_store *store = NULL;
			int failed = 0;
			open_second(&repo, &store, &fx);
			for (int i = c; i < 30 && !failed; i += 3)
				failed = orch_notes_set(store, &commits[i],
				                        "task: x\n") != 0;
			orch_store_free(store);
			git_repository_free(repo);
			_exit(failed);
		}
	}
	for (int c = 0; c < 3; c++) {
		int status = -1;
		if (pids[c] > 0)
			waitpid(pids[c], &status, 0);
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	for (int i = 0; i < 30; i++) {
		char *text = NULL;
		if (orch_notes_read(&text, fx.store, &commits[i]) == 0)
			found++;
		free(text);
	}
	CHECK_INT(found, 30);
	teardown(&fx);
}

static int count_note(const git_oid *blob, const git_oid *annotated,
                      void *payload)
{
	(void)blob;
	(void)annotated;
	++*(int *)payload;
	return 0;
}

/* The root tree of the notes ref: *flat blobs, *dirs xx/ trees. */
static void notes_root(const struct fixture *fx, size_t *flat, size_t *dirs)
{
	git_commit *commit = NULL;
	git_tree *tree = NULL;
	git_oid head;

	*flat = *dirs = 0;
	if (git_reference_name_to_id(&head, fx->repo, ORCH_NOTES_REF) < 0 ||
	    git_commit_lookup(&commit, fx->repo, &head) < 0 ||
	    git_commit_tree(&tree, commit) < 0)
		abort();
	for (size_t i = 0; i < git_tree_entrycount(tree); i++) {
		const git_tree_entry *e = git_tree_entry_byindex(tree, i);
		if (git_tree_entry_type(e) == GIT_OBJECT_TREE &&
		    strlen(git_tree_entry_name(e)) == 2)
			++*dirs;
		else
			++*flat;
	}
	git_tree_free(tree);
	git_commit_free(commit);
}

/* oids[0..n): ids of the blobs "PREFIX i", as commits to annotate. */
static void fake_oids(git_oid *oids, int n, const char *prefix)
{
	for (int i = 0; i < n; i++) {
		char name[32];
		snprintf(name, sizeof(name), "%s %d", prefix, i);
		git_odb_hash(&oids[i], name, strlen(name), GIT_OBJECT_BLOB);
	}
}

/* Notes of one call: one notes commit, flat or fanned as one at a time. */
TEST(notes_set_together_make_one_commit)
{
	struct fixture fx;
	git_oid oids[300], heads[3];
	const char *texts[300];
	git_commit *commit = NULL;
	size_t flat, dirs;
	int count = 0;
	char *text = NULL;

	setup(&fx);
	fake_oids(oids, 300, "together");
	for (int i = 0; i < 300; i++)
		texts[i] = i % 2 ? "task: odd\n" : "task: even\n";
	CHECK_INT(orch_notes_set_each(fx.store, oids, texts, 0), 0);
	CHECK(git_reference_name_to_id(&heads[0], fx.repo, ORCH_NOTES_REF) ==
	      GIT_ENOTFOUND);
	CHECK_INT(orch_notes_set_each(fx.store, oids, texts, 250), 0);
	CHECK(git_reference_name_to_id(&heads[0], fx.repo, ORCH_NOTES_REF) ==
	      0);
	CHECK(git_commit_lookup(&commit, fx.repo, &heads[0]) == 0);
	CHECK_INT(git_commit_parentcount(commit), 0);
	git_commit_free(commit);
	notes_root(&fx, &flat, &dirs);
	CHECK_INT(flat, 250);
	CHECK_INT(dirs, 0);
	/* past 256 together: fanned out in the same commit; one again */
	CHECK_INT(orch_notes_set_each(fx.store, oids + 248, texts + 248, 52),
	          0);
	CHECK(git_reference_name_to_id(&heads[1], fx.repo, ORCH_NOTES_REF) ==
	      0);
	CHECK(git_commit_lookup(&commit, fx.repo, &heads[1]) == 0);
	CHECK_INT(git_commit_parentcount(commit), 1);
	CHECK(git_oid_equal(git_commit_parent_id(commit, 0), &heads[0]));
	git_commit_free(commit);
	notes_root(&fx, &flat, &dirs);
	CHECK_INT(flat, 0);
	CHECK(dirs > 100 && dirs <= 256);
	CHECK_INT(git_note_foreach(fx.repo, ORCH_NOTES_REF, count_note, &count),
	          0);
	CHECK_INT(count, 300);
	for (int i = 0; i < 300; i++) {
		CHECK_INT(orch_notes_read(&text, fx.store, &oids[i]), 0);
		CHECK_STR(text, texts[i]);
		free(text);
	}
	/* into the fanned tree: two of one subtree, one replaced */
	texts[0] = "task: again\n";
	oids[1] = oids[0];
	oids[1].id[19] ^= 1;
	CHECK_INT(orch_notes_set_each(fx.store, oids, texts, 2), 0);
	CHECK_INT(orch_notes_read(&text, fx.store, &oids[0]), 0);
	CHECK_STR(text, "task: again\n");
	free(text);
	CHECK_INT(orch_notes_read(&text, fx.store, &oids[1]), 0);
	CHECK_STR(text, "task: odd\n");
	free(text);
	count = 0;
	CHECK_INT(git_note_foreach(fx.repo, ORCH_NOTES_REF, count_note, &count),
	          0);
	CHECK_INT(count, 301);
	teardown(&fx);
}

TEST(notes_fan_out_past_256_as_git_notes_does)
{
	struct fixture fx;
	git_oid oids[300];
	size_t flat, dirs;
	int count = 0;
	char *text = NULL;

	setup(&fx);
	fake_oids(oids, 300, "annotated");
	for (int i = 0; i < 256; i++)
		CHECK_INT(orch_notes_set(fx.store, &oids[i], "task: a\n"), 0);
	notes_root(&fx, &flat, &dirs);
	CHECK_INT(flat, 256);
	CHECK_INT(dirs, 0);
	/* the 257th moves every note into xx/ subtrees */
	for (int i = 256; i < 300; i++)
		CHECK_INT(orch_notes_set(fx.store, &oids[i], "task: b\n"), 0);
	notes_root(&fx, &flat, &dirs);
	CHECK_INT(flat, 0);
	CHECK(dirs > 100 && dirs <= 256);
	CHECK_INT(orch_notes_set(fx.store, &oids[3], "task: c\n"), 0);
	CHECK_INT(git_note_foreach(fx.repo, ORCH_NOTES_REF, count_note, &count),
	          0);
	CHECK_INT(count, 300);
	CHECK_INT(orch_notes_read(&text, fx.store, &oids[3]), 0);
	CHECK_STR(text, "task: c\n");
	free(text);
	CHECK_INT(orch_notes_read(&text, fx.store, &oids[299]), 0);
	CHECK_STR(text, "task: b\n");
	free(text);
	CHECK_INT(orch_notes_read(&text, fx.store, &oids[0]), 0);
	CHECK_STR(text, "task: a\n");
	free(text);
	teardown(&fx);
}

TEST(a_flat_note_beside_subtrees_is_replaced_not_doubled)
{
	struct fixture fx;
	git_oid oids[300], blob, head;
	git_commit *parent = NULL;
	git_note *note = NULL;
	git_signature *sig = NULL;
	size_t flat, dirs;
	int count = 0;
	char *text = NULL;
	int used[256] = {0};

	setup(&fx);
	fake_oids(oids, 299, "annotated");
	for (int i = 0; i < 299; i++) {
		used[oids[i].id[0]] = 1;
		CHECK_INT(orch_notes_set(fx.store, &oids[i], "old\n"), 0);
	}
	/* libgit2 writes a note flat when its xx/ subtree is missing: one
	 * with a prefix no other note has */
	for (int k = 299;; k++) {
		char name[32];
		snprintf(name, sizeof(name), "annotated %d", k);
		git_odb_hash(&oids[299], name, strlen(name), GIT_OBJECT_BLOB);
		if (!used[oids[299].id[0]])
			break;
	}
	CHECK(git_signature_now(&sig, "Unit", "unit@example.com") == 0);
	CHECK(git_reference_name_to_id(&head, fx.repo, ORCH_NOTES_REF) == 0);
	CHECK(git_commit_lookup(&parent, fx.repo, &head) == 0);
	CHECK(git_note_commit_create(&head, &blob, fx.repo, parent, sig, sig,
	                             &oids[299], "flat\n", 1) == 0);
	CHECK(git_reference_create(NULL, fx.repo, ORCH_NOTES_REF, &head, 1,
	                           NULL) == 0);
	notes_root(&fx, &flat, &dirs);
	CHECK_INT(flat, 1);
	CHECK_INT(orch_notes_set(fx.store, &oids[299], "new\n"), 0);
	notes_root(&fx, &flat, &dirs);
	CHECK_INT(flat, 0);
	CHECK_INT(git_note_foreach(fx.repo, ORCH_NOTES_REF, count_note, &count),
	          0);
	CHECK_INT(count, 300);
	CHECK_INT(orch_notes_read(&text, fx.store, &oids[299]), 0);
	CHECK_STR(text, "new\n");
	free(text);
	git_note_free(note);
	git_commit_free(parent);
	git_signature_free(sig);
	teardown(&fx);
}

TEST(learned_durations_are_the_median_of_the_notes_per_task)
{
	static const struct {
		const char *note;
	} notes[] = {
	    {"plan: p\ntask: t0\nduration-ms: 100\n"},
	    {"plan: q\ntask: t0\nduration-ms: 300\n"},
	    {"task: t0\nduration-ms: 200\nexit: 0\n"},
	    {"task: t1\nduration-ms: 10\n"},
	    {"task: t1\r\nduration-ms: 30\r\n"},
	    {"task: t9\nduration-ms: 5\n"},    /* not in the plan */
	    {"task: t2\nduration-ms: soon\n"}, /* not a number */
	};
	struct fixture fx;
	orch_plan *plan = make_plan("p", 4, 0);
	int64_t durations[4];

	setup(&fx);
	CHECK_INT(orch_notes_learned_durations(durations, fx.store, plan), 0);
	CHECK_INT(durations[0], -1);
	for (size_t i = 0; i < sizeof(notes) / sizeof(notes[0]); i++) {
		git_oid commit;
		char message[32];
		snprintf(message, sizeof(message), "n%zu\n", i);
		CHECK(make_commit(&commit, fx.repo, message, NULL) == 0);
		CHECK_INT(orch_notes_set(fx.store, &commit, notes[i].note), 0);
	}
	CHECK_INT(orch_notes_learned_durations(durations, fx.store, plan), 0);
	CHECK_INT(durations[0], 200);
	CHECK_INT(durations[1], 20);
	CHECK_INT(durations[2], -1);
	CHECK_INT(durations[3], -1);
	orch_plan_free(plan);
	teardown(&fx);
}

/* ---- scale ---- */

/* Start task `payload`, which must be ready. */
static int touch_one_cb(orch_txn *txn, void *payload)
{
	const char *id = payload;
	orch_task_state st;
	int error;

	orch_task_state_init(&st);
	if ((error = orch_txn_get_task(&st, txn, id)) < 0)
		goto done;
	if (st.state != ORCH_STATE_READY) {
		error = orch_error_set("%s is not ready", id);
		goto done;
	}
	st.state = ORCH_STATE_RUNNING;
	st.attempts = 1;
	error = orch_txn_put_task(txn, id, &st);
done:
	orch_task_state_clear(&st);
	return error;
}

#if defined(__SANITIZE_ADDRESS__)
#define SLOWDOWN 8
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SLOWDOWN 8
#endif
#endif
#ifndef SLOWDOWN
#define SLOWDOWN 1
#endif

/* Every state of `plan` read whole and through `reader` is the same. */
static int same_as_full_read(struct fixture *fx, const orch_plan *plan,
                             orch_task_state *kept, orch_states_reader *reader)
{
	orch_task_state *full = orch_calloc(plan->ntasks, sizeof(*full));
	int same = 1;

	for (size_t i = 0; i < plan->ntasks; i++)
		orch_task_state_init(&full[i]);
	if (orch_store_read_states(full, NULL, fx->store, plan) < 0 ||
	    orch_store_read_states_since(kept, NULL, fx->store, plan, reader) <
	        0)
		abort();
	for (size_t i = 0; i < plan->ntasks; i++) {
		char *a = orch_task_state_to_json(&full[i]);
		char *b = orch_task_state_to_json(&kept[i]);
		if (strcmp(a, b))
			same = 0;
		free(a);
		free(b);
		orch_task_state_clear(&full[i]);
	}
	free(full);
	return same;
}

static void reader_follows_updates(size_t n)
{
	struct fixture fx;
	orch_plan *plan;
	orch_states_reader *reader;
	orch_task_state *kept;
	char id[32];
	unsigned seed = 7;

	setup(&fx);
	plan = make_plan("big", n, 0);
	CHECK_INT(orch_store_create_plan(fx.store, plan, 0), 0);
	reader = orch_states_reader_new(plan);
	kept = orch_calloc(n, sizeof(*kept));
	for (size_t i = 0; i < n; i++)
		orch_task_state_init(&kept[i]);
	CHECK(same_as_full_read(&fx, plan, kept, reader));
	{
		/* the first read changes every task */
		size_t count;
		orch_states_reader_changed(reader, &count);
		CHECK_INT(count, n);
	}
	for (int round = 0; round < 25; round++) {
		seed = seed * 1103515245u + 12345u;
		snprintf(id, sizeof(id), "t%zu", (size_t)(seed >> 8) % n);
		CHECK_INT(
		    set_task(fx.store, "big", id,
		             round % 2 ? ORCH_STATE_DONE : ORCH_STATE_RUNNING,
		             round, round % 3 ? "w1" : "w2"),
		    0);
		CHECK(same_as_full_read(&fx, plan, kept, reader));
		/* what changed is the one task set */
		{
			size_t count;
			const size_t *changed =
			    orch_states_reader_changed(reader, &count);
			CHECK_INT(count, 1);
			CHECK_STR(plan->tasks[changed[0]].id, id);
		}
		/* read again with nothing changed: the same */
		CHECK(same_as_full_read(&fx, plan, kept, reader));
		{
			size_t count;
			orch_states_reader_changed(reader, &count);
			CHECK_INT(count, 0);
		}
	}
	for (size_t i = 0; i < n; i++)
		orch_task_state_clear(&kept[i]);
	free(kept);
	orch_states_reader_free(reader);
	orch_plan_free(plan);
	teardown(&fx);
}

TEST(a_reader_of_what_changed_reads_what_a_whole_read_reads)
{
	reader_follows_updates(12);                      /* tasks/ flat */
	reader_follows_updates(ORCH_STORE_FLAT_MAX + 7); /* fanned out */
}

TEST(a_plan_of_100000_tasks_is_stored_quickly_and_updated_by_small_trees)
{
	struct fixture fx;
	orch_plan *plan = make_plan("huge", 100000, 0);
	orch_task_state *states = orch_calloc(plan->ntasks, sizeof(*states));
	git_tree *before = NULL, *after = NULL;
	int64_t start, elapsed;
	size_t changed = 0;
	char path[256];

	setup(&fx);
	start = orch_monotonic_ms();
	CHECK_INT(orch_store_create_plan(fx.store, plan, 0), 0);
	elapsed = orch_monotonic_ms() - start;
	CHECK(elapsed < 2000 * SLOWDOWN);
	before = head_subtree(&fx, "huge", "tasks");
	CHECK(before != NULL);
	if (before)
		CHECK_INT(git_tree_entrycount(before), 256);

	/* the first update of a store also parses plan.json: not timed */
	CHECK_INT(
	    orch_store_update(fx.store, "huge", touch_one_cb, "t77777", NULL),
	    0);
	after = head_subtree(&fx, "huge", "tasks");
	CHECK(after != NULL);
	if (before && after) {
		CHECK_INT(git_tree_entrycount(after), 256);
		for (size_t i = 0; i < 256; i++)
			changed += !git_oid_equal(
			    git_tree_entry_id(
			        git_tree_entry_byindex(before, i)),
			    git_tree_entry_id(
			        git_tree_entry_byindex(after, i)));
		CHECK_INT(changed, 1);
	}
	CHECK_INT(orch_store_task_path(path, sizeof(path), plan, "t77777"), 0);
	CHECK(!strncmp(path, "tasks/", 6) && path[8] == '/');
	start = orch_monotonic_ms();
	CHECK_INT(
	    orch_store_update(fx.store, "huge", touch_one_cb, "t12345", NULL),
	    0);
	elapsed = orch_monotonic_ms() - start;
	CHECK(elapsed < 200 * SLOWDOWN);

	for (size_t i = 0; i < plan->ntasks; i++)
		orch_task_state_init(&states[i]);
	start = orch_monotonic_ms();
	CHECK_INT(orch_store_read_states(states, NULL, fx.store, plan), 0);
	elapsed = orch_monotonic_ms() - start;
	CHECK(elapsed < 2000 * SLOWDOWN);
	CHECK_INT(states[77777].state, ORCH_STATE_RUNNING);
	CHECK_INT(states[77777].attempts, 1);
	CHECK_INT(states[12345].state, ORCH_STATE_RUNNING);
	CHECK_INT(states[0].state, ORCH_STATE_READY);
	CHECK_INT(states[99999].state, ORCH_STATE_READY);
	for (size_t i = 0; i < plan->ntasks; i++)
		orch_task_state_clear(&states[i]);
	free(states);
	git_tree_free(before);
	git_tree_free(after);
	orch_plan_free(plan);
	teardown(&fx);
}

/* clang-format off */
static const unit_test tests[] = {
	T(a_default_state_is_only_its_name),
	T(state_members_are_read_in_any_order_the_first_of_duplicates),
	T(resource_use_is_written_only_when_known_and_read_back),
	T(a_full_state_round_trips_in_a_fixed_key_order),
	T(first_start_and_task_time_are_written_only_when_not_the_last_attempts),
	T(a_bad_state_document_is_refused),
	T(state_names_parse_back_and_final_states_are_known),
	T(a_stored_plan_loads_back_with_one_commit_of_history),
	T(a_new_plan_has_independent_tasks_ready_and_the_others_pending),
	T(each_update_is_one_commit_with_its_message),
	T(changes_of_one_batch_share_one_commit_naming_each_change),
	T(task_paths_are_flat_up_to_the_limit_then_fanned_out_by_fnv1a),
	T(a_racing_update_reruns_the_callback_and_loses_nothing),
	T(four_processes_incrementing_at_once_lose_no_increment),
	T(an_update_that_changes_nothing_commits_nothing),
	T(logs_keep_their_last_mebibyte_and_files_read_back),
	T(storing_again_replaces_a_plan_until_a_task_has_started),
	T(plans_are_listed_sorted_and_deleted_with_their_locks),
	T(a_lease_is_taken_once_renewed_and_released_by_compare_and_swap),
	T(a_lock_file_left_by_a_killed_process_is_removed_a_fresh_one_is_not),
	T(notes_are_set_read_and_overwritten),
	T(notes_added_by_racing_processes_are_all_kept),
	T(notes_set_together_make_one_commit),
	T(notes_fan_out_past_256_as_git_notes_does),
	T(a_flat_note_beside_subtrees_is_replaced_not_doubled),
	T(learned_durations_are_the_median_of_the_notes_per_task),
	T(a_plan_of_100000_tasks_is_stored_quickly_and_updated_by_small_trees),
	T(a_reader_of_what_changed_reads_what_a_whole_read_reads),
};
/* clang-format on */

UNIT_MAIN(tests)
