#!/bin/sh
# A worker that cannot be reached is marked down with its reason; status
# shows it; with every worker down, run says so and waits (no spinning)
# until interrupted.
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib-sshd.sh"

test_expect_success 'setup: a worker and a repository' '
	sshd_start w1 && sshd_known_hosts "$SSHD_ROOT/known_hosts" w1 &&
	test_create_repo repo
'
cd repo || test_bail_out "setup left no repository"

test_expect_success 'with its only worker down, run waits, says so, and status shows why' '
	sshd_worker_ini w1 >.git/orchestrate.ini &&
	printf "[task \"t\"]\nrun = true\n" >down.ini &&
	git orchestrate plan down.ini >/dev/null &&
	sshd_stop w1 &&
	{ git-orchestrate run down >run.out 2>&1 & } &&
	pid=$! &&
	test_wait_for "grep -q \"every worker is down\" run.out" &&
	test_grep "worker w1 is down: cannot connect" run.out &&
	test_grep "every worker is down; waiting" run.out &&
	ps -o time= -p $pid >cpu1 &&
	# not a wait for an event: the window in which it must use no CPU
	sleep 2 &&
	ps -o time= -p $pid >cpu2 &&
	test_cmp cpu1 cpu2 &&
	git orchestrate status down >st &&
	test_grep "worker w1 is down: cannot connect" st &&
	git orchestrate status --json down >st.json &&
	test_grep "\"down\":.*true" st.json &&
	kill -INT $pid &&
	test_wait_for "! kill -0 $pid 2>/dev/null" 10 &&
	git orchestrate status down >st &&
	test_grep "^t *ready" st
'

test_done
