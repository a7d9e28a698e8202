#!/bin/sh
# Shared discoveries: `git orchestrate share` and $ORCHESTRATE_SHARE_FILE in
# a task, the findings in the plan state, in $ORCHESTRATE_CONTEXT_FILE of
# the tasks that start later and in `log --shared`.
. "$(dirname "$0")/test-lib.sh"

ORCH_T_TOKEN="tok-$$-value"
export ORCH_T_TOKEN

test_expect_success 'setup' '
	test_create_repo repo &&
	cd repo &&
	cat >find.sh <<-\EOF &&
	git orchestrate share "the API needs header X-Trace" &&
	git orchestrate share "token $ORCH_T_TOKEN is in use" &&
	printf "written line one\nline two\n\n  \nsecond written\n" >>"$ORCHESTRATE_SHARE_FILE"
	EOF
	cat >flaky.sh <<-\EOF &&
	if [ "$ORCHESTRATE_ATTEMPT" = 1 ]; then
		git orchestrate share "attempt 1 learnt: use make -j1"
		exit 3
	fi
	cp "$ORCHESTRATE_CONTEXT_FILE" context.txt
	EOF
	git add find.sh flaky.sh &&
	git commit -q -m scripts &&
	cat >p.ini <<-\PLAN
	[plan]
	name = p
	retries = 1

	[task "finder"]
	env = ORCH_T_TOKEN
	run = sh find.sh

	[task "user"]
	depends = finder
	run = cp "$ORCHESTRATE_CONTEXT_FILE" context.txt

	[task "flaky"]
	depends = finder
	run = sh flaky.sh
	PLAN
	git orchestrate plan p.ini >/dev/null
'
cd repo || test_bail_out "setup left no repository"

test_expect_success 'a task with no findings yet gets an empty context file' '
	cat >first.ini <<-\PLAN &&
	[plan]
	name = first
	[task "alone"]
	run = test -f "$ORCHESTRATE_CONTEXT_FILE" && ! test -s "$ORCHESTRATE_CONTEXT_FILE" && test -f "$ORCHESTRATE_SHARE_FILE" && cp "$ORCHESTRATE_CONTEXT_FILE" context.txt
	PLAN
	git orchestrate plan first.ini >/dev/null &&
	git orchestrate run first >out &&
	git cat-file -e orchestrate/first/alone:context.txt
'

test_expect_success 'findings shared by a task reach the tasks that start later' '
	git orchestrate run p >out &&
	git show orchestrate/p/user:context.txt >context &&
	test_grep "^# Findings shared by tasks of plan p so far$" context &&
	test_grep "^## finder, attempt 1 (on local)$" context &&
	test_grep "^the API needs header X-Trace$" context &&
	test_grep "^written line one$" context &&
	test_grep "^second written$" context
'

test_expect_success 'a finding of several lines stays one, blank lines separate them' '
	sed -n "/^written line one$/,/^second written$/p" context >block &&
	printf "written line one\nline two\n\n## finder, attempt 1 (on local)\n\nsecond written\n" >expect &&
	test_cmp expect block
'

test_expect_success 'the values of env are redacted from findings' '
	test_grep "^token \[redacted ORCH_T_TOKEN\] is in use$" context &&
	git cat-file -p refs/orchestrate/plans/p:shared/finder.json >stored &&
	! grep -F "tok-$$-" stored context
'

test_expect_success 'findings are stored in the plan state, one JSON line each, with the outcome' '
	test $(wc -l <stored) = 4 &&
	test_grep "\"task\":\"finder\",\"attempt\":1,\"worker\":\"local\"" stored &&
	git log --format=%B refs/orchestrate/plans/p -- shared/finder.json >msg &&
	test_grep "^finder: done on local" msg &&
	test_grep "^finder: shared 4 findings$" msg
'

test_expect_success 'a failed attempt shares too: the next attempt reads it' '
	git show orchestrate/p/flaky:context.txt >flaky &&
	test_grep "^## flaky, attempt 1 (on local)$" flaky &&
	test_grep "^attempt 1 learnt: use make -j1$" flaky
'

test_expect_success 'log --shared lists every finding with who found it' '
	git orchestrate log p --shared >log &&
	test_grep "^[0-9-]* [0-9:]* finder (attempt 1, on local)$" log &&
	test_grep "^    the API needs header X-Trace$" log &&
	test_grep "^    line two$" log &&
	test_grep "^[0-9-]* [0-9:]* flaky (attempt 1, on local)$" log &&
	test $(grep -c "^[0-9]" log) = 5 &&
	git orchestrate log p flaky --shared >log-flaky &&
	test $(grep -c "^[0-9]" log-flaky) = 1 &&
	test_must_fail git orchestrate log p nosuch --shared 2>err &&
	test_grep "nosuch" err
'

test_expect_success 'share outside a task is refused' '
	(
		unset ORCHESTRATE_SHARE_FILE ORCHESTRATE_TASK &&
		test_expect_code 2 git orchestrate share "x" 2>err &&
		test_grep "not inside a running task" err
	)
'

test_expect_success 'share refuses an empty text, a blank line and a text over the limit' '
	: >share-file &&
	(
		ORCHESTRATE_SHARE_FILE=$PWD/share-file ORCHESTRATE_TASK=t &&
		export ORCHESTRATE_SHARE_FILE ORCHESTRATE_TASK &&
		test_expect_code 2 git orchestrate share "" 2>err &&
		test_grep "empty" err &&
		test_expect_code 2 git orchestrate share "one

two" 2>err &&
		test_grep "blank line" err &&
		big=$(printf "%070000d" 0) &&
		test_expect_code 2 git orchestrate share "$big" 2>err &&
		test_grep "65536" err &&
		git orchestrate share -- "-j1 is needed" &&
		test_must_fail git orchestrate share -x 2>err &&
		test_grep "unknown option" err
	) &&
	printf -- "-j1 is needed\n\n" >expect &&
	test_cmp expect share-file
'

test_expect_success 'an attempt recorded after a crash shares once' '
	cat >crash.ini <<-\PLAN &&
	[plan]
	name = crash
	[task "c"]
	run = git orchestrate share "found before the crash"
	PLAN
	git orchestrate plan crash.ini >/dev/null &&
	test_expect_code 137 env ORCH_TEST_CRASH_BEFORE_RECORD=1 git orchestrate run crash >/dev/null 2>&1 &&
	git orchestrate run crash >out 2>&1 &&
	test_grep "found on its branch" out &&
	git cat-file -p refs/orchestrate/plans/crash:shared/c.json >stored &&
	test $(wc -l <stored) = 1 &&
	test_grep "found before the crash" stored
'

test_expect_success 'a share file over the limit is not stored, and the run says so' '
	cat >big.ini <<-\PLAN &&
	[plan]
	name = big
	[task "loud"]
	run = printf "%070000d\n" 0 >>"$ORCHESTRATE_SHARE_FILE"
	PLAN
	git orchestrate plan big.ini >/dev/null &&
	git orchestrate run big >out 2>&1 &&
	test_grep "loud, attempt 1: the share file holds 70001 bytes" out &&
	test_must_fail git cat-file -e refs/orchestrate/plans/big:shared/loud.json &&
	git orchestrate log big loud >log &&
	test_grep "none of it is stored" log
'

test_done
