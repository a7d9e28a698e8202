#!/bin/sh
# Failures: retries with backoff, skipped dependents, timeouts that leave no
# process behind, cancel and retry, exit statuses.
. "$(dirname "$0")/test-lib.sh"

export ORCH_RETRY_BASE_MS=50
OUT="$TRASH_DIRECTORY/out"
export OUT

test_expect_success 'setup' '
	test_create_repo repo &&
	mkdir -p "$OUT"
'
cd repo || test_bail_out "setup left no repository"

test_expect_success 'a flaky task succeeds on its second attempt' '
	cat >flaky.ini <<-PLAN &&
	[plan]
	retries = 2
	[task "flaky"]
	run = echo attempt >>"\$OUT/flaky" && test \$(wc -l <"\$OUT/flaky") -ge 2
	PLAN
	git orchestrate plan flaky.ini >/dev/null &&
	git orchestrate run flaky >out &&
	test_grep "will retry" out &&
	test $(wc -l <"$OUT/flaky") = 2 &&
	git orchestrate status --json flaky >s.json &&
	test_grep "\"attempts\":.*2" s.json &&
	git log -1 --format=%B orchestrate/flaky/flaky >msg &&
	test_grep "^Orchestrate-Attempt: 2$" msg
'

test_expect_success 'a failing task fails after its retries, dependents are skipped, exit 1' '
	cat >fail.ini <<-PLAN &&
	[plan]
	retries = 1
	[task "bad"]
	run = echo tried >>"\$OUT/bad"; echo partial >partial.txt; exit 3
	[task "after"]
	run = echo ran >>"\$OUT/after"
	depends = bad
	[task "after2"]
	run = echo ran >>"\$OUT/after"
	depends = after
	[task "independent"]
	run = true
	PLAN
	git orchestrate plan fail.ini >/dev/null &&
	test_expect_code 1 git orchestrate run fail >out &&
	test $(wc -l <"$OUT/bad") = 2 &&
	test_path_is_missing "$OUT/after" &&
	git orchestrate status fail >st &&
	test_grep "^bad *failed *2" st &&
	test_grep "^after *skipped" st &&
	test_grep "^after2 *skipped" st &&
	test_grep "^independent *done" st &&
	test_grep "exit status 3" st
'

test_expect_success 'a task that cannot start says why' '
	cat >nostart.ini <<-\PLAN &&
	[plan]
	retries = 0
	[task "t"]
	prompt = hello
	run = true
	PLAN
	git orchestrate plan nostart.ini >/dev/null &&
	mkdir -p "$(git rev-parse --git-dir)/orchestrate/run/nostart+t.prompt/x" &&
	test_must_fail git orchestrate run nostart >/dev/null &&
	git orchestrate status nostart >st &&
	test_grep "^t *failed.*cannot start: cannot write .*nostart+t.prompt.: Is a directory" st &&
	rm -r "$(git rev-parse --git-dir)/orchestrate/run/nostart+t.prompt"
'

test_expect_success 'the worktree of a failed task is kept and status shows where' '
	git orchestrate status --json fail >s.json &&
	wt=$(sed -n "s/.*\"worktree\":[[:space:]]*\"\\(.*\\)\".*/\\1/p" s.json) &&
	test -n "$wt" &&
	test_path_is_file "$wt/partial.txt" &&
	git orchestrate status fail >st &&
	test_grep "worktree kept: $wt" st
'

test_expect_success 'retry makes a failed task and its skipped dependents run again' '
	git orchestrate retry fail bad >out &&
	git orchestrate status fail >st &&
	test_grep "^bad *ready" st &&
	test_grep "^after *pending" st &&
	test_expect_code 1 git orchestrate run fail >out &&
	test $(wc -l <"$OUT/bad") = 3
'

test_expect_success 'retry refuses a task that did not fail' '
	test_expect_code 2 git orchestrate retry fail independent 2>err &&
	test_grep "independent" err
'

test_expect_success 'clean removes kept worktrees and stale locks' '
	git orchestrate clean fail >out &&
	test_grep "removed 1 worktree" out &&
	git orchestrate status --json fail >s.json &&
	test_grep ! "\"worktree\"" s.json
'

# A task that fails (keeping its worktree) until $OUT/<plan>.ok exists; once
# $OUT/<plan>.hold exists, its attempts wait for $OUT/<plan>.go first.
cat >"$OUT/kept.sh" <<\SCRIPT
echo partial >partial.txt
if [ -f "$OUT/$ORCHESTRATE_PLAN.hold" ]; then
	touch "$OUT/$ORCHESTRATE_PLAN.started"
	i=0
	while [ ! -f "$OUT/$ORCHESTRATE_PLAN.go" ] && [ $i -lt 600 ]; do
		sleep 0.1
		i=$((i + 1))
	done
fi
test -f "$OUT/$ORCHESTRATE_PLAN.ok"
SCRIPT

# kept_worktree PLAN: the worktree its task "k" kept, from status --json.
kept_worktree () {
	git orchestrate status --json "$1" >s.json &&
	sed -n "s/.*\"worktree\":[[:space:]]*\"\\(.*\\)\".*/\\1/p" s.json
}

test_expect_success 'the kept worktree of a failed task is removed once its retry succeeds' '
	printf "[plan]\nretries = 0\n[task \"k\"]\nrun = sh \"%s\"\n" "$OUT/kept.sh" >kept1.ini &&
	git orchestrate plan kept1.ini >/dev/null &&
	test_expect_code 1 git orchestrate run kept1 >out &&
	wt=$(kept_worktree kept1) &&
	test -n "$wt" &&
	test_path_is_file "$wt/partial.txt" &&
	touch "$OUT/kept1.ok" &&
	git orchestrate retry kept1 k >out &&
	git orchestrate run kept1 >out &&
	git orchestrate status kept1 >st &&
	test_grep "^k *done" st &&
	test_path_is_missing "$wt" &&
	test_path_is_missing "$wt.lock" &&
	git orchestrate clean kept1 >out &&
	test_grep "removed 0 worktrees" out
'

test_expect_success 'clean removes a kept worktree its state forgot (a retry was interrupted)' '
	printf "[plan]\nretries = 0\n[task \"k\"]\nrun = sh \"%s\"\n" "$OUT/kept.sh" >kept2.ini &&
	git orchestrate plan kept2.ini >/dev/null &&
	test_expect_code 1 git orchestrate run kept2 >out &&
	wt=$(kept_worktree kept2) &&
	test -n "$wt" &&
	touch "$OUT/kept2.hold" &&
	git orchestrate retry kept2 k >out || exit 1
	git-orchestrate run kept2 >run.out 2>&1 &
	run_pid=$!
	test_wait_for "test -f \"$OUT/kept2.started\"" &&
	kill -INT $run_pid &&
	test_wait_for "! kill -0 $run_pid 2>/dev/null" 30 &&
	git orchestrate status kept2 >st &&
	test_grep "^k *ready" st &&
	test_path_is_file "$wt/partial.txt" &&
	git orchestrate clean kept2 >out &&
	test_grep "removed 1 worktree" out &&
	test_path_is_missing "$wt" &&
	test_path_is_missing "$wt.lock"
'

test_expect_success 'a hanging task is killed by its timeout with its whole process group' '
	cat >hang.ini <<-PLAN &&
	[plan]
	retries = 0
	timeout = 1s
	[task "hang"]
	run = (sleep 311.$$; echo leaked >>"\$OUT/leak") & sleep 312.$$; echo leaked >>"\$OUT/leak"
	PLAN
	git orchestrate plan hang.ini >/dev/null &&
	test_expect_code 1 git orchestrate run hang >out &&
	git orchestrate status hang >st &&
	test_grep "^hang *timeout" st &&
	test_grep "timed out after 1.0s" st &&
	! pgrep -f "sleep 31[12]\.$$"
'

test_expect_success 'cancel a ready task: it never runs, dependents are skipped' '
	cat >c.ini <<-PLAN &&
	[task "c1"]
	run = echo ran >>"\$OUT/c1"
	[task "c2"]
	run = echo ran >>"\$OUT/c2"
	depends = c1
	PLAN
	git orchestrate plan c.ini >/dev/null &&
	git orchestrate cancel c c1 >out &&
	test_expect_code 1 git orchestrate run c >out &&
	test_path_is_missing "$OUT/c1" &&
	git orchestrate status c >st &&
	test_grep "^c1 *cancelled" st &&
	test_grep "^c2 *skipped" st
'

test_expect_success 'cancel a running task stops it' '
	cat >cr.ini <<-PLAN &&
	[task "long"]
	run = touch "\$OUT/long-started"; sleep 200.$$
	PLAN
	git orchestrate plan cr.ini >/dev/null &&
	(git orchestrate run cr >run.out 2>&1; echo $? >run.status) &
	test_wait_for "test -f \"$OUT/long-started\"" &&
	git orchestrate cancel cr long &&
	test_wait_for "test -s run.status" &&
	test "$(cat run.status)" = 1 &&
	git orchestrate status cr >st &&
	test_grep "^long *cancelled" st &&
	! pgrep -f "sleep 200\.$$"
'

test_expect_success 'cancel of an unknown task names it' '
	test_expect_code 2 git orchestrate cancel cr nosuch 2>err &&
	test_grep "nosuch" err
'

test_expect_success 'tasks declaring overlapping files never run at the same time' '
	cat >ov.ini <<-PLAN &&
	[task "o1"]
	run = mkdir "\$OUT/ovlock" && sleep 0.5 && rmdir "\$OUT/ovlock"
	files = src/*.c
	[task "o2"]
	run = mkdir "\$OUT/ovlock" && sleep 0.5 && rmdir "\$OUT/ovlock"
	files = src/main.c
	[task "o3"]
	run = mkdir "\$OUT/ovlock" && sleep 0.5 && rmdir "\$OUT/ovlock"
	files = src
	PLAN
	git orchestrate plan ov.ini >/dev/null &&
	git orchestrate run -j 3 ov >out
'

test_expect_success '-j 1 runs one task at a time; -j 3 runs them together' '
	cat >par.ini <<-PLAN &&
	[task "p1"]
	run = mkdir "\$OUT/plock" && sleep 0.3 && rmdir "\$OUT/plock"
	[task "p2"]
	run = mkdir "\$OUT/plock" && sleep 0.3 && rmdir "\$OUT/plock"
	[task "p3"]
	run = mkdir "\$OUT/plock" && sleep 0.3 && rmdir "\$OUT/plock"
	PLAN
	git orchestrate plan par.ini >/dev/null &&
	git orchestrate run -j 1 par >out &&
	cat >par2.ini <<-PLAN &&
	[plan]
	retries = 0
	[task "q1"]
	run = touch "\$OUT/q1" && for i in \$(seq 100); do test -f "\$OUT/q2" && test -f "\$OUT/q3" && exit 0; sleep 0.1; done; exit 1
	[task "q2"]
	run = touch "\$OUT/q2" && for i in \$(seq 100); do test -f "\$OUT/q1" && test -f "\$OUT/q3" && exit 0; sleep 0.1; done; exit 1
	[task "q3"]
	run = touch "\$OUT/q3" && for i in \$(seq 100); do test -f "\$OUT/q1" && test -f "\$OUT/q2" && exit 0; sleep 0.1; done; exit 1
	PLAN
	git orchestrate plan par2.ini >/dev/null &&
	git orchestrate run -j 3 par2 >out
'

test_expect_success 'tasks run by priority, then by longest remaining path' '
	rm -f "$OUT/order" &&
	cat >prio.ini <<-PLAN &&
	[task "low"]
	run = echo low >>"\$OUT/order"
	priority = low
	[task "short"]
	run = echo short >>"\$OUT/order"
	duration = 1s
	[task "long"]
	run = echo long >>"\$OUT/order"
	duration = 1m
	[task "crit"]
	run = echo crit >>"\$OUT/order"
	priority = critical
	duration = 1s
	PLAN
	git orchestrate plan prio.ini >/dev/null &&
	git orchestrate run -j 1 prio >out &&
	printf "crit\nlong\nshort\nlow\n" >expect &&
	test_cmp expect "$OUT/order"
'

test_expect_success 'a task runs only on a worker with every capability it needs' '
	cat >workers.ini <<-CONF &&
	[worker "cpu"]
	host = local
	slots = 1
	capabilities = build
	[worker "gpu"]
	host = local
	slots = 1
	capabilities = build, cuda
	CONF
	cat >caps.ini <<-PLAN &&
	[task "train"]
	run = echo "\$ORCHESTRATE_WORKER" >where
	needs = cuda
	[task "compile"]
	run = echo "\$ORCHESTRATE_WORKER" >where
	needs = build
	PLAN
	git orchestrate --config workers.ini plan caps.ini >/dev/null &&
	git orchestrate --config workers.ini run caps >out &&
	test "$(git show orchestrate/caps/train:where)" = gpu &&
	test_expect_code 2 git orchestrate --config workers.ini run --worker nosuch caps 2>err &&
	test_grep "nosuch" err
'

test_expect_success 'dependencies whose results conflict make the task a conflict' '
	cat >dc.ini <<-PLAN &&
	[task "left"]
	run = echo left >same.txt
	[task "right"]
	run = echo right >same.txt
	[task "join"]
	run = true
	depends = left, right
	PLAN
	git orchestrate plan dc.ini >/dev/null &&
	test_expect_code 1 git orchestrate run dc >out &&
	git orchestrate status dc >st &&
	test_grep "^join *conflict" st &&
	test_grep "same.txt" st
'

test_done
