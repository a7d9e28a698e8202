#!/bin/sh
# kill -9 of the orchestrator while tasks run on an SSH worker: on restart
# the remote attempt is found by its lease and pid file and stopped before
# the task runs again; every task completes exactly once.
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib-sshd.sh"

sshd_start w1 && sshd_known_hosts "$SSHD_ROOT/known_hosts" w1
test_create_repo repo
cd repo
OUT="$TRASH_DIRECTORY/out"
mkdir -p "$OUT"

test_expect_success 'kill -9 mid-task: the remote attempt is stopped, the task completes once' '
	sshd_worker_ini w1 slots=2 >.git/orchestrate.ini &&
	cat >sshcrash.ini <<-PLAN &&
	[plan]
	name = sshcrash
	[task "a"]
	run = touch "$OUT/a.started" && sleep 3.3 && echo a >>"$OUT/count" && echo a >a.txt
	[task "b"]
	run = sleep 3.3 && echo b >>"$OUT/count" && echo b >b.txt
	PLAN
	git orchestrate plan sshcrash.ini >/dev/null &&
	{ git orchestrate run sshcrash >run1.out 2>&1 & } &&
	pid=$! &&
	for i in $(seq 200); do test -f "$OUT/a.started" && break; sleep 0.1; done &&
	test -f "$OUT/a.started" &&
	kill -9 $(pgrep -f "git-orchestrate run sshcrash") &&
	git orchestrate run sshcrash >run2.out 2>&1 &&
	sort "$OUT/count" >got &&
	printf "a\nb\n" >expect &&
	test_cmp expect got &&
	git orchestrate status --json sshcrash >st.json &&
	test $(grep -c "\"state\":.*\"done\"" st.json) = 2 &&
	test "$(git show orchestrate/sshcrash/a:a.txt)" = a &&
	test_must_fail pgrep -f "^sh -c touch" &&
	test_must_fail pgrep -f "^sh -c sleep 3.3" &&
	for i in $(seq 100); do pgrep -f "sleep 3.3 && echo" >/dev/null || break; sleep 0.1; done &&
	test_must_fail pgrep -f "sleep 3.3 && echo"
'

test_done
