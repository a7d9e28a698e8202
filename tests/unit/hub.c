#include "unit.h"
#include "error.h"
#include "plan.h"
#include "remote.h"
#include "store.h"
#include "util.h"

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include <git2.h>

/*
 * A plan shared on a bare hub (SPEC 8, run --remote): several processes,
 * each in a repository of its own, update the hub's plan ref through
 * orch_store_update in remote mode, where a transition is a
 * compare-and-swap push and a rejected one is re-applied on the hub's new
 * state. None of the transitions may be lost: neither when the hub is
 * updated in-process (a hub on this machine without hooks), nor through
 * git push (a hub with a receive hook).
 */

#define RACERS 4
/* both tests together stay under tests/run.sh's 300 s limit */
#define DEADLINE_MS (130 * 1000)
#define PLAN_REF "refs/orchestrate/plans/p"

/* A plan "p" of two independent tasks, put together by hand. */
static orch_plan *make_plan(void)
{
	orch_plan *plan = orch_calloc(1, sizeof(*plan));
	char id[32];

	plan->name = orch_strdup("p");
	plan->base = orch_strdup("main");
	plan->base_commit =
	    orch_strdup("0123456789012345678901234567890123456789");
	plan->retries = 0;
	plan->tasks = orch_calloc(3, sizeof(orch_task));
	plan->ntasks = 2;
	for (size_t i = 0; i < plan->ntasks; i++) {
		orch_task *task = &plan->tasks[i];
		snprintf(id, sizeof(id), "t%zu", i);
		task->id = orch_strdup(id);
		task->run = orch_strdup("true");
		task->priority = ORCH_PRIORITY_MEDIUM;
		task->duration_ms = -1;
		task->retries = -1;
		task->timeout_ms = -1;
	}
	if (orch_plan_reindex(plan) < 0)
		abort();
	return plan;
}

/* The number in file "counter" of a state tree: 0 when absent, -1 if bad. */
static long parse_counter(const orch_buf *buf)
{
	char text[32];
	char *end;
	long value;

	if (buf->len == 0 || buf->len >= sizeof(text))
		return -1;
	memcpy(text, buf->ptr, buf->len);
	text[buf->len] = '\0';
	errno = 0;
	value = strtol(text, &end, 10);
	if (errno || end == text || (*end && *end != '\n'))
		return -1;
	return value;
}

struct bump {
	int racer;
	int round;
};

/* One transition: counter + 1. Decides only from what `txn` reads. */
static int bump_counter(orch_txn *txn, void *payload)
{
	struct bump *b = payload;
	orch_buf buf = {0};
	char text[32];
	long value = 0;
	int error = orch_txn_read_file(&buf, txn, "counter");

	if (error == 0)
		value = parse_counter(&buf);
	else if (error != ORCH_ENOTFOUND)
		goto done;
	if (value < 0) {
		error = orch_error_set("unreadable counter");
		goto done;
	}
	snprintf(text, sizeof(text), "%ld\n", value + 1);
	if ((error = orch_txn_put_file(txn, "counter", text, strlen(text))) < 0)
		goto done;
	orch_txn_message(txn, "racer %d: round %d: counter %ld", b->racer,
	                 b->round, value + 1);
done:
	orch_buf_free(&buf);
	return error;
}

/*
 * A racer, in a child process: its own non-bare repository in `dir`,
 * attached to plan "p" on `hub`, `rounds` updates. Exits 0 when every
 * update committed, 1 otherwise (the reason on stderr).
 */
static void race(int racer, const char *dir, const char *hub, int rounds)
{
	git_repository *repo = NULL;
	orch_store *store = NULL;
	struct bump b = {racer, 0};
	int status = 1;

	if (git_repository_init(&repo, dir, 0) < 0 ||
	    orch_store_open(&store, repo) < 0) {
		fprintf(stderr, "racer %d: cannot open %s\n", racer, dir);
		goto done;
	}
	if (orch_store_attach_remote(store, hub, "p") < 0) {
		fprintf(stderr, "racer %d: attach: %s\n", racer,
		        orch_error_message());
		goto done;
	}
	for (b.round = 0; b.round < rounds; b.round++) {
		int error =
		    orch_store_update(store, "p", bump_counter, &b, NULL);
		if (error != 0) {
			fprintf(stderr, "racer %d: round %d: %d: %s\n", racer,
			        b.round, error, orch_error_message());
			goto done;
		}
	}
	status = 0;
done:
	orch_store_free(store);
	git_repository_free(repo);
	git_libgit2_shutdown();
	exit(status);
}

/* Commits on the first-parent line from `oid`; -1 on a merge commit. */
static int history_length(git_repository *repo, const git_oid *start)
{
	git_commit *commit = NULL;
	git_oid oid = *start;
	int count = 0;

	while (!git_oid_is_zero(&oid)) {
		if (git_commit_lookup(&commit, repo, &oid) < 0)
			return -1;
		count++;
		if (git_commit_parentcount(commit) > 1)
			count = -1;
		else if (git_commit_parentcount(commit) == 1)
			git_oid_cpy(&oid, git_commit_parent_id(commit, 0));
		else
			memset(&oid, 0, sizeof(oid));
		git_commit_free(commit);
		commit = NULL;
		if (count < 0)
			return -1;
	}
	return count;
}

/* The "counter" file of the hub's plan ref, or -1. */
static long hub_counter(git_repository *hubrepo, const git_oid *head)
{
	git_commit *commit = NULL;
	git_tree *tree = NULL;
	git_tree_entry *entry = NULL;
	git_blob *blob = NULL;
	orch_buf buf = {0};
	long value = -1;

	if (git_commit_lookup(&commit, hubrepo, head) < 0 ||
	    git_commit_tree(&tree, commit) < 0 ||
	    git_tree_entry_bypath(&entry, tree, "counter") < 0 ||
	    git_blob_lookup(&blob, hubrepo, git_tree_entry_id(entry)) < 0)
		goto done;
	orch_buf_put(&buf, git_blob_rawcontent(blob),
	             (size_t)git_blob_rawsize(blob));
	value = parse_counter(&buf);
done:
	orch_buf_free(&buf);
	git_blob_free(blob);
	git_tree_entry_free(entry);
	git_tree_free(tree);
	git_commit_free(commit);
	return value;
}

/*
 * Wait for the racers until the deadline; kill and reap the rest then.
 * Returns how many exited 0.
 */
static int wait_racers(pid_t *pids, int n)
{
	int64_t deadline = orch_monotonic_ms() + DEADLINE_MS;
	int left = n, ok = 0;

	while (left > 0 && orch_monotonic_ms() < deadline) {
		struct timespec tick = {0, 50 * 1000000L};
		for (int i = 0; i < n; i++) {
			int status;
			if (pids[i] <= 0 ||
			    waitpid(pids[i], &status, WNOHANG) != pids[i])
				continue;
			if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
				ok++;
			pids[i] = 0;
			left--;
		}
		if (left > 0)
			nanosleep(&tick, NULL);
	}
	for (int i = 0; i < n; i++) {
		if (pids[i] <= 0)
			continue;
		fprintf(stderr, "racer %d: still running at the deadline\n", i);
		kill(pids[i], SIGKILL);
		waitpid(pids[i], NULL, 0);
	}
	return ok;
}

/*
 * RACERS processes, `rounds` transitions each, on a fresh hub in `name`;
 * `hook`: with a post-receive hook (so pushes go through git).
 */
static void race_on_hub(const char *name, int rounds, int hook)
{
	char hub[300], seed[300], dir[300];
	const char *tmp = unit_tmpdir();
	git_repository *hubrepo = NULL, *seedrepo = NULL;
	orch_store *store = NULL;
	orch_plan *plan = make_plan();
	pid_t pids[RACERS] = {0};
	git_oid initial, final;
	orch_remote_update u = {PLAN_REF, NULL, NULL, 0};
	int64_t started;
	int initial_length, ok;

	git_libgit2_init();
	snprintf(hub, sizeof(hub), "%s/%s.git", tmp, name);
	snprintf(seed, sizeof(seed), "%s/%s-seed", tmp, name);
	if (git_repository_init(&hubrepo, hub, 1) < 0 ||
	    git_repository_init(&seedrepo, seed, 0) < 0 ||
	    orch_store_open(&store, seedrepo) < 0)
		abort();
	if (hook) {
		char path[400];
		FILE *f;
		snprintf(path, sizeof(path), "%s/hooks/post-receive", hub);
		if (!(f = fopen(path, "w")) ||
		    fputs("#!/bin/sh\ncat >>pushes\n", f) < 0 ||
		    fclose(f) != 0 || chmod(path, 0755) < 0)
			abort();
	}
	CHECK_INT(orch_store_create_plan(store, plan, 0), 0);
	CHECK_INT(git_reference_name_to_id(&initial, seedrepo, PLAN_REF), 0);
	u.new_oid = &initial;
	CHECK_INT(orch_remote_push(seedrepo, hub, &u, 1), 0);
	initial_length = history_length(hubrepo, &initial);
	CHECK(initial_length >= 1);
	orch_store_free(store);
	store = NULL;
	git_repository_free(seedrepo);
	seedrepo = NULL;
	git_repository_free(hubrepo);
	hubrepo = NULL;
	if (unit_failed)
		goto done;

	fflush(stdout);
	fflush(stderr);
	started = orch_monotonic_ms();
	for (int i = 0; i < RACERS; i++) {
		snprintf(dir, sizeof(dir), "%s/%s-racer%d", tmp, name, i);
		pids[i] = fork();
		if (pids[i] == 0)
			race(i, dir, hub, rounds);
		CHECK(pids[i] > 0);
	}
	ok = wait_racers(pids, RACERS);
	fprintf(stderr,
	        "# hub: %d transitions from %d processes in %.1f s (%s)\n",
	        RACERS * rounds, RACERS,
	        (double)(orch_monotonic_ms() - started) / 1000.0,
	        hook ? "git push" : "in-process");
	CHECK_INT(ok, RACERS);

	if (git_repository_open(&hubrepo, hub) < 0)
		abort();
	CHECK_INT(git_reference_name_to_id(&final, hubrepo, PLAN_REF), 0);
	CHECK_INT(hub_counter(hubrepo, &final), RACERS * rounds);
	if (hook) {
		/* every transition went through the hook: one line each */
		char path[400], line[512];
		int lines = 0;
		FILE *f;
		snprintf(path, sizeof(path), "%s/pushes", hub);
		CHECK((f = fopen(path, "r")) != NULL);
		while (f && fgets(line, sizeof(line), f))
			lines += strstr(line, PLAN_REF) != NULL;
		if (f)
			fclose(f);
		CHECK(lines >= RACERS * rounds);
	}
	CHECK_INT(history_length(hubrepo, &final),
	          initial_length + RACERS * rounds);
done:
	orch_store_free(store);
	git_repository_free(seedrepo);
	git_repository_free(hubrepo);
	orch_plan_free(plan);
	git_libgit2_shutdown();
}

TEST(a_thousand_transitions_racing_from_four_processes_lose_none)
{
	race_on_hub("plain", 250, 0);
}

TEST(transitions_racing_through_git_push_lose_none)
{
	race_on_hub("hooked", 25, 1);
}

static const unit_test tests[] = {
    T(a_thousand_transitions_racing_from_four_processes_lose_none),
    T(transitions_racing_through_git_push_lose_none),
};

UNIT_MAIN(tests)
