#!/bin/sh
# Workers that cannot be reached (SPEC 7): with none able to run the ready
# tasks reachable at the start, run stops at once naming each and why; a
# worker lost during the run is marked down with its reason, status shows
# it, and run waits for it (without spinning) at most --wait-workers, then
# stops with the state saved: a later run resumes.
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib-sshd.sh"

OUT="$TRASH_DIRECTORY/out"

# Start worker w1 again (on a new port) and point the repository at it.
restart_w1 () {
	sshd_start w1 && sshd_known_hosts "$SSHD_ROOT/known_hosts" w1 &&
	sshd_worker_ini w1 >.git/orchestrate.ini
}

test_expect_success 'setup: a worker and a repository' '
	sshd_start w1 && sshd_known_hosts "$SSHD_ROOT/known_hosts" w1 &&
	test_create_repo repo &&
	mkdir -p "$OUT" &&
	# a task that waits for $OUT/go, saying it started; done at once
	# once go exists
	printf "%s\n" "[ -f \"$OUT/go\" ] && echo done >t.txt && exit 0" \
		"touch \"$OUT/started.\$ORCHESTRATE_PLAN\"" \
		"i=0" \
		"while [ ! -f \"$OUT/go\" ] && [ \$i -lt 600 ]" \
		"do sleep 0.1" \
		"i=\$((i + 1))" \
		"done" >"$OUT/t.sh"
'
cd repo || test_bail_out "setup left no repository"

# A port that takes TCP connections and never says a word: an SSH
# handshake with it lasts until the connect timeout (10 s).
test_expect_success 'four silent workers: run stops within 30 s, naming each (they are connected in parallel)' '
	python3 -c "
import socket, sys, time
socks = []
for i in range(4):
    s = socket.socket()
    s.bind((\"127.0.0.1\", 0))
    s.listen(16)
    socks.append(s)
with open(sys.argv[1] + \".tmp\", \"w\") as f:
    f.write(\" \".join(str(s.getsockname()[1]) for s in socks))
import os
os.rename(sys.argv[1] + \".tmp\", sys.argv[1])
time.sleep(600)
" "$TRASH_DIRECTORY/silent.ports" &
	silent_pid=$!
	test_when_finished "kill $silent_pid"
	test_wait_for "test -s \"$TRASH_DIRECTORY/silent.ports\"" &&
	n=0 && : >.git/orchestrate.ini &&
	for port in $(cat "$TRASH_DIRECTORY/silent.ports"); do
		n=$((n + 1)) &&
		sshd_worker_ini w1 port=$port | sed "s/\"w1\"/\"s$n\"/" >>.git/orchestrate.ini || return 1
	done &&
	printf "[task \"t\"]\nrun = true\n" >silent.ini &&
	git orchestrate plan silent.ini >/dev/null &&
	started=$(date +%s) &&
	test_must_fail git orchestrate run silent >run.out 2>&1 &&
	ended=$(date +%s) &&
	test $((ended - started)) -lt 30 &&
	for w in s1 s2 s3 s4; do
		test_grep "worker .$w.: " run.out || return 1
	done
'

test_expect_success 'with its only worker unreachable at the start, run stops at once naming it' '
	sshd_worker_ini w1 >.git/orchestrate.ini &&
	printf "[task \"t\"]\nrun = true\n" >down.ini &&
	git orchestrate plan down.ini >/dev/null &&
	sshd_stop w1 &&
	started=$(date +%s) || exit 1
	git-orchestrate run down >run.out 2>&1 &
	run_pid=$!
	test_wait_for "! kill -0 $run_pid 2>/dev/null" 30 ||
		{ kill $run_pid; false; } &&
	ended=$(date +%s) &&
	test $((ended - started)) -lt 30 &&
	{ wait $run_pid; test $? = 1; } &&
	test_grep "^error: no worker able to run the ready tasks of plan .down. can be reached: worker .w1.: cannot connect to 127.0.0.1 port [0-9]*: " run.out &&
	test_grep ! "worker .w1.: worker .w1." run.out &&
	test_grep "^hint: .git orchestrate workers check." run.out &&
	git orchestrate status down >st &&
	test_grep "worker w1 is down" st &&
	test_grep "^t *ready" st
'

test_expect_success 'a worker lost mid-run is waited for, without spinning, until Ctrl-C' '
	restart_w1 &&
	printf "[plan]\nname = wait\n[task \"t\"]\nrun = sh %s\n" "$OUT/t.sh" >wait.ini &&
	git orchestrate plan wait.ini >/dev/null || exit 1
	git-orchestrate run --wait-workers 10m wait >run.out 2>&1 &
	run_pid=$!
	test_wait_for "test -f \"$OUT/started.wait\"" &&
	sshd_stop w1 &&
	test_wait_for "grep -q \"waiting up to 10m00s\" run.out" &&
	test_grep "worker w1 is down" run.out &&
	ps -o time= -p $run_pid >cpu1 &&
	# not a wait for an event: the window in which it must use no CPU
	sleep 2 &&
	ps -o time= -p $run_pid >cpu2 &&
	test_cmp cpu1 cpu2 &&
	git orchestrate status wait >st &&
	test_grep "worker w1 is down" st &&
	git orchestrate status --json wait >st.json &&
	test_grep "\"down\":.*true" st.json &&
	kill -INT $run_pid &&
	test_wait_for "! kill -0 $run_pid 2>/dev/null" 10 &&
	git orchestrate status wait >st &&
	test_grep "^t *ready" st
'

test_expect_success 'a worker lost mid-run and not back within --wait-workers: exit 1, state saved, a later run resumes' '
	restart_w1 &&
	printf "[plan]\nname = lost\nretries = 0\n[task \"t\"]\nrun = sh %s\n" "$OUT/t.sh" >lost.ini &&
	git orchestrate plan lost.ini >/dev/null || exit 1
	git-orchestrate run --wait-workers 2s lost >run.out 2>&1 &
	run_pid=$!
	test_wait_for "test -f \"$OUT/started.lost\"" &&
	sshd_stop w1 &&
	test_wait_for "! kill -0 $run_pid 2>/dev/null" 60 ||
		{ kill $run_pid; false; } &&
	{ wait $run_pid; test $? = 1; } &&
	test_grep "worker w1 is down" run.out &&
	test_grep "waiting up to 2.0s for one to come back" run.out &&
	test_grep "^error: no worker able to run the ready tasks of plan .lost. came back within 2.0s: worker .w1.: " run.out &&
	test_grep "^hint: .*.git orchestrate run lost. resumes" run.out &&
	git orchestrate status lost >st &&
	test_grep "^t *ready" st &&
	restart_w1 &&
	touch "$OUT/go" &&
	git orchestrate run lost >run2.out 2>&1 &&
	git orchestrate status lost >st &&
	test_grep "^t *done" st &&
	test "$(git show orchestrate/lost/t:t.txt)" = done
'

test_done
