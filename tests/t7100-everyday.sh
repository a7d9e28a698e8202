#!/bin/sh
# Everyday operation: list stored plans, forget one, a task's log, and the
# hints that lead there.
. "$(dirname "$0")/test-lib.sh"

export ORCH_RETRY_BASE_MS=50
OUT="$TRASH_DIRECTORY/out"
export OUT

test_expect_success 'setup' '
	test_create_repo repo &&
	mkdir -p "$OUT"
'
cd repo || test_bail_out "setup left no repository"

test_expect_success 'plans with none stored prints nothing and an empty list' '
	git orchestrate plans >out 2>err &&
	! test -s out &&
	test_grep "no plan is stored" err &&
	git orchestrate plans --json >out.json &&
	test_grep "\"plans\":[[:space:]]*\\[\\]" out.json
'

test_expect_success 'plans lists stored plans sorted, with base, counts and last change' '
	cat >zeta.ini <<-PLAN &&
	[plan]
	retries = 0
	[task "ok"]
	run = echo ok >ok.txt
	[task "bad"]
	run = echo "bad output here"; exit 3
	[task "after"]
	run = true
	depends = bad
	PLAN
	cat >alpha.ini <<-PLAN &&
	[task "one"]
	run = true
	[task "two"]
	run = true
	PLAN
	git orchestrate plan zeta.ini >/dev/null &&
	git orchestrate plan alpha.ini >/dev/null &&
	test_expect_code 1 git orchestrate run zeta >/dev/null 2>&1 &&
	git orchestrate plans >out &&
	head -n 1 out >header &&
	test_grep "^PLAN *BASE *TASKS *LAST CHANGE *STATES" header &&
	sed -n "2p" out >first &&
	sed -n "3p" out >second &&
	test_grep "^alpha *main *2 .*2 ready$" first &&
	test_grep "^zeta *main *3 .*1 done, 1 failed, 1 skipped$" second &&
	test_grep "[0-9]\{4\}-[0-9][0-9]-[0-9][0-9] [0-9:]\{8\}" second &&
	git orchestrate plans --json >out.json &&
	test_grep "\"name\":[[:space:]]*\"alpha\"" out.json &&
	test_grep "\"failed\":[[:space:]]*1" out.json &&
	test_grep "\"running\":[[:space:]]*false" out.json &&
	test_grep "\"head\":[[:space:]]*\"$(git rev-parse refs/orchestrate/plans/zeta)\"" out.json &&
	test_grep "\"last_change\":" out.json
'

test_expect_success 'plans refuses arguments and unknown options' '
	test_expect_code 2 git orchestrate plans zeta 2>err &&
	test_grep "unexpected argument" err &&
	test_expect_code 2 git orchestrate plans --bogus 2>err &&
	test_grep "unknown option" err
'

test_expect_success 'status with several plans stored hints at plans' '
	test_expect_code 2 git orchestrate status 2>err &&
	test_grep "2 plans are stored" err &&
	test_grep "^hint:.*git orchestrate plans" err
'

test_expect_success 'a taken plan name hints at forget' '
	test_expect_code 2 git orchestrate plan zeta.ini 2>err &&
	test_grep "already exists" err &&
	test_grep "^hint:.*git orchestrate forget zeta" err &&
	test_grep ! "clean zeta" err
'

test_expect_success 'status points at the log of a failed task' '
	git orchestrate status zeta >st &&
	test_grep "^bad *failed" st &&
	test_grep "^hint: .git orchestrate log zeta bad. shows the transitions and output of bad" st
'

test_expect_success 'log PLAN TASK shows the task transitions and its output' '
	git orchestrate log zeta bad >out &&
	test_grep "^[0-9a-f]\{7,\} [0-9-]* [0-9:]* bad: failed on local .*exit status 3" out &&
	test_grep "bad: started on local (attempt 1)" out &&
	test_grep "plan stored: 3 tasks" out &&
	test_grep ! "ok: " out &&
	test_grep "^output of bad, attempt 1 (logs/bad.log):" out &&
	test_grep "^bad output here$" out &&
	git orchestrate log zeta after >out &&
	test_grep "after: skipped" out &&
	test_grep "^no output recorded for after" out
'

test_expect_success 'log PLAN TASK passes git log options after --' '
	git orchestrate log zeta ok -- -p >out &&
	test_grep "^+{\"state\":\"done\"" out &&
	test_grep "^--- a/tasks/ok.json" out
'

test_expect_success 'log PLAN TASK of an unknown task or bad id: exit 2' '
	test_expect_code 2 git orchestrate log zeta nosuch 2>err &&
	test_grep "plan .zeta. has no task .nosuch." err &&
	test_grep "^hint:.*git orchestrate status zeta" err &&
	test_expect_code 2 git orchestrate log zeta "a;b" 2>err &&
	test_grep "invalid task id" err &&
	test_expect_code 2 git orchestrate log zeta ok extra 2>err &&
	test_grep "unexpected argument" err
'

test_expect_success 'log PLAN TASK does not page when stdout is not a terminal' '
	GIT_PAGER="sed s/^/paged:/ >\"$TRASH_DIRECTORY/paged.out\"" \
		git orchestrate log zeta bad >out &&
	test_grep "^bad output here$" out &&
	test_path_is_missing "$TRASH_DIRECTORY/paged.out"
'

test_expect_success 'log PLAN TASK pages on a terminal: GIT_PAGER, core.pager, PAGER' '
	GIT_PAGER="sed s/^/paged:/ >\"$TRASH_DIRECTORY/paged.out\"" \
		script -qec "git orchestrate log zeta bad" /dev/null >/dev/null &&
	test_grep "^paged:[0-9a-f]* .* bad: failed" "$TRASH_DIRECTORY/paged.out" &&
	test_grep "^paged:bad output here" "$TRASH_DIRECTORY/paged.out" &&
	git config core.pager "sed s/^/core:/ >\"$TRASH_DIRECTORY/core.out\"" &&
	env -u GIT_PAGER script -qec "git orchestrate log zeta bad" /dev/null >/dev/null &&
	test_grep "^core:bad output here" "$TRASH_DIRECTORY/core.out" &&
	git config --unset core.pager &&
	env -u GIT_PAGER PAGER="sed s/^/env:/ >\"$TRASH_DIRECTORY/env.out\"" \
		script -qec "git orchestrate log zeta bad" /dev/null >/dev/null &&
	test_grep "^env:bad output here" "$TRASH_DIRECTORY/env.out"
'

test_expect_success 'status --json and run --json list the local worker that ran tasks' '
	git orchestrate status --json zeta >s.json &&
	tr -d "\n\t " <s.json >flat &&
	test_grep "\"workers\":\[{\"name\":\"local\",\"down\":false" flat &&
	cat >w.ini <<-PLAN &&
	[task "w"]
	run = true
	PLAN
	git orchestrate plan w.ini >/dev/null &&
	git orchestrate run w --json >r.json &&
	tr -d "\n\t " <r.json >flat &&
	test_grep "\"workers\":\[{\"name\":\"local\",\"down\":false" flat &&
	git orchestrate forget w >/dev/null
'

test_expect_success 'orchestrate.agent is not copied into a plan whose tasks all have a run' '
	git config orchestrate.agent "cat \"\$ORCHESTRATE_PROMPT_FILE\" >out.md" &&
	cat >cmds.ini <<-PLAN &&
	[task "c"]
	run = true
	PLAN
	git orchestrate plan cmds.ini >/dev/null &&
	git show refs/orchestrate/plans/cmds:plan.json >plan.json &&
	test_grep "\"agent\":[[:space:]]*null" plan.json &&
	mkdir -p prompts &&
	echo "Do the thing." >prompts/p1.md &&
	git orchestrate plan --prompts prompts --name withprompts >/dev/null &&
	git show refs/orchestrate/plans/withprompts:plan.json >plan.json &&
	test_grep "\"agent\":.*ORCHESTRATE_PROMPT_FILE" plan.json &&
	git config --unset orchestrate.agent &&
	git orchestrate forget cmds >/dev/null &&
	git orchestrate forget withprompts >/dev/null
'

test_expect_success '--prompts without an agent hints at git config orchestrate.agent' '
	test_might_fail git config --unset orchestrate.agent &&
	mkdir -p prompts &&
	echo "Do the thing." >prompts/p1.md &&
	orch_refs >before &&
	test_expect_code 2 git orchestrate plan --prompts prompts 2>err &&
	test_grep "has a prompt but the plan sets no agent" err &&
	test_grep "^hint: set the agent with .git config orchestrate.agent COMMAND." err &&
	test_grep ! "\[plan\]" err &&
	orch_refs >after &&
	test_cmp before after
'

test_expect_success 'workers check of an unreachable worker hints at something other than itself' '
	cat >down.ini <<-INI &&
	[worker "w9"]
	host = 127.0.0.1
	port = 1
	INI
	test_expect_code 1 git orchestrate --config down.ini workers check >out 2>err &&
	test_grep "^w9: UNUSABLE" out &&
	test_grep "cannot connect to 127.0.0.1 port 1" err &&
	test_grep "^hint: .*port 1.*ssh -p 1 127.0.0.1" err &&
	test_grep ! "workers check" err
'

test_expect_success 'forget of a plan that is not stored changes nothing (exit 2)' '
	orch_refs >before &&
	test_expect_code 2 git orchestrate forget nosuch 2>err &&
	test_grep "nosuch" err &&
	orch_refs >after &&
	test_cmp before after &&
	test_expect_code 2 git orchestrate forget 2>err &&
	test_grep "usage:" err &&
	test_expect_code 2 git orchestrate forget "../x" 2>err &&
	test_grep "invalid plan name" err
'

test_expect_success 'forget deletes the plan ref, task branches and kept worktrees; notes stay' '
	wt=$(git orchestrate status --json zeta | sed -n "s/.*\"worktree\":[[:space:]]*\"\\(.*\\)\".*/\\1/p") &&
	test -n "$wt" &&
	test -d "$wt" &&
	ok=$(git rev-parse orchestrate/zeta/ok) &&
	notes=$(git rev-parse refs/notes/orchestrate) &&
	git orchestrate forget zeta >out &&
	test_grep "deleted branch orchestrate/zeta/ok (was $(git rev-parse --short=7 $ok))" out &&
	test_grep "forgot plan zeta" out &&
	test_grep "1 kept worktree" out &&
	! test -d "$wt" &&
	test_must_fail git rev-parse --verify -q refs/orchestrate/plans/zeta &&
	test -z "$(git for-each-ref refs/heads/orchestrate/zeta refs/orchestrate/locks/zeta)" &&
	test "$(git rev-parse refs/notes/orchestrate)" = "$notes" &&
	git rev-parse --verify -q refs/orchestrate/plans/alpha >/dev/null &&
	git orchestrate plans >out &&
	test_grep ! zeta out
'

test_expect_success 'a forgotten plan name can be stored and run again' '
	git orchestrate plan zeta.ini >/dev/null &&
	test_expect_code 1 git orchestrate run zeta >/dev/null 2>&1 &&
	git orchestrate status zeta >st &&
	test_grep "^ok *done" st &&
	git orchestrate forget zeta >/dev/null
'

test_expect_success 'forget refuses while a run holds a lease, naming it (exit 1)' '
	cat >busy.ini <<-PLAN &&
	[task "slow"]
	run = touch "\$OUT/slow.started"; while ! test -f "\$OUT/slow.go"; do sleep 0.1; done
	PLAN
	git orchestrate plan busy.ini >/dev/null &&
	(git-orchestrate run busy >busy.out 2>&1; echo $? >busy.status) &
	test_wait_for "test -f \"$OUT/slow.started\"" &&
	test_wait_for "git rev-parse --verify -q refs/orchestrate/locks/busy/task/slow >/dev/null" &&
	orch_refs >before &&
	test_expect_code 1 git orchestrate forget busy 2>err &&
	test_grep "plan .busy. is running: task .slow. is held by pid [0-9]" err &&
	test_grep "refs/orchestrate/locks/busy/task/slow" err &&
	test_grep "^hint: stop that run" err &&
	git orchestrate plans >out &&
	test_grep "^busy .*(running)$" out &&
	touch "$OUT/slow.go" &&
	test_wait_for "test -s busy.status" &&
	test "$(cat busy.status)" = 0 &&
	git orchestrate forget busy >out &&
	test_grep "deleted branch orchestrate/busy/slow" out &&
	test_must_fail git rev-parse --verify -q refs/orchestrate/plans/busy
'

test_done
