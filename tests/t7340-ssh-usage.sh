#!/bin/sh
# Resource use per attempt on an SSH worker, measured by the task script
# (shell `times` for CPU time, /proc sampling for peak RSS). A real sshd on
# 127.0.0.1.
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib-sshd.sh"

# json_number FILE KEY: the first number of "KEY": in FILE
json_number () {
	tr -d " \t\n" <"$1" | sed -n "s/.*\"$2\":\([0-9][0-9]*\).*/\1/p"
}

test_expect_success 'setup: a worker and a repository' '
	sshd_start w1 &&
	sshd_known_hosts "$SSHD_ROOT/known_hosts" w1 &&
	test_create_repo repo &&
	(cd repo && sshd_worker_ini w1 slots=2 >.git/orchestrate.ini)
'
cd repo || test_bail_out "setup left no repository"

test_expect_success 'CPU time and peak RSS of remote commands are recorded' '
	cat >u.ini <<-\PLAN &&
	[task "busy"]
	run = i=0; while [ $i -lt 300000 ]; do i=$((i + 1)); done
	[task "big"]
	run = x=$(head -c 30000000 /dev/zero | tr "\0" a); sleep 2; echo ${#x} >size
	PLAN
	git orchestrate plan u.ini >/dev/null &&
	git orchestrate run u >out 2>&1 &&
	git show refs/orchestrate/plans/u:tasks/busy.json >busy.json &&
	cpu=$(json_number busy.json cpu_ms) &&
	test "$cpu" -ge 100 &&
	git show refs/orchestrate/plans/u:tasks/big.json >big.json &&
	rss=$(json_number big.json max_rss_kb) &&
	test "$rss" -ge 29000 &&
	cpu=$(json_number big.json cpu_ms) &&
	dur=$(json_number big.json duration_ms) &&
	test "$cpu" -lt "$dur" &&
	git orchestrate status u >st &&
	test_grep "^big  *done .*M$" st
'

test_expect_success 'the task script leaves no measurement files behind' '
	! ls "$SSHD_ROOT"/w1/work/repo-*/run/ | grep "\.t[01]$\|\.rss$"
'

test_done
