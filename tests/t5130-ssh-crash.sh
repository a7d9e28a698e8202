#!/bin/sh
# kill -9 of the orchestrator while tasks run on an SSH worker: on restart
# the remote attempt is found by its lease and pid file and stopped before
# the task runs again: never two copies at once.
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib-sshd.sh"

OUT="$TRASH_DIRECTORY/out"

test_expect_success 'setup: a worker and a repository' '
	sshd_start w1 && sshd_known_hosts "$SSHD_ROOT/known_hosts" w1 &&
	test_create_repo repo &&
	mkdir -p "$OUT"
'
cd repo || test_bail_out "setup left no repository"

# Each task holds a lock file while it runs (flock -n fails when another
# copy holds it, and retries = 0 makes that a failed task): so a second copy
# started while the first still runs cannot go unnoticed.
test_expect_success 'kill -9 mid-task: the remote attempt is stopped before the task runs again' '
	sshd_worker_ini w1 slots=2 >.git/orchestrate.ini &&
	printf "%s\n" "[ \"\$1\" = a ] && touch \"$OUT/a.started\"" \
		"sleep 5.5$$ && echo \"\$1\" >>\"$OUT/count\"" >"$OUT/t.sh" &&
	cat >sshcrash.ini <<-PLAN &&
	[plan]
	name = sshcrash
	retries = 0
	[task "a"]
	run = flock -n "$OUT/a.lk" sh "$OUT/t.sh" a && echo a >a.txt
	[task "b"]
	run = flock -n "$OUT/b.lk" sh "$OUT/t.sh" b && echo b >b.txt
	PLAN
	git orchestrate plan sshcrash.ini >/dev/null &&
	{ git-orchestrate run sshcrash >run1.out 2>&1 & } &&
	pid=$! &&
	test_wait_for "test -f \"$OUT/a.started\"" &&
	kill -9 $pid &&
	git orchestrate run sshcrash >run2.out 2>&1 &&
	test_grep "attempt 1 was interrupted" run2.out &&
	sort -u "$OUT/count" >got &&
	printf "a\nb\n" >expect &&
	test_cmp expect got &&
	git orchestrate status --json sshcrash >st.json &&
	test $(grep -c "\"state\":.*\"done\"" st.json) = 2 &&
	test "$(git show orchestrate/sshcrash/a:a.txt)" = a &&
	test_wait_for "! pgrep -f \"sleep 5.5$$\" >/dev/null" 10
'

test_done
