#!/bin/sh
# Worktrees kept on an SSH worker for failed attempts: clean removes them
# there (the one the state names, and one the state forgot), a successful
# retry removes the one kept for the earlier attempt, a worker that cannot
# be reached is named. Real sshd on 127.0.0.1.
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib-sshd.sh"

OUT="$TRASH_DIRECTORY/out"

test_expect_success 'setup: a worker and a repository' '
	sshd_start w1 && sshd_known_hosts "$SSHD_ROOT/known_hosts" w1 &&
	test_create_repo repo &&
	mkdir -p "$OUT"
'
cd repo || test_bail_out "setup left no repository"

# A task that fails (keeping its worktree) until $OUT/<plan>.ok exists; once
# $OUT/<plan>.hold exists, its attempts wait for $OUT/<plan>.go first.
cat >"$OUT/kept.sh" <<SCRIPT
echo partial >partial.txt
if [ -f "$OUT/\$ORCHESTRATE_PLAN.hold" ]; then
	touch "$OUT/\$ORCHESTRATE_PLAN.started"
	i=0
	while [ ! -f "$OUT/\$ORCHESTRATE_PLAN.go" ] && [ \$i -lt 600 ]; do
		sleep 0.1
		i=\$((i + 1))
	done
fi
test -f "$OUT/\$ORCHESTRATE_PLAN.ok"
SCRIPT

# kept_slot PLAN: the path on the worker of the worktree task "k" kept
# (status --json says "w1:PATH").
kept_slot () {
	git orchestrate status --json "$1" >s.json &&
	sed -n "s/.*\"worktree\":[[:space:]]*\"w1:\\(.*\\)\".*/\\1/p" s.json
}

# plan_k PLAN: a plan of one task "k" running kept.sh, without retries.
plan_k () {
	printf "[plan]\nname = %s\nretries = 0\n[task \"k\"]\nrun = sh \"%s\"\n" "$1" "$OUT/kept.sh" >"$1.ini" &&
	git orchestrate plan "$1.ini" >/dev/null
}

test_expect_success 'clean removes a worktree kept on an SSH worker' '
	sshd_worker_ini w1 >.git/orchestrate.ini &&
	plan_k kept1 &&
	test_expect_code 1 git orchestrate run kept1 >out 2>&1 &&
	wt=$(kept_slot kept1) &&
	test -n "$wt" &&
	test_path_is_file "$wt/partial.txt" &&
	test_path_is_file "$wt.busy/kept" &&
	echo "$wt" >"$OUT/kept1.slot" &&
	git orchestrate clean kept1 >out &&
	test_grep "kept1: removed 1 worktree," out &&
	test_path_is_missing "$wt" &&
	test_path_is_missing "$wt.busy" &&
	git orchestrate status --json kept1 >s.json &&
	test_grep ! "\"worktree\"" s.json &&
	git orchestrate clean kept1 >out &&
	test_grep "kept1: removed 0 worktrees" out
'

test_expect_success 'the freed slot is used again by the next task' '
	wt=$(cat "$OUT/kept1.slot") &&
	touch "$OUT/kept1.ok" &&
	git orchestrate retry kept1 k >/dev/null &&
	git orchestrate run kept1 >out 2>&1 &&
	test "$(git show orchestrate/kept1/k:partial.txt)" = partial &&
	test -d "$wt" &&
	test_path_is_missing "$wt.busy"
'

test_expect_success 'a retry that succeeds removes the worktree kept on the worker' '
	plan_k kept2 &&
	test_expect_code 1 git orchestrate run kept2 >out 2>&1 &&
	wt=$(kept_slot kept2) &&
	test_path_is_file "$wt/partial.txt" &&
	touch "$OUT/kept2.ok" &&
	git orchestrate retry kept2 k >/dev/null &&
	git orchestrate run kept2 >out 2>&1 &&
	test_grep ! "cannot remove the worktree" out &&
	test_path_is_missing "$wt.busy" &&
	test_path_is_missing "$wt/partial.txt"
'

test_expect_success 'clean removes a worktree kept on the worker that the state forgot' '
	plan_k kept3 &&
	test_expect_code 1 git orchestrate run kept3 >out 2>&1 &&
	wt=$(kept_slot kept3) &&
	test_path_is_file "$wt/partial.txt" &&
	touch "$OUT/kept3.hold" &&
	git orchestrate retry kept3 k >/dev/null || exit 1
	git-orchestrate run kept3 >run.out 2>&1 &
	run_pid=$!
	test_wait_for "test -f \"$OUT/kept3.started\"" &&
	kill -INT $run_pid &&
	test_wait_for "! kill -0 $run_pid 2>/dev/null" 30 &&
	git orchestrate status --json kept3 >s.json &&
	test_grep ! "\"worktree\"" s.json &&
	test_path_is_file "$wt/partial.txt" &&
	git orchestrate clean kept3 >out &&
	test_grep "kept3: removed 1 worktree," out &&
	test_path_is_missing "$wt" &&
	test_path_is_missing "$wt.busy"
'

test_expect_success 'clean names an SSH worker it cannot reach' '
	plan_k kept4 &&
	test_expect_code 1 git orchestrate run kept4 >out 2>&1 &&
	wt=$(kept_slot kept4) &&
	sshd_stop w1 &&
	test_must_fail git orchestrate clean kept4 >out 2>err &&
	test_grep "w1" err &&
	test_grep "hint: bring worker .w1. back" err &&
	test_path_is_file "$wt/partial.txt" &&
	git orchestrate status --json kept4 >s.json &&
	test_grep "\"worktree\"" s.json
'

test_done
