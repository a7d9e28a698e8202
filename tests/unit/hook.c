#include "unit.h"
#include "error.h"
#include "hook.h"
#include "util.h"

#define Z "0000000000000000000000000000000000000000"
#define A "1111111111111111111111111111111111111111"
#define B "abcdefabcdefabcdefabcdefabcdefabcdefabcd"

/* Ref name checks go through libgit2, which needs its global state. */
static void init_libgit2(void)
{
	static int done;
	if (!done)
		git_libgit2_init();
	done = 1;
}

TEST(receive_lines_are_parsed_in_order_and_blank_lines_skipped)
{
	const char *text = Z " " A " refs/heads/main\n\n" A " " B
	                     " refs/orchestrate/plans/p\r\n" B " " Z
	                     " refs/heads/orchestrate/p/t";
	orch_hook_updates u = {0};
	char hex[GIT_OID_HEXSZ + 1];

	init_libgit2();
	CHECK_INT(orch_hook_parse(&u, text, strlen(text)), 0);
	CHECK_INT(u.count, 3);
	if (u.count == 3) {
		CHECK_STR(u.items[0].ref, "refs/heads/main");
		CHECK(git_oid_is_zero(&u.items[0].old_oid));
		git_oid_tostr(hex, sizeof(hex), &u.items[1].new_oid);
		CHECK_STR(hex, B);
		CHECK_STR(u.items[1].ref, "refs/orchestrate/plans/p");
		CHECK_STR(u.items[2].ref, "refs/heads/orchestrate/p/t");
		CHECK(git_oid_is_zero(&u.items[2].new_oid));
	}
	orch_hook_updates_free(&u);
}

TEST(a_bad_line_is_refused_naming_its_number_and_nothing_is_kept)
{
	static const char *const bad[] = {
	    "garbage\n",
	    Z " " A "\n",                      /* no ref */
	    Z " " A " \n",                     /* empty ref */
	    Z " 1234 refs/heads/x\n",          /* short oid */
	    Z " " A " refs/heads/bad..name\n", /* invalid ref name */
	    "ABCDEFABCDEFABCDEFABCDEFABCDEFABCDEFABCD " A " refs/heads/x\n",
	};
	init_libgit2();
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		orch_buf text = {0};
		orch_hook_updates u = {0};
		orch_buf_printf(&text, "%s %s refs/heads/ok\n%s", Z, A, bad[i]);
		CHECK_INT(orch_hook_parse(&u, text.ptr, text.len),
		          ORCH_EINVALID);
		CHECK(strstr(orch_error_message(), "line 2") != NULL);
		CHECK_INT(u.count, 0);
		CHECK(u.items == NULL);
		orch_buf_free(&text);
	}
}

TEST(only_valid_task_branches_are_task_results)
{
	static const struct {
		const char *ref, *plan, *task;
	} cases[] = {
	    {"refs/heads/orchestrate/p/t", "p", "t"},
	    {"refs/heads/orchestrate/auth-feature/api.v2", "auth-feature",
	     "api.v2"},
	    {"refs/heads/orchestrate/p", NULL, NULL},
	    {"refs/heads/orchestrate/p/t/u", NULL, NULL},
	    {"refs/heads/orchestrate//t", NULL, NULL},
	    {"refs/heads/orchestrate/p/-t", NULL, NULL},
	    {"refs/heads/main", NULL, NULL},
	    {"refs/orchestrate/plans/p", NULL, NULL},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *plan = NULL, *task = NULL;
		int is = orch_hook_task_ref(&plan, &task, cases[i].ref);
		CHECK_INT(is, cases[i].plan != NULL);
		CHECK_STR(plan, cases[i].plan);
		CHECK_STR(task, cases[i].task);
		free(plan);
		free(task);
	}
}

TEST(paths_outside_the_declared_globs_are_listed_in_order)
{
	orch_strvec paths = {0}, files = {0}, out = {0};

	orch_strvec_split(&files, "api/auth.c, api/*.h, docs", ",");
	orch_strvec_split(&paths,
	                  "api/auth.c|api/auth.h|api/x/y.h|README|docs/a.md|"
	                  "api/*.c|api/new.c",
	                  "|");
	orch_hook_outside_files(&out, &paths, &files);
	CHECK_INT(out.count, 4);
	if (out.count == 4) {
		CHECK_STR(out.items[0], "api/x/y.h");
		CHECK_STR(out.items[1], "README");
		/* a file named like a glob is only itself */
		CHECK_STR(out.items[2], "api/*.c");
		CHECK_STR(out.items[3], "api/new.c");
	}
	orch_strvec_free(&paths);
	orch_strvec_free(&files);
	orch_strvec_free(&out);
}

TEST(the_shims_call_the_hook_and_keep_the_earlier_hook_first)
{
	const char *post = orch_hook_shim("post-receive");
	const char *pre = orch_hook_shim("pre-receive");

	CHECK(post && pre);
	CHECK(orch_hook_shim("update") == NULL);
	if (!post || !pre)
		return;
	CHECK(!strncmp(post, "#!/bin/sh\n", 10));
	CHECK(strstr(post, "git orchestrate hook post-receive\n") != NULL);
	CHECK(strstr(pre, "git orchestrate hook pre-receive\n") != NULL);
	CHECK(strstr(pre, "pre-receive" ORCH_HOOK_KEPT_SUFFIX) != NULL);
	/* a failing earlier pre-receive refuses the push */
	CHECK(strstr(pre, "|| exit\n") != NULL);
	CHECK(strstr(post, "|| exit") == NULL);
}

TEST(installing_keeps_a_foreign_hook_and_twice_changes_nothing)
{
	const char *dir = unit_tmpdir();
	orch_hook_install_action action;
	orch_buf hook = {0}, kept = {0}, text = {0};
	FILE *f;

	orch_buf_printf(&hook, "%s/post-receive", dir);
	orch_buf_printf(&kept, "%s/post-receive" ORCH_HOOK_KEPT_SUFFIX, dir);
	f = fopen(hook.ptr, "w");
	CHECK(f != NULL);
	if (f) {
		fputs("#!/bin/sh\necho mine\n", f);
		fclose(f);
	}
	CHECK_INT(orch_hook_install(&action, dir, "post-receive"), 0);
	CHECK_INT(action, ORCH_HOOK_KEPT);
	CHECK_INT(orch_read_file(&text, kept.ptr), 0);
	CHECK_STR(text.ptr, "#!/bin/sh\necho mine\n");
	orch_buf_clear(&text);
	CHECK_INT(orch_read_file(&text, hook.ptr), 0);
	CHECK_STR(text.ptr, orch_hook_shim("post-receive"));
	CHECK(access(hook.ptr, X_OK) == 0);
	CHECK_INT(orch_hook_install(&action, dir, "post-receive"), 0);
	CHECK_INT(action, ORCH_HOOK_UNCHANGED);
	/* another foreign hook, but the kept name is taken: nothing moves */
	f = fopen(hook.ptr, "w");
	if (f) {
		fputs("#!/bin/sh\necho new\n", f);
		fclose(f);
	}
	CHECK_INT(orch_hook_install(&action, dir, "post-receive"),
	          ORCH_EEXISTS);
	orch_buf_clear(&text);
	CHECK_INT(orch_read_file(&text, hook.ptr), 0);
	CHECK_STR(text.ptr, "#!/bin/sh\necho new\n");
	orch_buf_free(&hook);
	orch_buf_free(&kept);
	orch_buf_free(&text);
}

/* clang-format off */
static const unit_test tests[] = {
	T(receive_lines_are_parsed_in_order_and_blank_lines_skipped),
	T(a_bad_line_is_refused_naming_its_number_and_nothing_is_kept),
	T(only_valid_task_branches_are_task_results),
	T(paths_outside_the_declared_globs_are_listed_in_order),
	T(the_shims_call_the_hook_and_keep_the_earlier_hook_first),
	T(installing_keeps_a_foreign_hook_and_twice_changes_nothing),
};
/* clang-format on */

UNIT_MAIN(tests)
