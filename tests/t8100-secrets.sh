#!/bin/sh
# Secrets: `env = NAME...` in a plan, a task and a worker; `env-file` on a
# worker. A value reaches the task locally and over SSH, never a command
# line (ps), an object of the repository or the worker's workdir, and is
# redacted from stored output, also when printed in two pieces.
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib-sshd.sh"

# Values with blanks, quotes and shell syntax; unique to this run.
ORCH_T_SECRET="sk-$$-Plan value 'q' \"dq\" \$(touch /tmp/pwned-$$) end"
ORCH_T_TASKKEY="tk-$$-task-only-value"
ORCH_T_WKEY="wk-$$-worker-value"
ORCH_T_ML="ml-$$-first line
second 'line'"
export ORCH_T_SECRET ORCH_T_TASKKEY ORCH_T_WKEY ORCH_T_ML
unset ORCH_T_UNSET

# no_secret_in FILE...: no value of this run appears in the files
no_secret_in () {
	for value in "sk-$$-" "tk-$$-" "wk-$$-" "ml-$$-"; do
		if grep -F -- "$value" "$@" >&2; then
			echo "no_secret_in: '$value' found (above)" >&2
			return 1
		fi
	done
}

# no_secret_in_objects: no object of the repository holds a value
no_secret_in_objects () {
	git cat-file --batch-all-objects --batch >"$TRASH_DIRECTORY/objects" &&
	test -s "$TRASH_DIRECTORY/objects" &&
	no_secret_in "$TRASH_DIRECTORY/objects"
}

test_expect_success 'setup: a repository, the expected values outside it' '
	printf "%s" "$ORCH_T_SECRET" >expect-secret &&
	printf "%s" "$ORCH_T_TASKKEY" >expect-taskkey &&
	printf "%s" "$ORCH_T_WKEY" >expect-wkey &&
	printf "%s" "$ORCH_T_ML" >expect-ml &&
	test_create_repo repo
'
cd repo || test_bail_out "setup left no repository"

test_expect_success 'an env name that is no variable name is refused at plan time, naming the line' '
	printf "[plan]\nname = badname\n\n[task \"t\"]\nrun = true\nenv = API-KEY\n" >badname.ini &&
	test_expect_code 2 git orchestrate plan badname.ini 2>err &&
	test_grep "badname.ini:6: bad env name .API-KEY." err &&
	! git rev-parse -q --verify refs/orchestrate/plans/badname
'

test_expect_success 'an unset name is refused with exit 2 before any task runs' '
	cat >unset.ini <<-PLAN &&
	[plan]
	name = unset
	env = ORCH_T_SECRET

	[task "a"]
	run = touch "$TRASH_DIRECTORY/unset-ran"

	[task "b"]
	run = touch "$TRASH_DIRECTORY/unset-ran"
	env = ORCH_T_UNSET
	PLAN
	git orchestrate plan unset.ini >/dev/null &&
	orch_refs >before &&
	test_expect_code 2 git orchestrate run unset 2>err &&
	test_grep "task .b. of plan .unset. names environment variable .ORCH_T_UNSET. in env, which is not set" err &&
	test_grep "hint: export ORCH_T_UNSET" err &&
	test_path_is_missing "$TRASH_DIRECTORY/unset-ran" &&
	orch_refs >after &&
	test_cmp before after
'

test_expect_success 'a worker naming an unset variable is refused the same way' '
	printf "[worker \"here\"]\nhost = local\nenv = ORCH_T_UNSET\n" >.git/orchestrate.ini &&
	printf "[plan]\nname = wunset\n\n[task \"a\"]\nrun = touch \"%s/wunset-ran\"\n" "$TRASH_DIRECTORY" >wunset.ini &&
	git orchestrate plan wunset.ini >/dev/null &&
	test_expect_code 2 git orchestrate run wunset 2>err &&
	test_grep "worker .here. (.*orchestrate.ini:1) names environment variable .ORCH_T_UNSET." err &&
	test_path_is_missing "$TRASH_DIRECTORY/wunset-ran" &&
	rm .git/orchestrate.ini
'

test_expect_success 'setup: task scripts outside the repository' '
	cat >"$TRASH_DIRECTORY/check.sh" <<-\EOF &&
	t=$(dirname "$0")
	test "$ORCH_T_SECRET" = "$(cat "$t/expect-secret")" &&
	test "$ORCH_T_TASKKEY" = "$(cat "$t/expect-taskkey")" &&
	test "$ORCH_T_ML" = "$(cat "$t/expect-ml")" &&
	echo "key=$ORCH_T_SECRET task=$ORCH_T_TASKKEY" &&
	printf "ml=%s.\n" "$ORCH_T_ML" &&
	echo done >result.txt
	EOF
	cat >"$TRASH_DIRECTORY/halves.sh" <<-\EOF &&
	v=$ORCH_T_SECRET h=$((${#v} / 2))
	first=$(printf "%s" "$v" | cut -c1-$h)
	printf "marker-one %s" "$first"
	for i in $(seq 600); do
		test -f "$TRASH_DIRECTORY/split-go" && break
		sleep 0.1
	done
	printf "%s marker-two\n" "${v#"$first"}"
	EOF
	cat >"$TRASH_DIRECTORY/remote.sh" <<-\EOF
	t=$(dirname "$0")
	touch "$t/remote-started"
	for i in $(seq 600); do
		test -f "$t/remote-go" && break
		sleep 0.1
	done
	test "$SSHD_WORKER" = w1 &&
	test "$ORCH_T_SECRET" = "$(cat "$t/expect-secret")" &&
	test "$ORCH_T_TASKKEY" = "$(cat "$t/expect-taskkey")" &&
	test "$ORCH_T_WKEY" = "$(cat "$t/expect-wkey")" &&
	test "$ORCH_T_ML" = "$(cat "$t/expect-ml")" &&
	test "$FROM_FILE" = "file value with = and \$(no) expansion" &&
	test "$ALSO_FILE" = exported &&
	test "$(cat "$ORCHESTRATE_PROMPT_FILE")" = "a prompt after the variables" &&
	echo "remote key=$ORCH_T_SECRET worker=$ORCH_T_WKEY" &&
	echo ok-8100 >result.txt
	EOF
'

test_expect_success 'plan and task variables reach a local task; what it prints is stored redacted' '
	cat >loc.ini <<-PLAN &&
	[plan]
	name = loc
	retries = 0
	env = ORCH_T_SECRET, ORCH_T_ML

	[task "check"]
	env = ORCH_T_TASKKEY
	run = sh "$TRASH_DIRECTORY/check.sh"
	PLAN
	git orchestrate plan loc.ini >/dev/null &&
	git orchestrate run loc --json >run.json 2>run.err &&
	test "$(git show orchestrate/loc/check:result.txt)" = done &&
	git orchestrate log loc check >log.out &&
	test_grep "key=\[redacted ORCH_T_SECRET\] task=\[redacted ORCH_T_TASKKEY\]" log.out &&
	test_grep "ml=\[redacted ORCH_T_ML\]\.$" log.out &&
	git show orchestrate/plans/loc:logs/check.log >stored &&
	test_grep "redacted ORCH_T_SECRET" stored &&
	git show orchestrate/plans/loc:plan.json >plan.json &&
	test_grep "\"env\":\[\"ORCH_T_SECRET\",\"ORCH_T_ML\"\]" plan.json &&
	no_secret_in log.out stored run.json run.err plan.json &&
	test ! -e /tmp/pwned-$$
'

test_expect_success 'a value printed in two pieces, read apart, is still redacted' '
	cat >split.ini <<-PLAN &&
	[plan]
	name = split
	retries = 0
	env = ORCH_T_SECRET

	[task "halves"]
	run = sh "$TRASH_DIRECTORY/halves.sh"
	PLAN
	git orchestrate plan split.ini >/dev/null &&
	{ ORCH_LOG_FLUSH_MS=100 git orchestrate run split >split.out 2>&1; echo $? >split.status; } &
	test_wait_for "git show orchestrate/plans/split:logs/halves.log 2>/dev/null | grep -q marker-one" &&
	touch "$TRASH_DIRECTORY/split-go" &&
	test_wait_for "test -s split.status" &&
	test "$(cat split.status)" = 0 &&
	git orchestrate log split halves >log.out &&
	test_grep "marker-one \[redacted ORCH_T_SECRET\] marker-two" log.out &&
	no_secret_in log.out split.out
'

test_expect_success 'locally, no object of the repository holds a value' '
	no_secret_in_objects &&
	! grep -rF -e "sk-$$-" -e "tk-$$-" -e "ml-$$-" .git/orchestrate 2>/dev/null
'

test_expect_success 'setup: an SSH worker with env and an env-file' '
	sshd_start w1 &&
	sshd_known_hosts "$SSHD_ROOT/known_hosts" w1 &&
	cat >"$SSHD_ROOT/agent.env" <<-\EOF &&
	# keys kept on the worker
	FROM_FILE=file value with = and $(no) expansion

	export ALSO_FILE=exported
	ORCH_T_WKEY=the env-file loses to env
	EOF
	sshd_worker_ini w1 env=ORCH_T_WKEY env-file="$SSHD_ROOT/agent.env" >.git/orchestrate.ini
'

test_expect_success 'variables reach a task over SSH, never on a command line of the worker' '
	cat >remote.ini <<-PLAN &&
	[plan]
	name = remote
	retries = 0
	env = ORCH_T_SECRET, ORCH_T_ML

	[task "check"]
	env = ORCH_T_TASKKEY
	prompt = a prompt after the variables
	run = sh "$TRASH_DIRECTORY/remote.sh"
	PLAN
	git orchestrate plan remote.ini >/dev/null &&
	{ git orchestrate run remote >remote.out 2>&1; echo $? >remote.status; } &
	test_wait_for "test -f \"$TRASH_DIRECTORY/remote-started\"" &&
	ps -ww -eo args >ps.out &&
	touch "$TRASH_DIRECTORY/remote-go" &&
	grep -q "remote\.sh" ps.out &&
	no_secret_in ps.out &&
	test_wait_for "test -s remote.status" &&
	{ test "$(cat remote.status)" = 0 || { cat remote.out; git orchestrate log remote check; false; }; } &&
	test "$(git show orchestrate/remote/check:result.txt)" = ok-8100 &&
	git orchestrate log remote check >log.out &&
	test_grep "remote key=\[redacted ORCH_T_SECRET\] worker=\[redacted ORCH_T_WKEY\]" log.out &&
	no_secret_in log.out remote.out
'

test_expect_success 'after the SSH attempt: no value in the worker workdir nor in any object' '
	! grep -rF -e "sk-$$-" -e "tk-$$-" -e "wk-$$-" -e "ml-$$-" "$SSHD_ROOT/w1/work" &&
	no_secret_in_objects
'

test_expect_success 'a bad env-file line fails the task, naming the file and line but not the value' '
	printf "GOOD=1\nnot a key line sk-$$-in-file\n" >"$SSHD_ROOT/bad.env" &&
	sshd_worker_ini w1 env-file="$SSHD_ROOT/bad.env" >.git/orchestrate.ini &&
	printf "[plan]\nname = badfile\nretries = 0\n\n[task \"t\"]\nrun = touch \"%s/badfile-ran\"\n" "$TRASH_DIRECTORY" >badfile.ini &&
	git orchestrate plan badfile.ini >/dev/null &&
	test_expect_code 1 git orchestrate run badfile >out 2>&1 &&
	test_path_is_missing "$TRASH_DIRECTORY/badfile-ran" &&
	git orchestrate log badfile t >log.out &&
	test_grep "bad.env:2: not a KEY=VALUE line" log.out &&
	no_secret_in log.out
'

test_done
