#!/bin/sh
# Progress: a live status line on a terminal, plain lines otherwise, and
# status --watch following a run to its end.
. "$(dirname "$0")/test-lib.sh"

test_expect_success 'setup' '
	test_create_repo repo &&
	cd repo &&
	cat >slow.ini <<-\PLAN
	[task "slow1"]
	run = sleep 2.5
	duration = 3s
	[task "slow2"]
	run = sleep 2.5
	duration = 3s
	[task "after"]
	run = true
	depends = slow1
	PLAN
'
cd repo || test_bail_out "setup left no repository"

test_expect_success 'on a terminal, run shows a live line with counts, elapsed and ETA' '
	git orchestrate plan slow.ini >/dev/null &&
	script -qfec "git orchestrate run -j 2 slow" typescript >/dev/null &&
	test_grep "0 done, 2 running, 1 queued, 0 failed; .* elapsed, ETA " typescript &&
	test_grep "slow1: done on local" typescript
'

test_expect_success 'without a terminal there is no animation' '
	git orchestrate plan --name slow-b slow.ini >/dev/null &&
	git orchestrate run -j 2 slow-b >out 2>err &&
	test_grep ! "ETA" out &&
	test_grep ! "ETA" err &&
	test_grep "slow2: done on local" out
'

test_expect_success 'status --watch refreshes until the plan ends' '
	git orchestrate plan --name slow-c slow.ini >/dev/null &&
	{ git orchestrate run -j 2 slow-c >run.out 2>&1 & } &&
	test_wait_for "test -n \"\$(git for-each-ref refs/orchestrate/locks/slow-c)\"" &&
	git orchestrate status --watch slow-c >watch.out &&
	test $(grep -c "^plan slow-c" watch.out) -ge 2 &&
	tail -n 5 watch.out >last &&
	test_grep "3 tasks: 3 done" last
'

test_expect_success 'with several plans, status without a name shows the running one' '
	git orchestrate plan --name slow-d slow.ini >/dev/null &&
	{ git orchestrate run -j 2 slow-d >run-d.out 2>&1 & } &&
	test_wait_for "test -n \"\$(git for-each-ref refs/orchestrate/locks/slow-d)\"" &&
	git orchestrate status >st &&
	test_grep "^plan slow-d" st &&
	test_wait_for "grep -q \"^plan slow-d\" run-d.out" &&
	test_expect_code 2 git orchestrate status 2>err &&
	test_grep "say which" err
'

test_done
