#!/bin/sh
# Crash safety: kill -9 at many moments, Ctrl-C, two runs at once. Every
# task must run to completion exactly once (counted outside the repository).
. "$(dirname "$0")/test-lib.sh"

export ORCH_RETRY_BASE_MS=50
test_create_repo repo
cd repo
OUT="$TRASH_DIRECTORY/out"
mkdir -p "$OUT"
export OUT

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

test_expect_success 'kill -9 of run at 12 different moments: every task completes exactly once' '
	plan_of 8 crash &&
	git orchestrate plan crash.ini >/dev/null &&
	for delay in 0.05 0.1 0.15 0.2 0.25 0.3 0.35 0.4 0.5 0.6 0.7 0.9; do
		git orchestrate run -j 2 crash >/dev/null 2>&1 &
		pid=$! &&
		sleep $delay &&
		kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
		true
	done &&
	git orchestrate run -j 2 crash >final.out 2>&1 &&
	check_exactly_once 8 crash &&
	test_must_fail pgrep -f "sleep 0.2$$"
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
	(git orchestrate run -j 2 int >int.out 2>&1; echo $? >int.status) &
	for i in $(seq 100); do test -f "$OUT/i1.started" && test -f "$OUT/i2.started" && break; sleep 0.1; done &&
	pkill -INT -f "git-orchestrate run -j 2 int" &&
	for i in $(seq 150); do test -f int.status && break; sleep 0.1; done &&
	test "$(cat int.status)" = 130 &&
	test_grep "interrupted" int.out &&
	git orchestrate status int >st &&
	test_grep "^i1 *ready" st &&
	test_grep "^i2 *ready" st &&
	test_must_fail pgrep -f "sleep 100\.$$" &&
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

test_done
