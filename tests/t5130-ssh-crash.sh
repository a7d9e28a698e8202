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

# The orchestrator is stopped (SIGSTOP) while the command runs, the command
# ends and the task script commits its result while nobody reads it, then
# the orchestrator is killed: the next run collects that result.
test_expect_success 'an attempt that ended while nobody watched is collected, not run again' '
	sshd_worker_ini w1 slots=2 >.git/orchestrate.ini &&
	printf "%s\n" "touch \"$OUT/u.started\"" \
		"while [ ! -e \"$OUT/u.go\" ]; do sleep 0.1; done" \
		"echo u >>\"$OUT/u.count\" && echo u >u.txt" >"$OUT/u.sh" &&
	cat >unwatched.ini <<-PLAN &&
	[plan]
	name = unwatched
	retries = 0
	[task "u"]
	run = sh "$OUT/u.sh"
	PLAN
	git orchestrate plan unwatched.ini >/dev/null &&
	git-orchestrate run unwatched >run1.out 2>&1 &
	pid=$!
	test_wait_for "test -f \"$OUT/u.started\"" &&
	kill -STOP $pid &&
	touch "$OUT/u.go" &&
	test_wait_for "ls \"$SSHD_ROOT\"/w1/work/*/run/unwatched+u.1.done" &&
	kill -9 $pid &&
	{ wait $pid; test $? = 137; } &&
	git orchestrate run unwatched >run2.out 2>&1 &&
	test_grep "attempt 1 left by a stopped run is adopted" run2.out &&
	test "$(cat "$OUT/u.count")" = u &&
	test "$(git show orchestrate/unwatched/u:u.txt)" = u &&
	git orchestrate status --json unwatched >st.json &&
	test_grep "\"state\":.*\"done\"" st.json
'

# Slots left busy by scripts that died are taken back; when several task
# scripts find them at once, each slot still goes to one task only (each
# task holds "<its worktree>.inuse" while it runs: a second task in the
# same worktree fails, and so would its commit).
test_expect_success 'stale slots found by 8 tasks at once: one task per slot' '
	sh -c "exit 0" &
	dead=$!
	wait $dead &&
	sshd_worker_ini w1 slots=8 >.git/orchestrate.ini &&
	top=$(echo "$SSHD_ROOT"/w1/work/*/slots) &&
	test -d "$top" &&
	i=0 &&
	while [ $i -lt 8 ]; do
		rm -rf "$top/$i.busy" && mkdir "$top/$i.busy" &&
		echo $dead >"$top/$i.busy/pid" || return 1
		i=$((i + 1))
	done &&
	{
		printf "[plan]\nname = slots\nretries = 0\n" &&
		for t in 1 2 3 4 5 6 7 8; do
			printf "[task \"t%s\"]\n" $t &&
			printf "run = mkdir \"\$PWD.inuse\" && echo %s >t%s.txt && sleep 1 && rmdir \"\$PWD.inuse\"\n" $t $t || return 1
		done
	} >slots.ini &&
	git orchestrate plan slots.ini >/dev/null &&
	git orchestrate run slots >run.out 2>&1 &&
	git orchestrate status --json slots >st.json &&
	test $(grep -c "\"state\":.*\"done\"" st.json) = 8
'

test_done
