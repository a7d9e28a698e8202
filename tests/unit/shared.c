/* Unit tests of lib/shared.c: the share file, its findings, their union. */
#include "unit.h"

#include "error.h"
#include "plan.h"
#include "shared.h"
#include "store.h"

#include <git2.h>

/* The findings of `text` joined with "|" (caller frees). */
static char *split_joined(const char *text)
{
	orch_strvec findings = {0};
	orch_buf out = {0};

	if (orch_shared_split(&findings, text, strlen(text), "f") < 0)
		return NULL;
	orch_buf_puts(&out, "");
	for (size_t i = 0; i < findings.count; i++)
		orch_buf_printf(&out, "%s%s", i ? "|" : "", findings.items[i]);
	orch_strvec_free(&findings);
	return orch_buf_detach(&out);
}

TEST(findings_are_paragraphs_separated_by_blank_lines)
{
	static const struct {
		const char *text, *expect;
	} cases[] = {
	    {"", ""},
	    {"one", "one"},
	    {"one\n", "one"},
	    {"one\ntwo\n", "one\ntwo"},
	    {"one\n\ntwo\n\n", "one|two"},
	    {"\n\n  \none\n \t\r\n\ntwo", "one|two"},
	    {"  indented ; # kept\n\ttab\n", "  indented ; # kept\n\ttab"},
	    {"a\r\nb\r\n\r\nc", "a\r\nb\r|c"}, /* lines as they are */
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *got = split_joined(cases[i].text);
		CHECK_STR(got, cases[i].expect);
		free(got);
	}
}

TEST(a_share_file_over_the_limit_or_with_a_nul_is_refused_whole)
{
	orch_strvec findings = {0};
	char *big = malloc(ORCH_SHARED_MAX + 2);

	memset(big, 'x', ORCH_SHARED_MAX + 1);
	big[ORCH_SHARED_MAX + 1] = '\0';
	CHECK_INT(
	    orch_shared_split(&findings, big, ORCH_SHARED_MAX + 1, "the file"),
	    ORCH_EINVALID);
	CHECK(strstr(orch_error_message(), "65537 bytes") != NULL);
	CHECK_INT(orch_shared_split(&findings, big, ORCH_SHARED_MAX, "f"), 0);
	CHECK_INT(findings.count, 1);
	orch_strvec_free(&findings);
	CHECK_INT(orch_shared_split(&findings, "a\0b", 3, "f"), ORCH_EINVALID);
	CHECK_INT(findings.count, 0);
	free(big);
}

TEST(share_appends_a_paragraph_and_refuses_what_would_not_be_one)
{
	char path[512];
	orch_buf got = {0};
	FILE *f;

	snprintf(path, sizeof(path), "%s/share", unit_tmpdir());
	CHECK(orch_shared_append(path, "x") < 0); /* no such file */
	f = fopen(path, "w");
	fclose(f);
	CHECK_INT(orch_shared_append(path, "first\nsecond line\n\n"), 0);
	CHECK_INT(orch_shared_append(path, "again"), 0);
	CHECK_INT(orch_shared_append(path, ""), ORCH_EINVALID);
	CHECK_INT(orch_shared_append(path, "\n"), ORCH_EINVALID);
	CHECK_INT(orch_shared_append(path, "a\n\nb"), ORCH_EINVALID);
	CHECK_INT(orch_shared_append(path, "a\n  \nb"), ORCH_EINVALID);
	CHECK_INT(orch_shared_append(path, "\nlead"), ORCH_EINVALID);
	CHECK_INT(orch_read_file(&got, path), 0);
	CHECK_STR(got.ptr, "first\nsecond line\n\nagain\n\n");
	orch_buf_free(&got);
}

TEST(share_refuses_to_grow_the_file_over_the_limit)
{
	char path[512], *text = malloc(ORCH_SHARED_MAX);
	struct stat st;
	FILE *f;

	snprintf(path, sizeof(path), "%s/share", unit_tmpdir());
	f = fopen(path, "w");
	fclose(f);
	memset(text, 'y', ORCH_SHARED_MAX - 3);
	text[ORCH_SHARED_MAX - 3] = '\0';
	/* exactly the limit with its blank line */
	CHECK_INT(orch_shared_append(path, text), 0);
	CHECK_INT(orch_shared_append(path, "z"), ORCH_EINVALID);
	CHECK(stat(path, &st) == 0 && st.st_size == ORCH_SHARED_MAX - 1);
	free(text);
}

TEST(the_union_keeps_the_first_then_what_only_the_second_has)
{
	static const struct {
		const char *first, *second, *expect;
	} cases[] = {
	    {"", "", ""},
	    {"a\n", "", "a\n"},
	    {"", "a\n", "a\n"},
	    {"a\nb\n", "a\nc\n", "a\nb\nc\n"},
	    {"a\nb", "b\nc", "a\nb\nc\n"},
	    {"a\nb\n", "b\na\n", "a\nb\n"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		orch_buf out = {0};
		orch_shared_union(&out, cases[i].first, strlen(cases[i].first),
		                  cases[i].second, strlen(cases[i].second));
		orch_buf_puts(&out, "");
		CHECK_STR(out.ptr, cases[i].expect);
		orch_buf_free(&out);
	}
}

TEST(the_context_names_each_finding_by_task_and_attempt)
{
	orch_finding items[2] = {
	    {"schema", 1, "vps1", 1000, "uses UUID keys"},
	    {"api", 2, NULL, 2000, "two\nlines"},
	};
	orch_findings findings = {items, 2}, none = {NULL, 0};
	orch_buf out = {0};

	orch_shared_format_context(&out, "p", &none);
	CHECK_INT(out.len, 0);
	orch_shared_format_context(&out, "p", &findings);
	CHECK_STR(out.ptr,
	          "# Findings shared by tasks of plan p so far\n"
	          "\n## schema, attempt 1 (on vps1)\n\nuses UUID keys\n"
	          "\n## api, attempt 2\n\ntwo\nlines\n");
	orch_buf_free(&out);
}

/* A repository with one commit and a stored plan of `n` tasks t0... */
struct fixture {
	git_repository *repo;
	orch_store *store;
	orch_plan *plan;
};

static void setup(struct fixture *fx, size_t n)
{
	git_signature *sig = NULL;
	git_treebuilder *bld = NULL;
	git_tree *tree = NULL;
	git_oid tree_oid, commit;
	char id[32];

	git_libgit2_init();
	if (git_repository_init(&fx->repo, unit_tmpdir(), 0) < 0 ||
	    git_signature_new(&sig, "Unit", "unit@example.com", 1700000000, 0) <
	        0 ||
	    git_treebuilder_new(&bld, fx->repo, NULL) < 0 ||
	    git_treebuilder_write(&tree_oid, bld) < 0 ||
	    git_tree_lookup(&tree, fx->repo, &tree_oid) < 0 ||
	    git_commit_create(&commit, fx->repo, "HEAD", sig, sig, NULL, "c\n",
	                      tree, 0, NULL) < 0 ||
	    orch_store_open(&fx->store, fx->repo) < 0)
		abort();
	git_tree_free(tree);
	git_treebuilder_free(bld);
	git_signature_free(sig);
	fx->plan = orch_calloc(1, sizeof(*fx->plan));
	fx->plan->name = orch_strdup("p");
	fx->plan->base = orch_strdup("main");
	fx->plan->base_commit = orch_strdup(git_oid_tostr_s(&commit));
	fx->plan->retries = 2;
	fx->plan->tasks = orch_calloc(n + 1, sizeof(orch_task));
	fx->plan->ntasks = n;
	for (size_t i = 0; i < n; i++) {
		orch_task *task = &fx->plan->tasks[i];
		snprintf(id, sizeof(id), "t%zu", i);
		task->id = orch_strdup(id);
		task->run = orch_strdup("true");
		task->priority = ORCH_PRIORITY_MEDIUM;
		task->duration_ms = -1;
		task->retries = -1;
		task->timeout_ms = -1;
	}
	if (orch_plan_reindex(fx->plan) < 0 ||
	    orch_store_create_plan(fx->store, fx->plan, 0) < 0)
		abort();
}

static void teardown(struct fixture *fx)
{
	orch_plan_free(fx->plan);
	orch_store_free(fx->store);
	git_repository_free(fx->repo);
	git_libgit2_shutdown();
}

struct put {
	const char *task;
	int attempt;
	orch_strvec texts;
	size_t added;
};

static int put_cb(orch_txn *txn, void *payload)
{
	struct put *put = payload;
	int error = orch_shared_put(&put->added, txn, put->task, put->attempt,
	                            "w", 1000 * put->attempt, &put->texts);

	return error < 0 ? error : put->added ? 0 : ORCH_ENOCHANGE;
}

/* Store findings `texts` ("|"-separated) of an attempt; how many added. */
static size_t put(struct fixture *fx, const char *task, int attempt,
                  const char *texts)
{
	struct put p = {task, attempt, {0}, 0};
	int error;

	orch_strvec_split(&p.texts, texts, "|");
	error = orch_store_update(fx->store, "p", put_cb, &p, NULL);
	CHECK(error == 0 || error == ORCH_ENOCHANGE);
	orch_strvec_free(&p.texts);
	return p.added;
}

TEST(findings_are_stored_once_per_attempt_and_read_oldest_first)
{
	struct fixture fx;
	orch_findings got;

	setup(&fx, 3);
	CHECK_INT(put(&fx, "t1", 2, "later"), 1);
	CHECK_INT(put(&fx, "t0", 1, "first|second"), 2);
	CHECK_INT(put(&fx, "t0", 1, "first|second"), 0); /* collected again */
	CHECK_INT(orch_shared_read(&got, fx.store, "p"), 0);
	CHECK_INT(got.count, 3);
	if (got.count == 3) {
		CHECK_STR(got.items[0].text, "first");
		CHECK_STR(got.items[1].text, "second");
		CHECK_STR(got.items[2].text, "later");
		CHECK_STR(got.items[2].task, "t1");
		CHECK_INT(got.items[2].attempt, 2);
		CHECK_STR(got.items[2].worker, "w");
	}
	orch_findings_clear(&got);
	teardown(&fx);
}

TEST(the_context_is_made_again_only_when_findings_change)
{
	struct fixture fx;
	orch_shared_cache cache = {0};
	const char *text = NULL, *again = NULL;

	setup(&fx, 2);
	CHECK_INT(orch_shared_context(&text, &cache, fx.store, "p"), 0);
	CHECK_STR(text, "");
	put(&fx, "t0", 1, "one");
	CHECK_INT(orch_shared_context(&text, &cache, fx.store, "p"), 0);
	CHECK(text && strstr(text, "## t0, attempt 1 (on w)\n\none\n"));
	CHECK_INT(orch_shared_context(&again, &cache, fx.store, "p"), 0);
	CHECK(again == text); /* the same text, not made again */
	put(&fx, "t1", 1, "two");
	CHECK_INT(orch_shared_context(&text, &cache, fx.store, "p"), 0);
	CHECK(text && strstr(text, "\ntwo\n") && strstr(text, "\none\n"));
	orch_shared_cache_clear(&cache);
	teardown(&fx);
}

TEST(plans_of_many_tasks_fan_the_findings_out)
{
	struct fixture fx;
	orch_findings got;
	git_object *obj = NULL;
	char spec[128];

	setup(&fx, ORCH_STORE_FLAT_MAX + 1);
	put(&fx, "t7", 1, "fanned");
	snprintf(spec, sizeof(spec),
	         "refs/orchestrate/plans/p:shared/%02x/t7.json",
	         (unsigned)(orch_hash_fnv1a("t7", 2) & 0xff));
	CHECK_INT(git_revparse_single(&obj, fx.repo, spec), 0);
	git_object_free(obj);
	CHECK_INT(orch_shared_read(&got, fx.store, "p"), 0);
	CHECK_INT(got.count, 1);
	orch_findings_clear(&got);
	teardown(&fx);
}

static const unit_test tests[] = {
    T(findings_are_stored_once_per_attempt_and_read_oldest_first),
    T(the_context_is_made_again_only_when_findings_change),
    T(plans_of_many_tasks_fan_the_findings_out),
    T(findings_are_paragraphs_separated_by_blank_lines),
    T(a_share_file_over_the_limit_or_with_a_nul_is_refused_whole),
    T(share_appends_a_paragraph_and_refuses_what_would_not_be_one),
    T(share_refuses_to_grow_the_file_over_the_limit),
    T(the_union_keeps_the_first_then_what_only_the_second_has),
    T(the_context_names_each_finding_by_task_and_attempt),
};

UNIT_MAIN(tests)
