#!/bin/sh
# Re-run on conflict on an SSH worker: the re-run starts from the base as it
# is now and finds the conflicting paths in $ORCHESTRATE_CONFLICT_FILES on
# the worker. A real sshd on 127.0.0.1.
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib-sshd.sh"

test_expect_success 'setup: a worker and a repository' '
	sshd_start w1 &&
	sshd_known_hosts "$SSHD_ROOT/known_hosts" w1 &&
	test_create_repo repo &&
	cd repo &&
	printf "one\ntwo\n" >"shared file.txt" &&
	git add "shared file.txt" && git commit -q -m "a file to edit" &&
	sshd_worker_ini w1 slots=1 >.git/orchestrate.ini &&
	printf "p.ini\n" >.git/info/exclude &&
	cat >"$TRASH_DIRECTORY/second.sh" <<-\SCRIPT &&
	if test -n "${ORCHESTRATE_CONFLICT_FILES-}"
	then
		cp "$ORCHESTRATE_CONFLICT_FILES" seen.txt &&
		echo "$ORCHESTRATE_BASE" >base.txt &&
		echo "$ORCHESTRATE_WORKER" >worker.txt &&
		sed -e "1s/\$/+second/" "shared file.txt" >s
	else
		sed -e 1s/one/ONE-second/ "shared file.txt" >s
	fi &&
	mv s "shared file.txt"
	SCRIPT
	cat >p.ini <<-PLAN
	[plan]
	name = p
	retries = 0

	[task "first"]
	run = sed -e 1s/one/ONE-first/ "shared file.txt" >s && mv s "shared file.txt"
	priority = high

	[task "second"]
	run = sh "$TRASH_DIRECTORY/second.sh"
	PLAN
'
cd repo || test_bail_out "setup left no repository"

test_expect_success 'merge --rerun re-runs the conflicting task on the SSH worker with the paths' '
	git orchestrate plan p.ini >/dev/null &&
	git orchestrate run p >/dev/null 2>&1 &&
	git rev-parse main >main.before &&
	git orchestrate merge p --rerun >out 2>&1 &&
	test_grep "re-run: second from main" out &&
	git show main:"shared file.txt" >merged &&
	printf "ONE-first+second\ntwo\n" >expect &&
	test_cmp expect merged &&
	git show main:seen.txt >seen &&
	printf "shared file.txt\n" >expect &&
	test_cmp expect seen &&
	git show main:worker.txt >worker &&
	echo w1 >expect &&
	test_cmp expect worker &&
	git log --format=%H --grep="task .first." main >first-merge &&
	git show main:base.txt >base &&
	test_cmp first-merge base
'

test_expect_success 'the conflict list does not stay on the worker' '
	! find "$SSHD_ROOT/w1" -name "*.conflicts" | grep .
'

test_done
