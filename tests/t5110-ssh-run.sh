#!/bin/sh
# git orchestrate run on SSH workers: both object transports, two workers,
# a prompt byte for byte, capability routing, a remote timeout leaving no
# process, a worker's sshd killed mid-task. Real sshd servers on 127.0.0.1.
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib-sshd.sh"

# no_process PATTERN: no process matches, within 10 s
no_process () {
	test_wait_for "! pgrep -f \"$1\" >/dev/null" 10 || {
		ps -eo pid,pgid,ppid,args --width 4000 | grep "$1" >&2
		return 1
	}
}

# write_prompt FILE: quotes, $( ), backticks, a newline, non-ASCII bytes
write_prompt () {
	printf 'say "hi" it'"'"'s $(touch /tmp/pwned-$$) `id` \\n\n\303\251t\303\251 \342\202\254 end' >"$1"
}

test_expect_success 'setup: two workers, a repository and a prompt' '
	sshd_start w1 && sshd_start w2 &&
	sshd_known_hosts "$SSHD_ROOT/known_hosts" w1 w2 &&
	write_prompt "$TRASH_DIRECTORY/prompt.txt" &&
	test_create_repo repo &&
	cd repo &&
	mkdir -p src &&
	for i in 1 2 3 4 5 6 7 8 9 10; do echo "int f$i;" >src/m$i.c || return 1; done &&
	git add src && git commit -q -m "a small project"
'
cd repo || test_bail_out "setup left no repository"

test_expect_success 'tasks run on two SSH workers, objects over the session' '
	{ sshd_worker_ini w1 slots=2 capabilities=backend && sshd_worker_ini w2 slots=2; } >.git/orchestrate.ini &&
	{
		printf "[plan]\nname = fan\nretries = 0\n\n" &&
		for i in 1 2 3 4 5 6 7 8; do
			printf "[task \"t%s\"]\nrun = mkdir -p out && echo %s >out/t%s.txt && echo \$ORCHESTRATE_WORKER >out/w%s.txt\n\n" $i $i $i $i
		done &&
		printf "[task \"dep\"]\nrun = cat out/t1.txt >dep.txt\ndepends = t1\n"
	} >fan.ini &&
	git orchestrate plan fan.ini >/dev/null &&
	git orchestrate run fan >out 2>&1 &&
	git orchestrate status --json fan >st.json &&
	test $(grep -c "\"state\":.*\"done\"" st.json) = 9 &&
	for i in 1 2 3 4 5 6 7 8; do
		test "$(git show orchestrate/fan/t$i:out/t$i.txt)" = $i || return 1
	done &&
	git show orchestrate/fan/dep:dep.txt >dep && test "$(cat dep)" = 1 &&
	test "$(git rev-parse orchestrate/fan/dep^)" = "$(git rev-parse orchestrate/fan/t1)" &&
	for i in 1 2 3 4 5 6 7 8; do git show orchestrate/fan/t$i:out/w$i.txt; done | sort -u >workers &&
	printf "w1\nw2\n" >expect && test_cmp expect workers
'

# Each write of a ref makes a file and frees the one it replaces: the
# branch of an SSH task, on which no worktree of this repository is, is
# written once, by its result.
test_expect_success 'an SSH task branch is written once, by its result' '
	for i in 1 2 3 4 5 6 7 8; do
		git reflog show --format=%gs orchestrate/fan/t$i >log &&
		echo "orchestrate: result" >expect &&
		test_cmp expect log || return 1
	done
'

test_expect_success 'a lock a killed orchestrator left on a task branch does not stop its result' '
	printf "[plan]\nname = stale\nretries = 0\n[task \"s\"]\nrun = echo s >s.txt\n" >stale.ini &&
	git orchestrate plan stale.ini >/dev/null &&
	mkdir -p .git/refs/heads/orchestrate/stale &&
	echo 0000000000000000000000000000000000000000 >.git/refs/heads/orchestrate/stale/s.lock &&
	{ git orchestrate run stale >out 2>&1 || { cat out; false; }; } &&
	test "$(git show orchestrate/stale/s:s.txt)" = s &&
	test_path_is_missing .git/refs/heads/orchestrate/stale/s.lock
'

# Two slots: at most two worktrees each, the one an attempt runs in and
# the one made ready meanwhile for the next.
test_expect_success 'the worker keeps one repository and re-uses slot worktrees' '
	ls -d "$SSHD_ROOT"/w1/work/repo-*/repo.git &&
	n=$(ls -d "$SSHD_ROOT"/w1/work/repo-*/slots/[0-9]* | wc -l) &&
	test "$n" -le 4
'

test_expect_success 'the prompt reaches the task byte for byte, outside the worktree' '
	sshd_worker_ini w1 >.git/orchestrate.ini &&
	printf "[plan]\nname = pr\n\n[task \"p\"]\nprompt-file = %s\nrun = cp \"\$ORCHESTRATE_PROMPT_FILE\" got.txt && test \"\${ORCHESTRATE_PROMPT_FILE#\$(pwd)/}\" = \"\$ORCHESTRATE_PROMPT_FILE\"\n" \
		"$TRASH_DIRECTORY/prompt.txt" >pr.ini &&
	git orchestrate plan pr.ini >/dev/null &&
	git orchestrate run pr >out 2>&1 &&
	git show orchestrate/pr/p:got.txt >got &&
	cmp "$TRASH_DIRECTORY/prompt.txt" got &&
	test ! -e /tmp/pwned-$$
'

test_expect_success 'tasks go only to workers with the capabilities they need' '
	{ sshd_worker_ini w1 slots=2 capabilities=backend && sshd_worker_ini w2 slots=2; } >.git/orchestrate.ini &&
	{
		printf "[plan]\nname = caps\n\n" &&
		for i in 1 2 3 4; do
			printf "[task \"b%s\"]\nneeds = backend\nrun = echo \$ORCHESTRATE_WORKER >w.txt\n\n" $i
		done
	} >caps.ini &&
	git orchestrate plan caps.ini >/dev/null &&
	git orchestrate run caps >out 2>&1 &&
	for i in 1 2 3 4; do git show orchestrate/caps/b$i:w.txt; done | sort -u >got &&
	echo w1 >expect && test_cmp expect got
'

test_expect_success 'a remote timeout kills the whole remote process group' '
	sshd_worker_ini w2 >.git/orchestrate.ini &&
	printf "[plan]\nname = slow\nretries = 0\n\n[task \"hang\"]\ntimeout = 2s\nrun = (sleep 300.$$; echo late) & sleep 301.$$ & sleep 302.$$\n" >slow.ini &&
	git orchestrate plan slow.ini >/dev/null &&
	test_expect_code 1 git orchestrate run slow >out 2>&1 &&
	git orchestrate status slow >st &&
	test_grep "hang *timeout" st &&
	no_process "sleep 30[012]\.$$"
'

# The run goes on after the timeout (another task waits on the same
# worker until the timed-out processes are gone): they are stopped through
# the session, not only when it closes.
test_expect_success 'a remote timeout stops the process group while the run goes on' '
	sshd_worker_ini w2 slots=2 >.git/orchestrate.ini &&
	cat >"$TRASH_DIRECTORY/watch.sh" <<-EOF &&
	i=0
	until pgrep -f "sleep 312\.$$" >/dev/null; do
		i=\$((i + 1)); [ \$i -lt 600 ] || { echo never >"$TRASH_DIRECTORY/watch"; exit 0; }
		sleep 0.1
	done
	i=0
	while pgrep -f "sleep 31[012]\.$$" >/dev/null; do
		i=\$((i + 1)); [ \$i -lt 600 ] || { echo alive >"$TRASH_DIRECTORY/watch"; exit 0; }
		sleep 0.1
	done
	echo gone >"$TRASH_DIRECTORY/watch"
	EOF
	printf "[plan]\nname = slow2\nretries = 0\n\n[task \"hang\"]\ntimeout = 2s\nrun = (sleep 310.$$; echo late) & sleep 311.$$ & sleep 312.$$\n\n[task \"watch\"]\nrun = sh \"%s\"\n" \
		"$TRASH_DIRECTORY/watch.sh" >slow2.ini &&
	git orchestrate plan slow2.ini >/dev/null &&
	test_expect_code 1 git orchestrate run slow2 >out 2>&1 &&
	test "$(cat "$TRASH_DIRECTORY/watch")" = gone &&
	git orchestrate status slow2 >st &&
	test_grep "hang *timeout" st &&
	test_grep "watch *done" st &&
	no_process "sleep 31[012]\.$$"
'

test_expect_success 'objects can travel through a remote instead (fetch and push there)' '
	git init -q --bare "$TRASH_DIRECTORY/hub.git" &&
	{ sshd_worker_ini w1 slots=2 remote="$TRASH_DIRECTORY/hub.git" workdir="$SSHD_ROOT/w1/work-a" &&
	  sshd_worker_ini w2 slots=2 remote="$TRASH_DIRECTORY/hub.git" workdir="$SSHD_ROOT/w2/work-a"; } >.git/orchestrate.ini &&
	{
		printf "[plan]\nname = viahub\nretries = 0\n\n" &&
		for i in 1 2 3 4; do
			printf "[task \"h%s\"]\nrun = echo %s >h.txt\n\n" $i $i
		done
	} >hub.ini &&
	git orchestrate plan hub.ini >/dev/null &&
	ls .git/objects/pack/*.pack >packs.before &&
	{ LSAN_OPTIONS=suppressions=$TEST_DIRECTORY/lsan-libgit2.supp git orchestrate run viahub >out 2>&1 ||
	  { cat out; git orchestrate status viahub; false; }; } &&
	for i in 1 2 3 4; do
		test "$(git show orchestrate/viahub/h$i:h.txt)" = $i &&
		test "$(git --git-dir="$TRASH_DIRECTORY/hub.git" rev-parse orchestrate/viahub/h$i)" = \
		     "$(git rev-parse orchestrate/viahub/h$i)" || return 1
	done &&
	# the pack each result fetch wrote is merged with the run'"'"'s own:
	# one pack more than before the run, not one a task
	ls .git/objects/pack/*.pack >packs.after &&
	test $(wc -l <packs.after) -le $(($(wc -l <packs.before) + 1)) &&
	git fsck --no-dangling 2>fsck.err &&
	test ! -s fsck.err
'

test_expect_success 'a worker whose sshd dies mid-task: the task completes on the other, once' '
	{ sshd_worker_ini w1 slots=1 && sshd_worker_ini w2 slots=1; } >.git/orchestrate.ini &&
	printf "[plan]\nname = drop\n\n[task \"long\"]\nrun = echo run >>\"$TRASH_DIRECTORY/runs.\$ORCHESTRATE_WORKER\" && sleep 3.$$ && echo \$ORCHESTRATE_WORKER >w.txt\n" >drop.ini &&
	git orchestrate plan drop.ini >/dev/null &&
	(git orchestrate run drop >out 2>&1; echo $? >status) &
	test_wait_for "ls \"$TRASH_DIRECTORY\"/runs.* >/dev/null 2>&1" &&
	first=$(ls "$TRASH_DIRECTORY"/runs.* | sed "s/.*runs\.//") &&
	sshd_stop $first &&
	wait &&
	test "$(cat status)" = 0 &&
	other=$(git show orchestrate/drop/long:w.txt) &&
	test "$other" != "$first" &&
	test $(git rev-list --count main..orchestrate/drop/long) = 1 &&
	no_process "sleep 3\.$$\$" &&
	# the lost attempt names its worker once
	test_grep "^long: attempt 1 on $first failed: worker .$first.: " out &&
	test_grep ! "worker .$first.: worker" out
'

test_done
