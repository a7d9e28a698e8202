#!/bin/sh
# Attempts that end in one pass of the run loop share one commit of the
# plan's state (SPEC 5), and each task's history still has every transition.
. "$(dirname "$0")/test-lib.sh"

test_expect_success 'setup' '
	test_create_repo repo &&
	cat >repo/burst.ini <<-PLAN
	[plan]
	name = burst

	[task "b1"]
	run = while test ! -f "$TRASH_DIRECTORY/go"; do sleep 0.01; done; echo one >b1.txt

	[task "b2"]
	run = while test ! -f "$TRASH_DIRECTORY/go"; do sleep 0.01; done; echo two >b2.txt

	[task "b3"]
	run = while test ! -f "$TRASH_DIRECTORY/go"; do sleep 0.01; done; exit 3
	retries = 0
	PLAN
	(cd repo && git orchestrate plan burst.ini >/dev/null)
'
cd repo || test_bail_out "setup left no repository"

# state PID: the process state letter of PID (Z once it ended unreaped).
state() {
	sed "s/.*) //" "/proc/$1/stat" | cut -c1
}

test_expect_success 'three attempts that end while the runner is stopped' '
	run=.git/orchestrate/run
	git-orchestrate run burst -j 3 >run.out 2>&1 &
	pid=$!
	test_wait_for "test -s $run/burst+b1.pid && test -s $run/burst+b2.pid && test -s $run/burst+b3.pid" &&
	kill -STOP $pid &&
	touch "$TRASH_DIRECTORY/go" &&
	for t in b1 b2 b3; do
		p=$(cat $run/burst+$t.pid) &&
		test_wait_for "test \"\$(state $p)\" = Z" || exit 1
	done &&
	kill -CONT $pid &&
	test_expect_code 1 wait $pid
'

test_expect_success 'are recorded in one commit naming each change' '
	git log --format=%s refs/orchestrate/plans/burst >subjects &&
	test $(wc -l <subjects) = 3 &&
	test $(grep -c "^3 changes$" subjects) = 2 &&
	git log -1 --format=%B refs/orchestrate/plans/burst >body &&
	test_grep "^b1: done on local in .* (attempt 1)$" body &&
	test_grep "^b2: done on local in .* (attempt 1)$" body &&
	test_grep "^b3: failed on local after .* (attempt 1): exit status 3$" body &&
	test $(wc -l <body) = 6
'

test_expect_success 'the three starts of one pass share one commit too' '
	git log -1 --format=%B refs/orchestrate/plans/burst~1 >body &&
	test_grep "^3 changes$" body &&
	test_grep "^b1: started on local (attempt 1)$" body &&
	test_grep "^b2: started on local (attempt 1)$" body &&
	test_grep "^b3: started on local (attempt 1)$" body
'

test_expect_success 'each task history still shows every transition' '
	for t in b1 b2 b3; do
		git log --format=%s refs/orchestrate/plans/burst -- tasks/$t.json >hist &&
		test $(wc -l <hist) = 3 &&
		git log -p refs/orchestrate/plans/burst -- tasks/$t.json >patch &&
		test_grep "^+{\"state\":\"running\"" patch || exit 1
	done &&
	git log -p -1 refs/orchestrate/plans/burst -- tasks/b1.json >last &&
	test_grep "^-{\"state\":\"running\"" last &&
	test_grep "^+{\"state\":\"done\"" last &&
	git show orchestrate/burst/b1:b1.txt >one &&
	test_grep "^one$" one
'

test_expect_success 'log PLAN TASK shows the task'"'"'s own line of the shared commit' '
	git orchestrate log burst b3 >out &&
	test_grep "^[0-9a-f]\{7,\} [0-9-]* [0-9:]* b3: failed on local after .* (attempt 1): exit status 3$" out &&
	test_grep "^[0-9a-f]\{7,\} [0-9-]* [0-9:]* b3: started on local (attempt 1)$" out &&
	test_grep ! "b1: \|b2: \|3 changes" out &&
	git orchestrate log burst b1 -- -p >out &&
	test_grep "^[0-9a-f]\{7,\} [0-9-]* [0-9:]* b1: done on local in .* (attempt 1)$" out &&
	test_grep "^+{\"state\":\"done\"" out &&
	test_grep "^--- a/tasks/b1.json" out &&
	git orchestrate log burst b1 -- --format=%s >out &&
	test_grep "^3 changes$" out
'

test_expect_success 'status and notes agree with the one commit' '
	git orchestrate status burst --json | tr -d " \t\n" >flat &&
	test_grep "\"id\":\"b1\",\"state\":\"done\"" flat &&
	test_grep "\"id\":\"b3\",\"state\":\"failed\"" flat &&
	git notes --ref=orchestrate show orchestrate/burst/b2 >note &&
	test_grep "^task: b2$" note &&
	git notes --ref=orchestrate show orchestrate/burst/b1 >note &&
	test_grep "^task: b1$" note &&
	# the notes of the two results: one notes commit
	test $(git rev-list --count refs/notes/orchestrate) = 1 &&
	test_path_is_missing .git/refs/orchestrate/locks/burst/task/b1
'

test_done
