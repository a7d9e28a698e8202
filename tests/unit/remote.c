#include "unit.h"
#include "error.h"
#include "remote.h"
#include "util.h"

#include <git2.h>

/* A local repository and a bare hub beside it, in a fresh directory. */
struct fixture {
	char hub[300];
	git_repository *repo;
	git_repository *hubrepo;
};

static void setup(struct fixture *fx)
{
	char local[300];
	const char *dir = unit_tmpdir();

	git_libgit2_init();
	snprintf(fx->hub, sizeof(fx->hub), "%s/hub.git", dir);
	snprintf(local, sizeof(local), "%s/local", dir);
	if (git_repository_init(&fx->hubrepo, fx->hub, 1) < 0 ||
	    git_repository_init(&fx->repo, local, 0) < 0)
		abort();
}

static void teardown(struct fixture *fx)
{
	git_repository_free(fx->repo);
	git_repository_free(fx->hubrepo);
	git_libgit2_shutdown();
}

static git_oid blob(git_repository *repo, const char *text)
{
	git_oid oid;
	if (git_blob_create_from_buffer(&oid, repo, text, strlen(text)) < 0)
		abort();
	return oid;
}

static int hub_value(git_oid *out, struct fixture *fx, const char *ref)
{
	return git_reference_name_to_id(out, fx->hubrepo, ref);
}

TEST(a_create_only_push_succeeds_once_and_a_second_creator_loses)
{
	struct fixture fx;
	git_oid a, b, seen;
	orch_remote_update u = {"refs/orchestrate/locks/p/task/x", NULL, NULL, 0};

	setup(&fx);
	a = blob(fx.repo, "holder a\n");
	b = blob(fx.repo, "holder b\n");
	u.new_oid = &a;
	CHECK_INT(orch_remote_push(fx.repo, fx.hub, &u, 1), 0);
	u.new_oid = &b;
	CHECK_INT(orch_remote_push(fx.repo, fx.hub, &u, 1), ORCH_EMODIFIED);
	CHECK(strstr(orch_error_message(), "refs/orchestrate/locks/p/task/x") !=
	      NULL);
	CHECK_INT(hub_value(&seen, &fx, u.refname), 0);
	CHECK(git_oid_equal(&seen, &a));
	teardown(&fx);
}

TEST(an_update_and_a_delete_hold_only_with_the_expected_old_value)
{
	struct fixture fx;
	git_oid a, b, c, seen;
	orch_remote_update u = {"refs/orchestrate/locks/p/task/x", NULL, NULL, 0};

	setup(&fx);
	a = blob(fx.repo, "a\n");
	b = blob(fx.repo, "b\n");
	c = blob(fx.repo, "c\n");
	u.new_oid = &a;
	CHECK_INT(orch_remote_push(fx.repo, fx.hub, &u, 1), 0);
	u.expect = &b; /* wrong */
	u.new_oid = &c;
	CHECK_INT(orch_remote_push(fx.repo, fx.hub, &u, 1), ORCH_EMODIFIED);
	u.expect = &a;
	CHECK_INT(orch_remote_push(fx.repo, fx.hub, &u, 1), 0);
	CHECK_INT(hub_value(&seen, &fx, u.refname), 0);
	CHECK(git_oid_equal(&seen, &c));
	u.expect = &a; /* stale */
	u.new_oid = NULL;
	CHECK_INT(orch_remote_push(fx.repo, fx.hub, &u, 1), ORCH_EMODIFIED);
	u.expect = &c;
	CHECK_INT(orch_remote_push(fx.repo, fx.hub, &u, 1), 0);
	CHECK_INT(hub_value(&seen, &fx, u.refname), GIT_ENOTFOUND);
	teardown(&fx);
}

TEST(an_atomic_push_changes_nothing_when_one_expectation_fails)
{
	struct fixture fx;
	git_oid a, b, seen;
	orch_remote_update u[2] = {{"refs/orchestrate/x", NULL, NULL, 0},
	                           {"refs/orchestrate/y", NULL, NULL, 0}};

	setup(&fx);
	a = blob(fx.repo, "a\n");
	b = blob(fx.repo, "b\n");
	u[1].new_oid = &a;
	CHECK_INT(orch_remote_push(fx.repo, fx.hub, &u[1], 1), 0);
	u[0].new_oid = &a;
	u[1].new_oid = &b; /* expects y absent: fails */
	CHECK_INT(orch_remote_push(fx.repo, fx.hub, u, 2), ORCH_EMODIFIED);
	CHECK_INT(hub_value(&seen, &fx, "refs/orchestrate/x"), GIT_ENOTFOUND);
	teardown(&fx);
}

TEST(refs_are_listed_and_fetched_back)
{
	struct fixture fx;
	git_oid a, seen;
	orch_remote_update u = {"refs/orchestrate/locks/p/task/x", NULL, NULL, 0};
	orch_remote_ref *refs = NULL;
	size_t n = 0;
	orch_strvec patterns = {0}, specs = {0};

	setup(&fx);
	a = blob(fx.repo, "a\n");
	u.new_oid = &a;
	CHECK_INT(orch_remote_push(fx.repo, fx.hub, &u, 1), 0);
	orch_strvec_push(&patterns, "refs/orchestrate/locks/p/*");
	CHECK_INT(orch_remote_list(&refs, &n, fx.repo, fx.hub, &patterns), 0);
	CHECK_INT(n, 1);
	if (n == 1) {
		CHECK_STR(refs[0].name, u.refname);
		CHECK(git_oid_equal(&refs[0].oid, &a));
	}
	orch_strvec_push(&specs, "+refs/orchestrate/*:refs/hub/orchestrate/*");
	CHECK_INT(orch_remote_fetch(fx.repo, fx.hub, &specs), 0);
	CHECK_INT(git_reference_name_to_id(
	              &seen, fx.repo, "refs/hub/orchestrate/locks/p/task/x"),
	          0);
	CHECK(git_oid_equal(&seen, &a));
	orch_remote_refs_free(refs, n);
	orch_strvec_free(&patterns);
	orch_strvec_free(&specs);
	teardown(&fx);
}

TEST(an_unreachable_remote_is_an_error_naming_it)
{
	struct fixture fx;
	git_oid a;
	orch_remote_update u = {"refs/orchestrate/x", NULL, NULL, 0};

	setup(&fx);
	a = blob(fx.repo, "a\n");
	u.new_oid = &a;
	CHECK_INT(orch_remote_push(fx.repo, "/nonexistent/hub.git", &u, 1),
	          ORCH_ERROR);
	CHECK(strstr(orch_error_message(), "/nonexistent/hub.git") != NULL);
	teardown(&fx);
}

/* clang-format off */
static const unit_test tests[] = {
	T(a_create_only_push_succeeds_once_and_a_second_creator_loses),
	T(an_update_and_a_delete_hold_only_with_the_expected_old_value),
	T(an_atomic_push_changes_nothing_when_one_expectation_fails),
	T(refs_are_listed_and_fetched_back),
	T(an_unreachable_remote_is_an_error_naming_it),
};
/* clang-format on */

UNIT_MAIN(tests)
