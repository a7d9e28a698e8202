#!/bin/sh
# Crash safety: kill -9 at many moments, Ctrl-C, two runs at once. Every
# task must run to completion exactly once (counted outside the repository).
. "$(dirname "$0")/test-lib.sh"

export ORCH_RETRY_BASE_MS=50
OUT="$TRASH_DIRECTORY/out"
export OUT

test_expect_success 'setup' '
	test_create_repo repo &&
	mkdir -p "$OUT"
'
cd repo || test_bail_out "setup left no repository"

# plan_of N NAME: N tasks (a chain and a fan), each sleeping a little and
# counting its completion in $OUT/NAME.count
plan_of () {
	{
		printf "[plan]\nname = %s\n" "$2"
		i=1
		while [ $i -le "$1" ]; do
			printf "[task \"t%d\"]\n" $i
			printf "run = sleep 0.2$$ && echo \$ORCHESTRATE_TASK >>\"\$OUT/%s.count\" && echo %d >f%d.txt\n" "$2" $i $i
			if [ $i -gt 2 ] && [ $((i % 3)) = 0 ]; then
				printf "depends = t%d\n" $((i - 2))
			fi
			i=$((i + 1))
		done
	} >"$2.ini"
}

# each task id exactly once in the count file, and done in the state
check_exactly_once () {
	sort "$OUT/$2.count" >got &&
	i=1 && : >want &&
	while [ $i -le "$1" ]; do echo t$i >>want; i=$((i + 1)); done &&
	sort want >want.sorted &&
	test_cmp want.sorted got &&
	git orchestrate status --json "$2" >s.json &&
	test $(grep -c "\"state\":.*\"done\"" s.json) = "$1"
}

# crash_moment STEP: start a run of plan "crash" and kill -9 it once it has
# added STEP commits to the plan's state (at once for 0), or once it has
# ended by itself (nothing left to do). The binary is started directly:
# killing the "git" wrapper would leave the orchestrator running.
crash_moment () {
	commits=$(git rev-list --count refs/orchestrate/plans/crash) || return 1
	: >moment.out
	git-orchestrate run -j 2 crash >moment.out 2>&1 &
	pid=$!
	test_wait_for "test \$(git rev-list --count refs/orchestrate/plans/crash) -ge $((commits + $1)) ||
		grep -q \"^plan crash:\\|^error:\" moment.out" || return 1
	# the kill fails if the run has ended already: its status below says so
	kill -9 $pid 2>/dev/null
	wait $pid
	status=$?
	# killed, or it had finished the plan already
	if [ $status != 137 ] && [ $status != 0 ]; then
		echo "run exited with $status:" && cat moment.out
		return 1
	fi
}

test_expect_success 'kill -9 of run at 12 different moments: every task completes exactly once' '
	plan_of 8 crash &&
	git orchestrate plan crash.ini >/dev/null &&
	for step in 0 1 2 3 4 5 0 1 2 3 4 5; do
		crash_moment $step || return 1
	done &&
	git orchestrate run -j 2 crash >final.out 2>&1 &&
	check_exactly_once 8 crash &&
	! pgrep -f "sleep 0.2$$"
'

test_expect_success 'after kill -9 no lease is left and no two result commits exist per attempt' '
	test -z "$(git for-each-ref refs/orchestrate/locks)" &&
	for i in 1 2 3 4 5 6 7 8; do
		git log --grep="^Orchestrate-Task: t$i\$" --format=%H orchestrate/crash/t$i >results &&
		test $(wc -l <results) = 1 || return 1
	done
'

test_expect_success 'a result committed but not recorded is recorded, not re-run' '
	cat >rec.ini <<-PLAN &&
	[task "r"]
	run = echo r >>"\$OUT/rec.count" && echo r >r.txt
	PLAN
	git orchestrate plan rec.ini >/dev/null &&
	test_expect_code 137 env ORCH_TEST_CRASH_BEFORE_RECORD=1 git orchestrate run rec >/dev/null 2>&1 &&
	commit=$(git rev-parse orchestrate/rec/r) &&
	git show orchestrate/plans/rec:tasks/r.json >r.json &&
	test_grep "running" r.json &&
	git orchestrate run rec >out 2>&1 &&
	test_grep "found on its branch" out &&
	test "$(git rev-parse orchestrate/rec/r)" = "$commit" &&
	git orchestrate status --json rec >s.json &&
	test_grep "\"commit\":.*\"$commit\"" s.json &&
	test $(wc -l <"$OUT/rec.count") = 1
'

test_expect_success 'Ctrl-C stops running tasks, records them ready and exits 130' '
	cat >int.ini <<-PLAN &&
	[task "i1"]
	run = touch "\$OUT/i1.started"; test -f "\$OUT/resume" || sleep 100.$$
	[task "i2"]
	run = touch "\$OUT/i2.started"; test -f "\$OUT/resume" || sleep 100.$$
	PLAN
	git orchestrate plan int.ini >/dev/null &&
	(git-orchestrate run -j 2 int >int.out 2>&1 & echo $! >int.pid; wait $!; echo $? >int.status) &
	test_wait_for "test -s int.pid && test -f \"$OUT/i1.started\" && test -f \"$OUT/i2.started\"" &&
	kill -INT $(cat int.pid) &&
	test_wait_for "test -s int.status" &&
	test "$(cat int.status)" = 130 &&
	test_grep "interrupted" int.out &&
	git orchestrate status int >st &&
	test_grep "^i1 *ready" st &&
	test_grep "^i2 *ready" st &&
	! pgrep -f "sleep 100\.$$" &&
	test -z "$(git for-each-ref refs/orchestrate/locks)"
'

test_expect_success 'after Ctrl-C, run again resumes' '
	touch "$OUT/resume" &&
	git orchestrate cancel int i2 &&
	test_expect_code 1 git orchestrate run int >out 2>&1 &&
	git orchestrate status int >st &&
	test_grep "^i1 *done" st &&
	test_grep "^i2 *cancelled" st
'

test_expect_success 'two runs of one plan at once share the work; no task runs twice' '
	plan_of 10 twin &&
	git orchestrate plan twin.ini >/dev/null &&
	{ git orchestrate run -j 2 twin >a.out 2>&1 & }
	a=$!
	{ git orchestrate run -j 2 twin >b.out 2>&1 & }
	b=$!
	wait $a && wait $b &&
	check_exactly_once 10 twin
'

# dead_lease PLAN TASK: the lease of TASK held by a process that is gone
# (on this host, unexpired), as a run killed with it leaves it
dead_lease () {
	sh -c "exit 0" &
	dead=$!
	wait $dead
	expires=$(( $(date +%s) * 1000 + 600000 )) &&
	printf "{\"host\":\"%s\",\"pid\":%d,\"token\":\"%d-1-1\",\"expires\":%s,\"task\":\"%s\",\"worker\":\"local\",\"attempt\":1,\"locator\":\"x\"}" \
		"$(hostname)" $dead $dead $expires "$2" >lease.json &&
	git update-ref "refs/orchestrate/locks/$1/task/$2" $(git hash-object -w lease.json)
}

# A run killed after taking a task's lease but before recording its claim
# leaves the lease of a dead process on a task that is still ready.
test_expect_success 'a task lease left by a run that died before its claim is broken' '
	cat >claim.ini <<-PLAN &&
	[task "c"]
	run = echo c >>"\$OUT/claim.count" && echo c >c.txt
	PLAN
	git orchestrate plan claim.ini >/dev/null &&
	dead_lease claim c &&
	timeout 60 git orchestrate run claim >out 2>&1 &&
	git orchestrate status claim >st &&
	test_grep "^c *done" st &&
	test $(wc -l <"$OUT/claim.count") = 1 &&
	test -z "$(git for-each-ref refs/orchestrate/locks/claim)"
'

test_expect_success 'the lease of a done task left by a run killed before it gave it back is removed' '
	dead_lease claim c &&
	timeout 60 git orchestrate run claim >out 2>&1 &&
	test $(wc -l <"$OUT/claim.count") = 1 &&
	test -z "$(git for-each-ref refs/orchestrate/locks/claim)"
'

test_expect_success 'a HEAD.lock or index.lock a killed run left in a slot does not stop the next task' '
	printf "[task \"hl\"]\nrun = echo hl >hl.txt\n[task \"hlb\"]\nrun = echo hlb >hlb.txt\ndepends = hl\n" >hl.ini &&
	git orchestrate plan hl.ini >/dev/null &&
	test_expect_code 137 env ORCH_TEST_CRASH_BEFORE_RECORD=1 git orchestrate run -j 1 hl >/dev/null 2>&1 &&
	ls -d .git/worktrees/orch-slot-* >slots &&
	test -s slots &&
	for d in $(cat slots); do
		: >"$d/HEAD.lock" && : >"$d/index.lock" || return 1
	done &&
	git orchestrate run -j 1 hl >out 2>&1 &&
	git orchestrate status hl >st &&
	test_grep "^hl *done" st &&
	test_grep "^hlb *done  *1 " st
'

# kill -9 while a start wrote the task branch leaves <branch>.lock: the next
# attempt (which holds the task's lease) is not stopped by it.
test_expect_success 'a task branch lock left by a killed run does not stop the task' '
	printf "[task \"lk\"]\nrun = echo lk >lk.txt\n" >lk.ini &&
	git orchestrate plan lk.ini >/dev/null &&
	mkdir -p .git/refs/heads/orchestrate/lk &&
	: >.git/refs/heads/orchestrate/lk/lk.lock &&
	git orchestrate run lk >out 2>&1 &&
	test "$(git show orchestrate/lk/lk:lk.txt)" = lk &&
	test_path_is_missing .git/refs/heads/orchestrate/lk/lk.lock
'

# A run killed while it held a slot between two attempts: the slot is
# taken by the next run (its lock names a dead process and an attempt
# that ended), not left locked.
test_expect_success 'a slot a killed run held between attempts is taken again' '
	cat >hold.ini <<-PLAN &&
	[task "quick"]
	run = echo "\$PWD" >"\$OUT/hold.slot"
	[task "slow"]
	run = touch "\$OUT/hold.started" && while [ ! -e "\$OUT/hold.go" ]; do sleep 0.1; done
	PLAN
	git orchestrate plan hold.ini >/dev/null &&
	git-orchestrate run -j 2 hold >hold.out 2>&1 &
	pid=$!
	test_wait_for "test -f \"$OUT/hold.started\" &&
		git show orchestrate/plans/hold:tasks/quick.json | grep -q \"\\\"done\\\"\"" &&
	slot=$(cat "$OUT/hold.slot") &&
	test -d "$slot.lock" &&
	kill -9 $pid &&
	{ wait $pid; test $? = 137; } &&
	printf "[task \"next\"]\nrun = echo \"\$PWD\" >\"\$OUT/next.slot\"\n" >next.ini &&
	git orchestrate plan next.ini >/dev/null &&
	git orchestrate run -j 1 next >next.out 2>&1 &&
	test "$(cat "$OUT/next.slot")" = "$slot" &&
	touch "$OUT/hold.go" &&
	git orchestrate run hold >hold2.out 2>&1 &&
	git orchestrate status hold >st &&
	test_grep "^slow *done" st
'

# The attempt of a run killed meanwhile, as an earlier version left it: the
# slot in a file of its own, not in the pid file. The next run adopts it.
test_expect_success 'an attempt whose slot is in a .slot file is adopted' '
	printf "[task \"old\"]\nrun = touch \"\$OUT/old.started\" && while [ ! -e \"\$OUT/old.go\" ]; do sleep 0.1; done && echo old >>\"\$OUT/old.count\" && echo old >old.txt\n" >old.ini &&
	git orchestrate plan old.ini >/dev/null &&
	git-orchestrate run old >old.out 2>&1 &
	pid=$!
	test_wait_for "test -f \"$OUT/old.started\"" &&
	kill -9 $pid &&
	{ wait $pid; test $? = 137; } &&
	run="$(git rev-parse --git-common-dir)/orchestrate/run" &&
	read -r pgid slot <"$run/old+old.pid" &&
	test -n "$slot" &&
	echo "$pgid" >"$run/old+old.pid" &&
	echo "$slot" >"$run/old+old.slot" &&
	touch "$OUT/old.go" &&
	git orchestrate run old >old2.out 2>&1 &&
	test_grep "attempt 1 left by a stopped run is adopted" old2.out &&
	test "$(cat "$OUT/old.count")" = old &&
	test "$(git show orchestrate/old/old:old.txt)" = old
'

test_done
