#!/bin/sh
# Shared discoveries on SSH workers: `git orchestrate share` there (no plan
# state to write to: it appends to $ORCHESTRATE_SHARE_FILE), the findings
# collected with the result, the context file of a later task on a worker.
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib-sshd.sh"

test_expect_success 'setup: a worker and a repository' '
	sshd_start w1 &&
	sshd_known_hosts "$SSHD_ROOT/known_hosts" w1 &&
	test_create_repo repo &&
	cd repo &&
	echo base >base.txt && git add base.txt && git commit -q -m base &&
	sshd_worker_ini w1 slots=2 >.git/orchestrate.ini
'
cd repo || test_bail_out "setup left no repository"

test_expect_success 'a finding shared on a worker reaches a later task on a worker' '
	cat >find.sh <<-EOF &&
	"$ORCH_BUILD/git-orchestrate" share "found on \$ORCHESTRATE_WORKER" &&
	printf "several\nlines\n" >>"\$ORCHESTRATE_SHARE_FILE" &&
	case \$ORCHESTRATE_SHARE_FILE in "\$(pwd)"/*) exit 9 ;; esac
	EOF
	git add find.sh && git commit -q -m script &&
	cat >s.ini <<-\PLAN &&
	[plan]
	name = s
	retries = 0

	[task "finder"]
	run = sh find.sh

	[task "user"]
	depends = finder
	run = cp "$ORCHESTRATE_CONTEXT_FILE" context.txt
	PLAN
	git orchestrate plan s.ini >/dev/null &&
	git orchestrate run s >out 2>&1 &&
	git show orchestrate/s/user:context.txt >context &&
	test_grep "^## finder, attempt 1 (on w1)$" context &&
	test_grep "^found on w1$" context &&
	sed -n "/^several$/,\$p" context >block &&
	printf "several\nlines\n" >expect &&
	test_cmp expect block
'

test_expect_success 'the findings are in the plan state and in log --shared' '
	git cat-file -p refs/orchestrate/plans/s:shared/finder.json >stored &&
	test $(wc -l <stored) = 2 &&
	test_grep "\"worker\":\"w1\"" stored &&
	git orchestrate log s --shared >log &&
	test_grep "finder (attempt 1, on w1)$" log &&
	test_grep "^    found on w1$" log
'

# A new file made and removed for each attempt costs more than one written
# over (see trash.h): the share and context files are the slot shell's,
# emptied and written by each attempt; what an attempt shared still goes
# with its own result (above).
test_expect_success 'the attempts of one slot shell write one share and one context file' '
	sshd_worker_ini w1 slots=1 >.git/orchestrate.ini &&
	cat >"$TRASH_DIRECTORY/files.sh" <<-EOF &&
	ls -i "\$ORCHESTRATE_SHARE_FILE" >>"$TRASH_DIRECTORY/files" &&
	ls -i "\$ORCHESTRATE_CONTEXT_FILE" >>"$TRASH_DIRECTORY/files" &&
	test ! -s "\$ORCHESTRATE_SHARE_FILE" || exit 1
	case \$1 in
	one) echo one >>"\$ORCHESTRATE_SHARE_FILE" ;;
	two) grep -q "^one\\$" "\$ORCHESTRATE_CONTEXT_FILE" ;;
	esac
	EOF
	printf "[plan]\nname = files\nretries = 0\n" >files.ini &&
	printf "[task \"f1\"]\nrun = sh \"%s\" one\n" "$TRASH_DIRECTORY/files.sh" >>files.ini &&
	printf "[task \"f2\"]\ndepends = f1\nrun = sh \"%s\" two\n" "$TRASH_DIRECTORY/files.sh" >>files.ini &&
	printf "[task \"f3\"]\ndepends = f2\nrun = sh \"%s\" three\n" "$TRASH_DIRECTORY/files.sh" >>files.ini &&
	git orchestrate plan files.ini >/dev/null &&
	{ git orchestrate run files >out 2>&1 || { cat out; false; }; } &&
	test $(wc -l <"$TRASH_DIRECTORY/files") = 6 &&
	# f1 shared: its share file went with its result, f2 has a new one
	sed -n "3,4p" "$TRASH_DIRECTORY/files" >f2 &&
	sed -n "5,6p" "$TRASH_DIRECTORY/files" >f3 &&
	test_cmp f2 f3 &&
	sed -n "2p" "$TRASH_DIRECTORY/files" >c1 &&
	sed -n "4p" "$TRASH_DIRECTORY/files" >c2 &&
	test_cmp c1 c2 &&
	sshd_worker_ini w1 slots=2 >.git/orchestrate.ini
'

test_expect_success 'the worker keeps no share or context file of a task' '
	! ls "$SSHD_ROOT"/w1/work/repo-*/run/*.share "$SSHD_ROOT"/w1/work/repo-*/run/*.context 2>/dev/null
'

# As in t5130: the orchestrator is stopped while the command runs, the
# command shares and ends while nobody reads it, the orchestrator is
# killed; the next run collects the attempt, its findings with it.
OUT=$TRASH_DIRECTORY/out

test_expect_success 'setup: a task that shares, then waits to be let go' '
	mkdir -p "$OUT" &&
	printf "%s\n" "touch \"$OUT/u.started\"" \
		"while [ ! -e \"$OUT/u.go\" ]; do sleep 0.1; done" \
		"printf \"found unwatched\\n\" >>\"\$ORCHESTRATE_SHARE_FILE\"" >"$OUT/u.sh" &&
	cat >unwatched.ini <<-PLAN &&
	[plan]
	name = unwatched
	retries = 0
	[task "u"]
	run = sh "$OUT/u.sh"
	PLAN
	git orchestrate plan unwatched.ini >/dev/null
'

test_expect_success 'an attempt that ended while nobody watched is collected with its findings' '
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
	git cat-file -p refs/orchestrate/plans/unwatched:shared/u.json >stored &&
	test $(wc -l <stored) = 1 &&
	test_grep "found unwatched" stored
'

test_expect_success 'a share file over the limit on a worker is not stored, and said' '
	cat >big.ini <<-\PLAN &&
	[plan]
	name = big
	[task "loud"]
	run = printf "%070000d\n" 0 >>"$ORCHESTRATE_SHARE_FILE"
	PLAN
	git orchestrate plan big.ini >/dev/null &&
	git orchestrate run big >out 2>&1 &&
	test_grep "loud, attempt 1: the share file holds 70001 bytes" out &&
	test_must_fail git cat-file -e refs/orchestrate/plans/big:shared/loud.json
'

test_done
