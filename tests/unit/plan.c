#include "unit.h"
#include "error.h"
#include "plan.h"
#include "util.h"

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

/* Write `text` to DIR/NAME; returns the path (static, until the next call). */
static const char *write_file(const char *dir, const char *name,
                              const char *text)
{
	static char path[1024];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (!(fp = fopen(path, "w")))
		abort();
	fputs(text, fp);
	fclose(fp);
	return path;
}

/* Load `text` as DIR/NAME; 0 or the error code, plan in *out. */
static int load_text(orch_plan **out, const char *name, const char *text)
{
	const char *dir = unit_tmpdir();
	return orch_plan_load_ini(out, write_file(dir, name, text));
}

static int contains(const char *haystack, const char *needle)
{
	return haystack && strstr(haystack, needle) != NULL;
}

TEST(good_plan_is_read_field_by_field)
{
	orch_plan *plan = NULL;
	const orch_task *api, *ui;
	int error = load_text(
	    &plan, "feature.ini",
	    "; a comment\n"
	    "[plan]\n"
	    "name = auth-feature   ; inline comment\n"
	    "base = main\n"
	    "agent = claude -p \"$(cat \"$ORCHESTRATE_PROMPT_FILE\")\"\n"
	    "retries = 3\n"
	    "timeout = 30m\n"
	    "merge = auto\n"
	    "verify = make test\n"
	    "\n"
	    "[task \"auth-api\"]\n"
	    "run = ./scripts/build-auth.sh\n"
	    "depends = schema, config\n"
	    "files = api/auth.c, api/*.h\n"
	    "priority = high\n"
	    "needs = backend\n"
	    "duration = 5m\n"
	    "retries = 1\n"
	    "timeout = 90s\n"
	    "[task \"auth-ui\"]\n"
	    "prompt = Build the login form\n"
	    "depends = auth-api\n");

	CHECK_INT(error, 0);
	if (!plan)
		return;
	CHECK_STR(plan->name, "auth-feature");
	CHECK_STR(plan->base, "main");
	CHECK_STR(plan->agent,
	          "claude -p \"$(cat \"$ORCHESTRATE_PROMPT_FILE\")\"");
	CHECK_INT(plan->retries, 3);
	CHECK_INT(plan->timeout_ms, 30 * 60 * 1000);
	CHECK_INT(plan->merge_auto, 1);
	CHECK_STR(plan->verify, "make test");
	CHECK(contains(plan->source, "feature.ini"));
	CHECK(plan->base_commit == NULL);
	CHECK_INT(plan->ntasks, 2);
	if (plan->ntasks != 2)
		goto done;
	api = &plan->tasks[0];
	CHECK_STR(api->id, "auth-api");
	CHECK_STR(api->run, "./scripts/build-auth.sh");
	CHECK(api->prompt == NULL);
	CHECK_INT(api->depends.count, 2);
	CHECK_STR(api->depends.items[0], "schema");
	CHECK_STR(api->depends.items[1], "config");
	CHECK_INT(api->files.count, 2);
	CHECK_STR(api->files.items[1], "api/*.h");
	CHECK_INT(api->priority, ORCH_PRIORITY_HIGH);
	CHECK_INT(api->needs.count, 1);
	CHECK_STR(api->needs.items[0], "backend");
	CHECK_INT(api->duration_ms, 5 * 60 * 1000);
	CHECK_INT(api->retries, 1);
	CHECK_INT(api->timeout_ms, 90000);
	CHECK_INT(api->line, 11);
	ui = &plan->tasks[1];
	CHECK_STR(ui->id, "auth-ui");
	CHECK(ui->run == NULL);
	CHECK_STR(ui->prompt, "Build the login form");
	CHECK_INT(ui->priority, ORCH_PRIORITY_MEDIUM);
	CHECK_INT(ui->duration_ms, -1);
	CHECK_INT(ui->retries, -1);
	CHECK_INT(ui->timeout_ms, -1);
	CHECK_INT(ui->line, 20);
	CHECK_INT(orch_plan_find(plan, "auth-ui"), 1);
	CHECK_INT(orch_plan_find(plan, "auth-api"), 0);
	CHECK_INT(orch_plan_find(plan, "auth-apii"), -1);
	CHECK_STR(orch_plan_command(plan, api), "./scripts/build-auth.sh");
	CHECK_STR(orch_plan_command(plan, ui), plan->agent);
	CHECK_INT(orch_plan_task_retries(plan, api), 1);
	CHECK_INT(orch_plan_task_retries(plan, ui), 3);
	CHECK_INT(orch_plan_task_timeout(plan, api), 90000);
	CHECK_INT(orch_plan_task_timeout(plan, ui), 30 * 60 * 1000);
done:
	orch_plan_free(plan);
}

TEST(defaults_apply_when_the_plan_says_nothing)
{
	orch_plan *plan = NULL;

	CHECK_INT(
	    load_text(&plan, "nightly.build.ini", "[task \"a\"]\nrun = true\n"),
	    0);
	if (!plan)
		return;
	CHECK_STR(plan->name, "nightly.build");
	CHECK(plan->base == NULL);
	CHECK(plan->agent == NULL);
	CHECK(plan->verify == NULL);
	CHECK_INT(plan->retries, 2);
	CHECK_INT(plan->timeout_ms, 0);
	CHECK_INT(plan->merge_auto, 0);
	CHECK_INT(orch_plan_validate(plan), 0);
	orch_plan_free(plan);
}

TEST(multi_line_prompt_joins_its_lines_with_newlines)
{
	orch_plan *plan = NULL;

	CHECK_INT(load_text(&plan, "p.ini",
	                    "[plan]\nagent = my-agent\n"
	                    "[task \"a\"]\n"
	                    "prompt = First line\n"
	                    "  second line\n"
	                    "; a comment is not part of it\n"
	                    "\tthird line\n"
	                    "\n"
	                    "  \n"
	                    "  new paragraph\n"
	                    "\n"
	                    "[task \"b\"]\n"
	                    "prompt =\n"
	                    "    only continuation\n"
	                    "    lines here\n"
	                    "run = sh -c 'one'\n"
	                    "  echo two\n"),
	          0);
	if (!plan)
		return;
	CHECK_INT(plan->ntasks, 2);
	CHECK_STR(plan->tasks[0].prompt,
	          "First line\nsecond line\nthird line\n\n\nnew paragraph");
	CHECK_STR(plan->tasks[1].prompt, "only continuation\nlines here");
	CHECK_STR(plan->tasks[1].run, "sh -c 'one'\necho two");
	/* run wins, the prompt still goes to it */
	CHECK_STR(orch_plan_command(plan, &plan->tasks[1]),
	          "sh -c 'one'\necho two");
	CHECK_INT(orch_plan_validate(plan), 0);
	orch_plan_free(plan);
}

TEST(continuation_lines_add_list_items)
{
	orch_plan *plan = NULL;

	CHECK_INT(load_text(&plan, "p.ini",
	                    "[task \"a\"]\nrun = true\n"
	                    "[task \"b\"]\nrun = true\n"
	                    "[task \"c\"]\nrun = true\n"
	                    "depends = a,\n"
	                    "  b\n"
	                    "files = x.c,\n"
	                    "   dir with space/y.c\n"
	                    "needs = gpu\n"
	                    "  big-disk fast-net\n"),
	          0);
	if (!plan)
		return;
	CHECK_INT(plan->ntasks, 3);
	if (plan->ntasks == 3) {
		const orch_task *c = &plan->tasks[2];
		CHECK_INT(c->depends.count, 2);
		CHECK_STR(c->depends.items[0], "a");
		CHECK_STR(c->depends.items[1], "b");
		CHECK_INT(c->files.count, 2);
		CHECK_STR(c->files.items[1], "dir with space/y.c");
		CHECK_INT(c->needs.count, 3);
		CHECK_STR(c->needs.items[2], "fast-net");
	}
	orch_plan_free(plan);
}

TEST(an_indented_key_right_after_a_section_is_a_key)
{
	orch_plan *plan = NULL;

	CHECK_INT(load_text(&plan, "p.ini",
	                    "[task \"a\"]\n  run = true\n  priority = low\n"),
	          0);
	if (!plan)
		return;
	CHECK_STR(plan->tasks[0].run, "true\npriority = low");
	orch_plan_free(plan);
}

TEST(windows_line_ends_and_a_byte_order_mark_are_accepted)
{
	orch_plan *plan = NULL;

	CHECK_INT(load_text(&plan, "crlf.ini",
	                    "\xEF\xBB\xBF[plan]\r\nname = crlf\r\n"
	                    "[task \"a\"]\r\nrun = one\r\n  two\r\n"),
	          0);
	if (!plan)
		return;
	CHECK_STR(plan->name, "crlf");
	CHECK_INT(plan->ntasks, 1);
	CHECK_STR(plan->tasks[0].run, "one\ntwo");
	CHECK_INT(plan->tasks[0].line, 3);
	orch_plan_free(plan);
}

TEST(semicolons_and_hashes_in_commands_and_prompts_are_kept)
{
	orch_plan *plan = NULL;

	CHECK_INT(load_text(&plan, "p.ini",
	                    "[plan]\n"
	                    "agent = my-agent --say \"a ; b\" ; echo done\n"
	                    "verify = make clean ; make   \n"
	                    "[task \"a\"]\n"
	                    "run = echo \"one ; two\" > out.txt\n"
	                    "priority = high ; after a name\n"
	                    "[task \"b\"]\n"
	                    "prompt = Fix the bug ; then add tests\n"
	                    "  # a comment line, not part of it\n"
	                    "  see #12 ; and # 13\n"
	                    "run: cat x # not a comment ;\n"
	                    "  echo ;; echo #\n"),
	          0);
	if (!plan)
		return;
	CHECK_STR(plan->agent, "my-agent --say \"a ; b\" ; echo done");
	CHECK_STR(plan->verify, "make clean ; make");
	CHECK_INT(plan->ntasks, 2);
	if (plan->ntasks != 2)
		goto done;
	CHECK_STR(plan->tasks[0].run, "echo \"one ; two\" > out.txt");
	CHECK_INT(plan->tasks[0].priority, ORCH_PRIORITY_HIGH);
	CHECK_STR(plan->tasks[1].prompt,
	          "Fix the bug ; then add tests\nsee #12 ; and # 13");
	CHECK_STR(plan->tasks[1].run,
	          "cat x # not a comment ;\necho ;; echo #");
	CHECK_INT(plan->tasks[1].line, 7);
done:
	orch_plan_free(plan);
}

TEST(a_verbatim_value_keeps_its_semicolons_with_windows_line_ends)
{
	orch_plan *plan = NULL;

	CHECK_INT(load_text(&plan, "crlf.ini",
	                    "[task \"a\"]\r\nrun = a ; b\r\n  c # d \r\n"
	                    "retries = 1 ; comment\r\n"),
	          0);
	if (!plan)
		return;
	CHECK_STR(plan->tasks[0].run, "a ; b\nc # d");
	CHECK_INT(plan->tasks[0].retries, 1);
	orch_plan_free(plan);
}

TEST(inline_comments_end_names_numbers_durations_and_lists)
{
	orch_plan *plan = NULL;
	const orch_task *task;

	CHECK_INT(load_text(&plan, "p.ini",
	                    "[plan]\n"
	                    "name = commented ; a name\n"
	                    "base = main # a branch\n"
	                    "retries = 1 ; a number\n"
	                    "timeout = 2m\t# a duration\n"
	                    "merge = auto ; manual or auto\n"
	                    "[task \"dep\"]\n"
	                    "run = true\n"
	                    "[task \"a\"]\n"
	                    "run = true\n"
	                    "depends = dep # a list\n"
	                    "files = x#1.c, y;2.c ; a list\n"
	                    "  z.c # continued\n"
	                    "needs = gpu ; a list\n"
	                    "priority = low # a name\n"
	                    "duration = 5s ; a duration\n"
	                    "timeout = 1h # a duration\n"),
	          0);
	if (!plan)
		return;
	CHECK_STR(plan->name, "commented");
	CHECK_STR(plan->base, "main");
	CHECK_INT(plan->retries, 1);
	CHECK_INT(plan->timeout_ms, 2 * 60 * 1000);
	CHECK_INT(plan->merge_auto, 1);
	CHECK_INT(plan->ntasks, 2);
	if (plan->ntasks != 2)
		goto done;
	task = &plan->tasks[1];
	CHECK_INT(task->depends.count, 1);
	CHECK_STR(task->depends.items[0], "dep");
	CHECK_INT(task->files.count, 3);
	if (task->files.count == 3) {
		CHECK_STR(task->files.items[0], "x#1.c");
		CHECK_STR(task->files.items[1], "y;2.c");
		CHECK_STR(task->files.items[2], "z.c");
	}
	CHECK_INT(task->needs.count, 1);
	CHECK_INT(task->priority, ORCH_PRIORITY_LOW);
	CHECK_INT(task->duration_ms, 5000);
	CHECK_INT(task->timeout_ms, 60 * 60 * 1000);
	CHECK_INT(orch_plan_validate(plan), 0);
done:
	orch_plan_free(plan);
}

TEST(a_directory_is_not_a_plan_file)
{
	orch_plan *plan = NULL;
	const char *dir = unit_tmpdir();

	CHECK_INT(orch_plan_load_ini(&plan, dir), ORCH_EINVALID);
	CHECK(plan == NULL);
	CHECK(contains(orch_error_message(), dir));
}

TEST(repeated_dependencies_are_kept_once)
{
	orch_plan *plan = NULL;

	CHECK_INT(load_text(&plan, "p.ini",
	                    "[task \"a\"]\nrun = true\n"
	                    "[task \"b\"]\nrun = true\ndepends = a, a\n  a\n"),
	          0);
	if (!plan)
		return;
	CHECK_INT(plan->tasks[1].depends.count, 1);
	CHECK_INT(orch_plan_validate(plan), 0);
	orch_plan_free(plan);
}

TEST(prompt_file_is_read_relative_to_the_plan)
{
	const char *dir = unit_tmpdir();
	char sub[300], planpath[1024];
	orch_plan *plan = NULL;

	snprintf(sub, sizeof(sub), "%s/prompts", dir);
	CHECK(mkdir(sub, 0700) == 0);
	write_file(sub, "a.md",
	           "Do the thing ; with a semicolon\nand a second line\n");
	snprintf(planpath, sizeof(planpath), "%s",
	         write_file(dir, "p.ini",
	                    "[plan]\nagent = agent-cli\n"
	                    "[task \"a\"]\nprompt-file = prompts/a.md\n"));
	CHECK_INT(orch_plan_load_ini(&plan, planpath), 0);
	if (!plan)
		return;
	CHECK_STR(plan->tasks[0].prompt,
	          "Do the thing ; with a semicolon\nand a second line\n");
	CHECK_INT(orch_plan_validate(plan), 0);
	orch_plan_free(plan);
}

TEST(a_line_of_199_characters_fits_and_200_does_not)
{
	char text[512], value[256];
	orch_plan *plan = NULL;
	int error;

	/* "run = " is 6 characters */
	memset(value, 'x', 193);
	value[193] = '\0';
	snprintf(text, sizeof(text), "[task \"a\"]\nrun = %s\n", value);
	CHECK_INT(load_text(&plan, "fits.ini", text), 0);
	if (plan)
		CHECK_INT(strlen(plan->tasks[0].run), 193);
	orch_plan_free(plan);
	plan = NULL;

	value[193] = 'y';
	value[194] = '\0';
	snprintf(text, sizeof(text),
	         "[task \"a\"]\nrun = %s\n[task \"b\"]\nrun = true\n", value);
	error = load_text(&plan, "long.ini", text);
	CHECK_INT(error, ORCH_EINVALID);
	CHECK(plan == NULL);
	CHECK(contains(orch_error_message(),
	               "long.ini:2: line too long (at most 199 characters)"));
	CHECK(orch_error_hint_text() != NULL);
}

TEST(bad_plans_are_refused_naming_file_line_and_fault)
{
	static const struct {
		const char *text;
		int code;
		const char *expect[3];
	} cases[] = {
	    {"[task \"a\"]\nrun = true\nthis is not ini\n",
	     ORCH_EINVALID,
	     {"bad.ini:3: malformed line"}},
	    {"[task \"a\"\nrun = true\n",
	     ORCH_EINVALID,
	     {"bad.ini:1: malformed line"}},
	    {"[task \"a\"]\nrun = true\ncolour = red\n",
	     ORCH_EINVALID,
	     {"bad.ini:3: unknown key 'colour' in task 'a'"}},
	    {"[plan]\nrun = true\n",
	     ORCH_EINVALID,
	     {"bad.ini:2: unknown key 'run' in [plan]"}},
	    {"[task \"a\"]\nbase = main\n",
	     ORCH_EINVALID,
	     {"bad.ini:2: unknown key 'base' in task 'a'"}},
	    {"[tsak \"a\"]\nrun = true\n",
	     ORCH_EINVALID,
	     {"bad.ini:1: unknown section '[tsak \"a\"]'"}},
	    {"[task a]\nrun = true\n",
	     ORCH_EINVALID,
	     {"bad.ini:1:", "double quotes"}},
	    {"run = true\n",
	     ORCH_EINVALID,
	     {"bad.ini:1: key 'run' is outside any section"}},
	    {"[task \"a\"]\nrun = true\n[task \"a\"]\nrun = false\n",
	     ORCH_EINVALID,
	     {"bad.ini:3: duplicate task 'a'", "line 1"}},
	    {"[task \"a b\"]\nrun = true\n",
	     ORCH_EINVALID,
	     {"bad.ini:1: invalid task id 'a b'"}},
	    {"[task \"x..y\"]\nrun = true\n",
	     ORCH_EINVALID,
	     {"bad.ini:1: invalid task id 'x..y'"}},
	    {"[task \"x.lock\"]\nrun = true\n",
	     ORCH_EINVALID,
	     {"bad.ini:1: invalid task id 'x.lock'"}},
	    {"[task \"$(touch pwned)\"]\nrun = true\n",
	     ORCH_EINVALID,
	     {"bad.ini:1: invalid task id '$(touch pwned)'"}},
	    {"[task \"\"]\nrun = true\n",
	     ORCH_EINVALID,
	     {"bad.ini:1: invalid task id ''"}},
	    {"[plan]\nname = -bad\n[task \"a\"]\nrun = true\n",
	     ORCH_EINVALID,
	     {"bad.ini:2: invalid plan name '-bad'"}},
	    {"[task \"a\"]\nrun = true\nduration = soon\n",
	     ORCH_EINVALID,
	     {"bad.ini:3: bad duration 'soon' in task 'a'"}},
	    {"[task \"a\"]\nrun = true\npriority = urgent\n",
	     ORCH_EINVALID,
	     {"bad.ini:3: bad priority 'urgent'"}},
	    {"[task \"a\"]\nrun = true\nretries = -1\n",
	     ORCH_EINVALID,
	     {"bad.ini:3: bad retries '-1'"}},
	    {"[plan]\nretries = lots\n",
	     ORCH_EINVALID,
	     {"bad.ini:2: bad retries 'lots' in [plan]"}},
	    {"[plan]\ntimeout = forever\n",
	     ORCH_EINVALID,
	     {"bad.ini:2: bad timeout 'forever'"}},
	    {"[plan]\nmerge = sometimes\n",
	     ORCH_EINVALID,
	     {"bad.ini:2: bad merge 'sometimes'"}},
	    {"[plan]\nbase =\n", ORCH_EINVALID, {"bad.ini:2: bad base ''"}},
	    {"[task \"a\"]\nrun = true\nrun = false\n",
	     ORCH_EINVALID,
	     {"bad.ini:3: 'run' given twice in task 'a'", "first on line 2"}},
	    {"[plan]\nname = x\n[task \"a\"]\nrun = true\n[plan]\nname = y\n",
	     ORCH_EINVALID,
	     {"bad.ini:6: 'name' given twice in [plan]"}},
	    {"[task \"a\"]\nrun = true\npriority = high\n  low\n",
	     ORCH_EINVALID,
	     {"bad.ini:4: 'priority' in task 'a' cannot continue"}},
	    {"[task \"a\"]\nprompt = x\nprompt-file = a.md\n",
	     ORCH_EINVALID,
	     {"bad.ini:3: task 'a' has both prompt and prompt-file"}},
	    {"[task \"a\"]\nprompt-file = nope.md\nrun = true\n",
	     ORCH_EINVALID,
	     {"bad.ini:2: cannot read prompt-file 'nope.md'", "task 'a'"}},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		orch_plan *plan = NULL;
		int error;

		orch_error_clear();
		error = load_text(&plan, "bad.ini", cases[i].text);
		CHECK_INT(error, cases[i].code);
		CHECK(plan == NULL);
		for (size_t k = 0; k < 3 && cases[i].expect[k]; k++) {
			if (!contains(orch_error_message(),
			              cases[i].expect[k]) &&
			    !unit_failed) {
				unit_failed = 1;
				snprintf(unit_why, sizeof(unit_why),
				         "case %zu: '%s' lacks '%s'", i,
				         orch_error_message(),
				         cases[i].expect[k]);
			}
		}
		CHECK(orch_error_hint_text() != NULL);
		orch_plan_free(plan);
	}
}

TEST(a_missing_plan_file_is_not_found)
{
	orch_plan *plan = NULL;
	char path[600];

	snprintf(path, sizeof(path), "%s/nosuch.ini", unit_tmpdir());
	CHECK_INT(orch_plan_load_ini(&plan, path), ORCH_ENOTFOUND);
	CHECK(plan == NULL);
	CHECK(contains(orch_error_message(), "nosuch.ini"));
}

TEST(whole_plan_faults_are_found_by_validate)
{
	static const struct {
		const char *text;
		int code;
		const char *expect[3];
	} cases[] = {
	    {"[task \"auth-api\"]\nrun = true\n[task \"auth-ui\"]\nrun = true\n"
	     "depends = auth-apii\n",
	     ORCH_EINVALID,
	     {"bad.ini:3: task 'auth-ui' depends on unknown task 'auth-apii'"}},
	    {"[task \"a\"]\nrun = true\ndepends = a\n",
	     ORCH_EINVALID,
	     {"bad.ini:1: task 'a' depends on itself"}},
	    {"[task \"a\"]\nrun = true\ndepends = b\n[task \"b\"]\nrun = true\n"
	     "depends = a\n",
	     ORCH_ECYCLE,
	     {"dependency cycle: a -> b -> a", "bad.ini:1"}},
	    {"[task \"a\"]\npriority = high\n",
	     ORCH_EINVALID,
	     {"bad.ini:1: task 'a' has nothing to run"}},
	    {"[task \"a\"]\nrun =\n",
	     ORCH_EINVALID,
	     {"bad.ini:1: task 'a' has nothing to run"}},
	    {"[task \"ok\"]\nrun = true\n[task \"a\"]\nprompt = do it\n",
	     ORCH_EINVALID,
	     {"bad.ini:3: task 'a' has nothing to run", "agent"}},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		orch_plan *plan = NULL;
		int error = load_text(&plan, "bad.ini", cases[i].text);

		CHECK_INT(error, 0);
		if (!plan)
			continue;
		orch_error_clear();
		CHECK_INT(orch_plan_validate(plan), cases[i].code);
		for (size_t k = 0; k < 3 && cases[i].expect[k]; k++) {
			if (!contains(orch_error_message(),
			              cases[i].expect[k]) &&
			    !unit_failed) {
				unit_failed = 1;
				snprintf(unit_why, sizeof(unit_why),
				         "case %zu: '%s' lacks '%s'", i,
				         orch_error_message(),
				         cases[i].expect[k]);
			}
		}
		CHECK(orch_error_hint_text() != NULL);
		orch_plan_free(plan);
	}
}

TEST(cycle_is_reported_with_its_members_in_order)
{
	orch_plan *plan = NULL;

	/* "start" leads into the cycle but is not part of it */
	CHECK_INT(load_text(&plan, "cyc.ini",
	                    "[task \"start\"]\nrun = true\ndepends = b\n"
	                    "[task \"a\"]\nrun = true\ndepends = c\n"
	                    "[task \"b\"]\nrun = true\ndepends = a\n"
	                    "[task \"c\"]\nrun = true\ndepends = b\n"
	                    "[task \"free\"]\nrun = true\n"),
	          0);
	if (!plan)
		return;
	CHECK_INT(orch_plan_validate(plan), ORCH_ECYCLE);
	CHECK(contains(orch_error_message(),
	               "cyc.ini:4: dependency cycle: a -> c -> b -> a"));
	orch_plan_free(plan);
}

TEST(a_long_cycle_is_found_without_recursion_and_elided)
{
	orch_plan *plan = orch_calloc(1, sizeof(*plan));
	size_t n = 200000;
	char id[32];

	plan->name = orch_strdup("ring");
	plan->tasks = orch_calloc(n, sizeof(orch_task));
	plan->ntasks = n;
	for (size_t i = 0; i < n; i++) {
		orch_task *task = &plan->tasks[i];
		snprintf(id, sizeof(id), "t%zu", i);
		task->id = orch_strdup(id);
		task->run = orch_strdup("true");
		snprintf(id, sizeof(id), "t%zu", (i + 1) % n);
		orch_strvec_push(&task->depends, id);
	}
	CHECK_INT(orch_plan_reindex(plan), 0);
	CHECK_INT(orch_plan_validate(plan), ORCH_ECYCLE);
	CHECK(
	    contains(orch_error_message(), "dependency cycle: t0 -> t1 -> t2"));
	CHECK(contains(orch_error_message(), "more) -> t0"));
	orch_plan_free(plan);
}

TEST(tasks_added_by_hand_are_found)
{
	orch_plan *plan = NULL;
	orch_task *task;

	CHECK_INT(load_text(&plan, "p.ini", "[task \"a\"]\nrun = true\n"), 0);
	if (!plan)
		return;
	plan->tasks = orch_realloc(plan->tasks, 2 * sizeof(orch_task));
	task = &plan->tasks[1];
	memset(task, 0, sizeof(*task));
	task->id = orch_strdup("b");
	task->run = orch_strdup("true");
	plan->ntasks = 2;
	CHECK_INT(orch_plan_find(plan, "b"), 1);
	CHECK_INT(orch_plan_find(plan, "a"), 0);
	free(task->id);
	task->id = orch_strdup("a");
	CHECK_INT(orch_plan_reindex(plan), ORCH_EINVALID);
	CHECK(contains(orch_error_message(), "duplicate task 'a'"));
	orch_plan_free(plan);
}

TEST(prompts_directory_makes_one_task_per_markdown_file)
{
	const char *dir = unit_tmpdir();
	char prompts[300];
	orch_plan *plan = NULL;

	snprintf(prompts, sizeof(prompts), "%s/my-prompts", dir);
	CHECK(mkdir(prompts, 0700) == 0);
	write_file(
	    prompts, "task-b.md",
	    "---\ndepends: task-a, task-c\npriority: critical\n"
	    "needs: [gpu, big]\nduration: 2m\nfiles: src/b.c, doc/b b.md\n---\n"
	    "\nDo b, after a.\n\nThen tidy up.\n\n");
	write_file(prompts, "task-a.md", "---\npriority: high\n---\nDo a.\n");
	write_file(prompts, "task-c.md", "Just c.\n---\nnot front matter\n");
	write_file(prompts, "notes.txt", "ignored\n");
	write_file(prompts, ".hidden.md", "ignored too\n");
	CHECK_INT(orch_plan_load_prompts(&plan, prompts), 0);
	if (!plan)
		return;
	CHECK_STR(plan->name, "my-prompts");
	CHECK_INT(plan->ntasks, 3);
	if (plan->ntasks == 3) {
		const orch_task *a = &plan->tasks[0], *b = &plan->tasks[1],
		                *c = &plan->tasks[2];
		CHECK_STR(a->id, "task-a");
		CHECK_INT(a->priority, ORCH_PRIORITY_HIGH);
		CHECK_STR(a->prompt, "Do a.");
		CHECK_STR(b->id, "task-b");
		CHECK_INT(b->depends.count, 2);
		CHECK_STR(b->depends.items[1], "task-c");
		CHECK_INT(b->priority, ORCH_PRIORITY_CRITICAL);
		CHECK_INT(b->needs.count, 2);
		CHECK_STR(b->needs.items[0], "gpu");
		CHECK_STR(b->needs.items[1], "big");
		CHECK_INT(b->duration_ms, 120000);
		CHECK_INT(b->files.count, 2);
		CHECK_STR(b->files.items[1], "doc/b b.md");
		CHECK_STR(b->prompt, "Do b, after a.\n\nThen tidy up.");
		CHECK_STR(c->id, "task-c");
		CHECK_STR(c->prompt, "Just c.\n---\nnot front matter");
		CHECK_INT(c->depends.count, 0);
		CHECK_INT(orch_plan_find(plan, "task-c"), 2);
	}
	/* prompts but no agent: nothing can run them */
	CHECK_INT(orch_plan_validate(plan), ORCH_EINVALID);
	CHECK(contains(
	    orch_error_message(),
	    "my-prompts/task-a.md:1: task 'task-a' has nothing to run"));
	plan->agent = orch_strdup("agent-cli");
	CHECK_INT(orch_plan_validate(plan), 0);
	orch_plan_free(plan);
}

TEST(bad_prompt_files_are_refused_naming_file_and_line)
{
	static const struct {
		const char *name;
		const char *text;
		const char *expect;
	} cases[] = {
	    {"a.md", "---\npriority: high\ncolour: red\n---\nx\n",
	     "a.md:3: unknown key 'colour' in the front matter of task 'a'"},
	    {"a.md", "---\npriority: urgent\n---\nx\n",
	     "a.md:2: bad priority 'urgent'"},
	    {"a.md", "---\nduration: soon\n---\nx\n",
	     "a.md:2: bad duration 'soon'"},
	    {"a.md", "---\njust words\n---\nx\n",
	     "a.md:2: malformed front matter line"},
	    {"a.md", "---\npriority: high\nx\n",
	     "a.md:1: the front matter is not closed"},
	    {"a.md", "---\nneeds: a\nneeds: b\n---\nx\n",
	     "a.md:3: 'needs' given twice"},
	    {"a b.md", "x\n", "a b.md:1: invalid task id 'a b'"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *dir = unit_tmpdir();
		orch_plan *plan = NULL;

		write_file(dir, cases[i].name, cases[i].text);
		CHECK_INT(orch_plan_load_prompts(&plan, dir), ORCH_EINVALID);
		CHECK(plan == NULL);
		if (!contains(orch_error_message(), cases[i].expect) &&
		    !unit_failed) {
			unit_failed = 1;
			snprintf(unit_why, sizeof(unit_why),
			         "case %zu: '%s' lacks '%s'", i,
			         orch_error_message(), cases[i].expect);
		}
		CHECK(orch_error_hint_text() != NULL);
		orch_plan_free(plan);
	}
}

TEST(json_round_trip_is_exact)
{
	orch_plan *plan = NULL, *back = NULL;
	char *json = NULL, *again = NULL;

	CHECK_INT(
	    load_text(&plan, "rt.ini",
	              "[plan]\nname = rt\nbase = main\nagent = a \"quoted\"\n"
	              "retries = 0\ntimeout = 1h\nmerge = auto\n"
	              "[task \"x\"]\nrun = echo 'x'\n  echo \\\\n\n"
	              "prompt = line one\n  line two \xc3\xa9\n"
	              "files = a.c, b/*.h\npriority = critical\nneeds = gpu\n"
	              "duration = 250ms\nretries = 4\ntimeout = 0\n"
	              "[task \"y\"]\nrun = true\ndepends = x\n"),
	    0);
	if (!plan)
		return;
	plan->base_commit =
	    orch_strdup("0123456789abcdef0123456789abcdef01234567");
	CHECK_INT(orch_plan_to_json(&json, plan), 0);
	CHECK_INT(orch_plan_from_json(&back, json, strlen(json)), 0);
	if (!back)
		goto done;
	CHECK_INT(orch_plan_to_json(&again, back), 0);
	CHECK_STR(again, json);
	CHECK_STR(back->name, "rt");
	CHECK_STR(back->base, "main");
	CHECK_STR(back->base_commit, plan->base_commit);
	CHECK_STR(back->agent, "a \"quoted\"");
	CHECK(back->verify == NULL);
	CHECK_INT(back->retries, 0);
	CHECK_INT(back->timeout_ms, 3600000);
	CHECK_INT(back->merge_auto, 1);
	CHECK_INT(back->ntasks, 2);
	if (back->ntasks == 2) {
		const orch_task *x = &back->tasks[0], *y = &back->tasks[1];
		CHECK_STR(x->run, "echo 'x'\necho \\\\n");
		CHECK_STR(x->prompt, "line one\nline two \xc3\xa9");
		CHECK_INT(x->files.count, 2);
		CHECK_INT(x->priority, ORCH_PRIORITY_CRITICAL);
		CHECK_STR(x->needs.items[0], "gpu");
		CHECK_INT(x->duration_ms, 250);
		CHECK_INT(x->retries, 4);
		CHECK_INT(x->timeout_ms, 0);
		CHECK_INT(x->line, 8);
		CHECK(y->prompt == NULL);
		CHECK_INT(y->duration_ms, -1);
		CHECK_INT(y->retries, -1);
		CHECK_INT(y->timeout_ms, -1);
		CHECK_STR(y->depends.items[0], "x");
		CHECK_INT(orch_plan_find(back, "y"), 1);
	}
	CHECK_INT(orch_plan_validate(back), 0);
done:
	free(json);
	free(again);
	orch_plan_free(plan);
	orch_plan_free(back);
}

TEST(the_stored_estimate_round_trips_and_may_be_absent)
{
	static const char with[] =
	    "{\"name\":\"e\",\"estimate\":{\"makespan_ms\":1200,"
	    "\"slots\":2,\"serial_ms\":2500},\"tasks\":[]}";
	static const char without[] = "{\"name\":\"e\",\"tasks\":[]}";
	orch_plan *plan = NULL, *old = NULL;
	char *json = NULL;

	CHECK_INT(orch_plan_from_json(&plan, with, strlen(with)), 0);
	CHECK_INT(orch_plan_from_json(&old, without, strlen(without)), 0);
	if (!plan || !old)
		goto done;
	CHECK_INT(plan->estimate.makespan_ms, 1200);
	CHECK_INT(plan->estimate.slots, 2);
	CHECK_INT(plan->estimate.serial_ms, 2500);
	CHECK_INT(orch_plan_to_json(&json, plan), 0);
	CHECK(contains(json, "\"estimate\":{\"makespan_ms\":1200,"
	                     "\"slots\":2,\"serial_ms\":2500}"));
	free(json);
	json = NULL;
	CHECK_INT(old->estimate.slots, 0);
	CHECK_INT(orch_plan_to_json(&json, old), 0);
	CHECK(!contains(json, "estimate"));
done:
	free(json);
	orch_plan_free(plan);
	orch_plan_free(old);
}

TEST(damaged_json_is_refused)
{
	static const char *cases[] = {
	    "",
	    "[1, 2]",
	    "{\"name\": \"p\", \"tasks\": [",
	    "{\"tasks\": []}",
	    "{\"name\": \"../x\", \"tasks\": []}",
	    "{\"name\": \"p\", \"tasks\": {}}",
	    "{\"name\": \"p\", \"tasks\": [{\"run\": \"x\"}]}",
	    "{\"name\": \"p\", \"tasks\": [{\"id\": \"a b\"}]}",
	    "{\"name\": \"p\", \"tasks\": [{\"id\": \"a\"}, {\"id\": \"a\"}]}",
	    "{\"name\": \"p\", \"tasks\": [{\"id\": \"a\", \"depends\": "
	    "\"b\"}]}",
	    "{\"name\": \"p\", \"tasks\": [{\"id\": \"a\", \"retries\": 1.5}]}",
	    "{\"name\": \"p\", \"tasks\": [{\"id\": \"a\", \"priority\": "
	    "\"urgent\"}]}",
	    "{\"name\": \"p\", \"merge\": \"sometimes\", \"tasks\": []}",
	    "{\"name\": 7, \"tasks\": []}",
	    "{\"name\": \"p\", \"estimate\": 5, \"tasks\": []}",
	    "{\"name\": \"p\", \"estimate\": {\"makespan_ms\": 1, "
	    "\"slots\": 0, \"serial_ms\": 1}, \"tasks\": []}",
	    "{\"name\": \"p\", \"estimate\": {\"makespan_ms\": 1}, "
	    "\"tasks\": []}",
	    /* broken inside or between the tasks, read one at a time */
	    "{\"name\": \"p\", \"tasks\": [{\"id\": \"a\"},]}",
	    "{\"name\": \"p\", \"tasks\": [{\"id\": \"a\"} {\"id\": \"b\"}]}",
	    "{\"name\": \"p\", \"tasks\": [{\"id\": \"a\"]}",
	    "{\"name\": \"p\", \"tasks\": [{\"id\": \"a\\\"}]}",
	    "{\"name\": \"p\", \"tasks\": [{\"id\": \"a\"}], }",
	    "{\"name\": \"p\", \"tasks\": [{\"id\": \"a\"}, 7]}",
	    "{\"name\": \"p\", \"tasks\": [{\"id\": \"a\", \"run\": tru}]}",
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		orch_plan *plan = NULL;
		int error =
		    orch_plan_from_json(&plan, cases[i], strlen(cases[i]));
		if (error != ORCH_EINVALID && !unit_failed) {
			unit_failed = 1;
			snprintf(unit_why, sizeof(unit_why), "case %zu: got %d",
			         i, error);
		}
		CHECK(plan == NULL);
		CHECK(contains(orch_error_message(), "plan.json"));
		orch_plan_free(plan);
	}
}

TEST(plan_json_members_read_alike_in_any_order_and_spacing)
{
	static const char *cases[] = {
	    "{\"name\":\"p\",\"tasks\":[{\"id\":\"a\",\"run\":\"x ]}\\\",[\"},"
	    "{\"id\":\"b\",\"depends\":[\"a\"],\"run\":\"y\"}],\"retries\":4}",
	    " {\n \"tasks\" : [ { \"run\" : \"x ]}\\\",[\" , \"id\" : \"a\" } "
	    ",\n"
	    "\t{\"id\":\"b\",\"run\":\"y\",\"depends\":[ \"a\" ]} ] ,\r\n"
	    " \"name\" : \"p\" , \"retries\" : 4 } ",
	    /* an escaped key: read as one tree, to the same plan */
	    "{\"name\":\"p\",\"retries\":4,\"t\\u0061sks\":[{\"id\":\"a\","
	    "\"run\":\"x ]}\\\",[\"},{\"id\":\"b\",\"run\":\"y\","
	    "\"depends\":[\"a\"]}]}",
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		orch_plan *plan = NULL;
		CHECK_INT(
		    orch_plan_from_json(&plan, cases[i], strlen(cases[i])), 0);
		if (!plan)
			continue;
		CHECK_STR(plan->name, "p");
		CHECK_INT(plan->retries, 4);
		CHECK_INT(plan->ntasks, 2);
		if (plan->ntasks == 2) {
			CHECK_STR(plan->tasks[0].run, "x ]}\",[");
			CHECK_STR(plan->tasks[1].id, "b");
			CHECK_INT(plan->tasks[1].depends.count, 1);
			CHECK_INT(orch_plan_find(plan, "b"), 1);
		}
		orch_plan_free(plan);
	}
}

TEST(plan_json_task_members_are_found_in_any_order_the_first_of_duplicates)
{
	static const char json[] =
	    "{\"name\":\"p\",\"tasks\":[{\"line\":7,\"run\":\"x\","
	    "\"id\":\"a\",\"run\":\"y\",\"priority\":\"high\","
	    "\"depends\":[],\"unknown\":1,\"retries\":3},{\"id\":\"b\","
	    "\"run\":\"z\",\"depends\":[\"a\"],\"depends\":[\"c\"]}]}";
	orch_plan *plan = NULL;

	CHECK_INT(orch_plan_from_json(&plan, json, strlen(json)), 0);
	if (!plan)
		return;
	CHECK_INT(plan->ntasks, 2);
	CHECK_STR(plan->tasks[0].id, "a");
	CHECK_STR(plan->tasks[0].run, "x");
	CHECK_INT(plan->tasks[0].line, 7);
	CHECK_INT(plan->tasks[0].retries, 3);
	CHECK_INT(plan->tasks[0].priority, ORCH_PRIORITY_HIGH);
	CHECK_INT(plan->tasks[1].depends.count, 1);
	CHECK_STR(plan->tasks[1].depends.items[0], "a");
	orch_plan_free(plan);
}

TEST(set_task_json_changes_one_task_and_leaves_the_plan_as_it_is)
{
	static const char json[] =
	    "{\"name\":\"p\",\"tasks\":[{\"id\":\"a\",\"run\":\"x\","
	    "\"needs\":[\"gpu\"]},{\"id\":\"b\",\"run\":\"y\"}]}";
	orch_plan *plan = NULL, *back = NULL;
	orch_strvec set = {0}, same = {0}, bad = {0};
	char *out = NULL;

	CHECK_INT(orch_plan_from_json(&plan, json, strlen(json)), 0);
	if (!plan)
		return;
	orch_strvec_push(&set, "priority=high");
	orch_strvec_push(&set, "needs=big, fast");
	orch_strvec_push(&same, "needs=gpu");
	orch_strvec_push(&bad, "retries=many");
	CHECK_INT(orch_plan_set_task_json(&out, plan, "a", &set), 0);
	CHECK(out != NULL);
	if (out)
		CHECK_INT(orch_plan_from_json(&back, out, strlen(out)), 0);
	if (back) {
		CHECK_INT(back->tasks[0].priority, ORCH_PRIORITY_HIGH);
		CHECK_INT(back->tasks[0].needs.count, 2);
		CHECK_STR(back->tasks[0].needs.items[1], "fast");
		CHECK_STR(back->tasks[1].run, "y");
	}
	/* the plan itself is as it was */
	CHECK_INT(plan->tasks[0].priority, ORCH_PRIORITY_MEDIUM);
	CHECK_INT(plan->tasks[0].needs.count, 1);
	CHECK_STR(plan->tasks[0].needs.items[0], "gpu");
	free(out);
	out = NULL;
	CHECK_INT(orch_plan_set_task_json(&out, plan, "a", &same), 0);
	CHECK(out == NULL);
	CHECK_INT(orch_plan_set_task_json(&out, plan, "a", &bad),
	          ORCH_EINVALID);
	CHECK(strstr(orch_error_message(), "bad retries 'many'") != NULL);
	CHECK_INT(orch_plan_set_task_json(&out, plan, "c", &set),
	          ORCH_EINVALID);
	CHECK(strstr(orch_error_message(), "has no task 'c'") != NULL);
	CHECK(out == NULL);
	orch_strvec_free(&set);
	orch_strvec_free(&same);
	orch_strvec_free(&bad);
	orch_plan_free(back);
	orch_plan_free(plan);
}

/* What cJSON holds at a time, through its allocation hooks. */
static size_t cjson_bytes, cjson_peak;

static void *counting_malloc(size_t size)
{
	size_t *block = malloc(size + sizeof(max_align_t));

	if (!block)
		return NULL;
	*block = size;
	cjson_bytes += size;
	if (cjson_bytes > cjson_peak)
		cjson_peak = cjson_bytes;
	return (char *)block + sizeof(max_align_t);
}

static void counting_free(void *ptr)
{
	size_t *block;

	if (!ptr)
		return;
	block = (size_t *)(void *)((char *)ptr - sizeof(max_align_t));
	cjson_bytes -= *block;
	free(block);
}

TEST(plan_json_is_read_without_a_tree_of_all_its_tasks)
{
	cJSON_Hooks hooks = {counting_malloc, counting_free};
	orch_buf json = {0};
	orch_plan *plan = NULL;

	orch_buf_puts(&json, "{\"name\":\"big\",\"tasks\":[");
	for (int i = 0; i < 5000; i++)
		orch_buf_printf(&json,
		                "%s{\"id\":\"task-%d\",\"run\":\"make %d\","
		                "\"depends\":[\"task-%d\"],\"files\":[],"
		                "\"priority\":\"high\",\"line\":%d}",
		                i ? "," : "", i, i, i ? i - 1 : 1, i + 1);
	orch_buf_puts(&json, "]}");
	cjson_bytes = cjson_peak = 0;
	cJSON_InitHooks(&hooks);
	CHECK_INT(orch_plan_from_json(&plan, json.ptr, json.len), 0);
	cJSON_InitHooks(NULL);
	CHECK_INT(cjson_bytes, 0);
	/* one task's tree at a time: a few hundred bytes, not megabytes */
	CHECK(cjson_peak < 4096);
	if (plan) {
		CHECK_INT(plan->ntasks, 5000);
		CHECK_STR(plan->tasks[4999].depends.items[0], "task-4998");
		CHECK_INT(plan->tasks[4999].line, 5000);
		CHECK_INT(plan->tasks[7].priority, ORCH_PRIORITY_HIGH);
	}
	orch_plan_free(plan);
	orch_buf_free(&json);
}

TEST(priorities_have_names_both_ways)
{
	orch_priority priority;

	CHECK_STR(orch_priority_name(ORCH_PRIORITY_LOW), "low");
	CHECK_STR(orch_priority_name(ORCH_PRIORITY_CRITICAL), "critical");
	CHECK_INT(orch_priority_parse(&priority, "high"), 0);
	CHECK_INT(priority, ORCH_PRIORITY_HIGH);
	CHECK_INT(orch_priority_parse(&priority, "High"), -1);
}

TEST(a_generated_plan_of_100000_tasks_loads_and_validates)
{
	const char *dir = unit_tmpdir();
	size_t n = 100000, edges = 0;
	char path[600];
	orch_plan *plan = NULL;
	char *json = NULL;
	orch_plan *back = NULL;
	FILE *fp;

	snprintf(path, sizeof(path), "%s/big.ini", dir);
	if (!(fp = fopen(path, "w")))
		abort();
	fputs("[plan]\nname = big\n", fp);
	for (size_t i = 0; i < n; i++) {
		fprintf(fp, "[task \"task-%zu\"]\nrun = make part-%zu\n", i, i);
		if (i >= 5) {
			fprintf(fp,
			        "depends = task-%zu, task-%zu, task-%zu, "
			        "task-%zu, task-%zu\n",
			        i - 1, i - 2, i / 2, i / 3, i - 5);
			edges += 5;
		}
	}
	fclose(fp);
	CHECK_INT(orch_plan_load_ini(&plan, path), 0);
	if (!plan)
		return;
	CHECK_INT(plan->ntasks, n);
	CHECK_INT(orch_plan_validate(plan), 0);
	CHECK_STR(plan->tasks[99999].id, "task-99999");
	CHECK_INT(orch_plan_find(plan, "task-77777"), 77777);
	CHECK_INT(orch_plan_find(plan, "task-100000"), -1);
	CHECK_INT(plan->tasks[10].depends.count,
	          4); /* 10/2 == 10-5: kept once */
	CHECK_STR(plan->tasks[99999].depends.items[2], "task-49999");
	CHECK_STR(plan->tasks[99999].depends.items[3], "task-33333");
	CHECK_INT(plan->tasks[99999].line, 3 + 99999 * 3 - 5);
	CHECK(edges > 499000);
	CHECK_INT(orch_plan_to_json(&json, plan), 0);
	CHECK_INT(orch_plan_from_json(&back, json, json ? strlen(json) : 0), 0);
	if (back) {
		CHECK_INT(back->ntasks, n);
		CHECK_INT(orch_plan_find(back, "task-4242"), 4242);
	}
	free(json);
	orch_plan_free(back);
	orch_plan_free(plan);
}

TEST(env_names_are_read_in_plan_and_tasks_and_kept_in_plan_json)
{
	orch_plan *plan = NULL, *back = NULL;
	char *json = NULL;

	CHECK_INT(load_text(&plan, "env.ini",
	                    "[plan]\nenv = API_KEY, NPM_TOKEN ; a comment\n"
	                    "  EXTRA\n\n[task \"t\"]\nrun = true\n"
	                    "env = OWN_KEY API_KEY\n\n[task \"u\"]\n"
	                    "run = true\n"),
	          0);
	if (!plan)
		return;
	CHECK_INT(plan->env.count, 3);
	CHECK_STR(plan->env.items[0], "API_KEY");
	CHECK_STR(plan->env.items[2], "EXTRA");
	CHECK_INT(plan->tasks[0].env.count, 2);
	CHECK_STR(plan->tasks[0].env.items[0], "OWN_KEY");
	CHECK_INT(plan->tasks[1].env.count, 0);
	CHECK_INT(orch_plan_to_json(&json, plan), 0);
	/* names only: values are never part of a plan */
	CHECK(contains(json, "\"env\":[\"API_KEY\",\"NPM_TOKEN\""));
	CHECK_INT(orch_plan_from_json(&back, json, strlen(json)), 0);
	if (back) {
		CHECK_INT(back->env.count, 3);
		CHECK_INT(back->tasks[0].env.count, 2);
		CHECK_STR(back->tasks[0].env.items[1], "API_KEY");
	}
	orch_plan_free(back);
	free(json);
	orch_plan_free(plan);
}

TEST(bad_env_names_are_refused_naming_file_and_line)
{
	static const struct {
		const char *text, *expect;
	} cases[] = {
	    {"[plan]\nenv = API-KEY\n",
	     "env.ini:2: bad env name 'API-KEY' in [plan]"},
	    {"[plan]\nenv = A\n  1B\n", "env.ini:3: bad env name '1B'"},
	    {"[task \"t\"]\nrun = x\nenv = ORCHESTRATE_TASK\n",
	     "env.ini:3: bad env name 'ORCHESTRATE_TASK' in task 't'"},
	    {"[task \"t\"]\nrun = x\nenv = $(id)\n",
	     "env.ini:3: bad env name '$(id)'"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		orch_plan *plan = NULL;
		orch_error_clear();
		CHECK_INT(load_text(&plan, "env.ini", cases[i].text),
		          ORCH_EINVALID);
		CHECK(plan == NULL);
		if (!contains(orch_error_message(), cases[i].expect) &&
		    !unit_failed) {
			unit_failed = 1;
			snprintf(unit_why, sizeof(unit_why),
			         "case %zu: '%s' lacks '%s'", i,
			         orch_error_message(), cases[i].expect);
		}
		orch_plan_free(plan);
	}
	{
		orch_plan *plan = NULL;
		const char *json = "{\"name\":\"p\",\"env\":[\"A B\"]}";
		CHECK_INT(orch_plan_from_json(&plan, json, strlen(json)),
		          ORCH_EINVALID);
		orch_plan_free(plan);
	}
}

/* Load a JSON plan from text as p.json; 0 or the error code. */
static int load_json_text(orch_plan **out, const char *text)
{
	return orch_plan_load_json(out, "p.json", NULL, text, strlen(text));
}

TEST(json_plan_is_read_as_its_ini_form_would_be)
{
	orch_plan *plan = NULL;
	const orch_task *a, *b;

	CHECK_INT(load_json_text(
	              &plan,
	              "{\"agent\": \"run-agent ; x\", \"retries\": 3, "
	              "\"timeout\": \"30m\", \"merge\": \"auto\", \"tasks\": ["
	              "{\"id\": \"a\", \"run\": \"make a # kept\", "
	              "\"priority\": \"critical\", \"duration\": 90, "
	              "\"files\": [\"x\", \"y.c\"]},"
	              "{\"id\": \"b\", \"prompt\": \"line 1\\nline 2\", "
	              "\"depends\": \"a, a\", \"needs\": [\"gpu\", \"big\"], "
	              "\"retries\": 0, \"timeout\": 0, \"env\": \"K1, K2\"}]}"),
	          0);
	CHECK_INT(orch_plan_validate(plan), 0);
	CHECK_STR(plan->name, "p");
	CHECK_STR(plan->agent, "run-agent ; x");
	CHECK_INT(plan->retries, 3);
	CHECK_INT(plan->timeout_ms, 1800000);
	CHECK_INT(plan->merge_auto, 1);
	CHECK_INT(plan->ntasks, 2);
	a = &plan->tasks[0];
	b = &plan->tasks[1];
	CHECK_STR(a->run, "make a # kept");
	CHECK_INT(a->priority, ORCH_PRIORITY_CRITICAL);
	CHECK_INT(a->duration_ms, 90000);
	CHECK_INT(a->files.count, 2);
	CHECK_STR(b->prompt, "line 1\nline 2");
	CHECK_INT(b->depends.count, 1);
	CHECK_INT(b->needs.count, 2);
	CHECK_INT(b->retries, 0);
	CHECK_INT(b->timeout_ms, 0);
	CHECK_INT(b->env.count, 2);
	orch_plan_free(plan);
}

TEST(bad_json_plans_are_refused_naming_the_json_path)
{
	static const struct {
		const char *text;
		const char *expect;
	} cases[] = {
	    {"{\"tasks\": [{\"id\": \"a\", \"run\": \"x\", \"retries\": "
	     "\"many\"}]}",
	     "p.json: tasks[0].retries: bad retries 'many' in task 'a'"},
	    {"{\"tasks\": [{\"id\": \"a\", \"run\": true}]}",
	     "p.json: tasks[0].run: expected a string"},
	    {"{\"tasks\": [{\"id\": \"a\", \"run\": \"x\", \"files\": "
	     "[\"x, y.c\"]}]}",
	     "p.json: tasks[0].files[0]: 'x, y.c' is not one entry"},
	    {"{\"timeout\": \"soon\"}", "p.json: timeout: bad timeout 'soon'"},
	    {"{\"tasks\": [{\"id\": \"a\", \"run\": \"x\"}, 3]}",
	     "p.json: tasks[1]: expected an object"},
	    {"{\"name\": \"x\"} trailing", "p.json:1:"},
	};
	orch_plan *plan = NULL;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		CHECK_INT(load_json_text(&plan, cases[i].text), ORCH_EINVALID);
		CHECK(plan == NULL);
		CHECK(contains(orch_error_message(), cases[i].expect));
	}
}

TEST(json_plan_faults_found_by_validate_name_the_task_path)
{
	orch_plan *plan = NULL;

	CHECK_INT(load_json_text(&plan,
	                         "{\"tasks\": [{\"id\": \"a\", \"run\": \"x\"},"
	                         "{\"id\": \"b\", \"run\": \"x\", "
	                         "\"depends\": [\"c\"]}]}"),
	          0);
	CHECK_INT(orch_plan_validate(plan), ORCH_EINVALID);
	CHECK(contains(orch_error_message(),
	               "p.json: tasks[1].depends: task 'b' depends on "
	               "unknown task 'c'"));
	orch_plan_free(plan);
}

static const unit_test table[] = {
    T(good_plan_is_read_field_by_field),
    T(defaults_apply_when_the_plan_says_nothing),
    T(multi_line_prompt_joins_its_lines_with_newlines),
    T(continuation_lines_add_list_items),
    T(an_indented_key_right_after_a_section_is_a_key),
    T(windows_line_ends_and_a_byte_order_mark_are_accepted),
    T(semicolons_and_hashes_in_commands_and_prompts_are_kept),
    T(a_verbatim_value_keeps_its_semicolons_with_windows_line_ends),
    T(inline_comments_end_names_numbers_durations_and_lists),
    T(a_directory_is_not_a_plan_file),
    T(repeated_dependencies_are_kept_once),
    T(prompt_file_is_read_relative_to_the_plan),
    T(a_line_of_199_characters_fits_and_200_does_not),
    T(bad_plans_are_refused_naming_file_line_and_fault),
    T(a_missing_plan_file_is_not_found),
    T(whole_plan_faults_are_found_by_validate),
    T(cycle_is_reported_with_its_members_in_order),
    T(a_long_cycle_is_found_without_recursion_and_elided),
    T(tasks_added_by_hand_are_found),
    T(prompts_directory_makes_one_task_per_markdown_file),
    T(bad_prompt_files_are_refused_naming_file_and_line),
    T(json_round_trip_is_exact),
    T(the_stored_estimate_round_trips_and_may_be_absent),
    T(damaged_json_is_refused),
    T(plan_json_members_read_alike_in_any_order_and_spacing),
    T(plan_json_is_read_without_a_tree_of_all_its_tasks),
    T(set_task_json_changes_one_task_and_leaves_the_plan_as_it_is),
    T(plan_json_task_members_are_found_in_any_order_the_first_of_duplicates),
    T(priorities_have_names_both_ways),
    T(a_generated_plan_of_100000_tasks_loads_and_validates),
    T(env_names_are_read_in_plan_and_tasks_and_kept_in_plan_json),
    T(bad_env_names_are_refused_naming_file_and_line),
    T(json_plan_is_read_as_its_ini_form_would_be),
    T(bad_json_plans_are_refused_naming_the_json_path),
    T(json_plan_faults_found_by_validate_name_the_task_path),
};

UNIT_MAIN(table)
