#!/bin/sh
# The SSH worker runs a slot's attempts one after another in one long-lived
# shell: no channel and no sh per attempt, nothing of one attempt left to
# the next, and a shell that dies under an attempt is replaced (the attempt
# runs again). Real sshd servers on 127.0.0.1.
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib-sshd.sh"

OUT="$TRASH_DIRECTORY/out"

# The pid of the slot's shell a task runs in: the oldest of its ancestors
# that is an sh running the slot script (the attempt's subshell is one
# too, forked from it).
cat >"$TRASH_DIRECTORY/shell_pid.sh" <<\EOF
p=$$ top=
while [ "$p" -gt 1 ]; do
	read -r c <"/proc/$p/comm" || break
	[ "$c" = sh ] && grep -q "task()" "/proc/$p/cmdline" && top=$p
	read -r _ _ _ p _ <"/proc/$p/stat" || break
done
echo "$top"
EOF

test_expect_success 'setup: a worker with one slot and a repository' '
	sshd_start w1 && sshd_known_hosts "$SSHD_ROOT/known_hosts" w1 &&
	test_create_repo repo &&
	mkdir -p "$OUT" &&
	(cd repo && sshd_worker_ini w1 slots=1 >.git/orchestrate.ini)
'
cd repo || test_bail_out "setup left no repository"

test_expect_success 'one shell runs every attempt of a slot' '
	{
		printf "[plan]\nname = one\nretries = 0\n\n" &&
		for i in 1 2 3 4; do
			printf "[task \"t%s\"]\nrun = sh \"%s\" >>\"%s\" && echo %s >t.txt\n\n" \
				$i "$TRASH_DIRECTORY/shell_pid.sh" "$OUT/one" $i
		done
	} >one.ini &&
	git orchestrate plan one.ini >/dev/null &&
	{ git orchestrate run one >out 2>&1 || { cat out; false; }; } &&
	test $(grep -c "^[0-9][0-9]*$" "$OUT/one") = 4 &&
	test $(sort -u "$OUT/one" | wc -l) = 1 &&
	for i in 1 2 3 4; do
		test "$(git show orchestrate/one/t$i:t.txt)" = $i || return 1
	done
'

test_expect_success 'the slot a shell kept between its attempts is free once the run is over' '
	ls -d "$SSHD_ROOT"/w1/work/*/slots/0 &&
	! ls -d "$SSHD_ROOT"/w1/work/*/slots/*.busy
'

test_expect_success 'results come home without a pack file each' '
	test $(ls .git/objects/pack/ | grep -c "\.pack$") -le 1 &&
	! ls -d .git/objects/orchestrate-result-* 2>/dev/null
'

test_expect_success 'the variables and prompt of an attempt do not reach the next' '
	ORCH_T_ONE="one $$" && export ORCH_T_ONE &&
	cat >leak.ini <<-\PLAN &&
	[plan]
	name = leak
	retries = 0

	[task "a"]
	env = ORCH_T_ONE
	prompt = a prompt
	run = test -n "$ORCH_T_ONE" && test -f "$ORCHESTRATE_PROMPT_FILE" && echo a >a.txt

	[task "b"]
	depends = a
	run = test -z "${ORCH_T_ONE-}" && test -z "${ORCHESTRATE_PROMPT_FILE-}" && echo b >b.txt
	PLAN
	git orchestrate plan leak.ini >/dev/null &&
	{ git orchestrate run leak >out 2>&1 || { cat out; false; }; } &&
	test "$(git show orchestrate/leak/b:b.txt)" = b
'

# A post-checkout hook on the worker logs each checkout with its worktree
# and the pids above it; each task logs its start and end with its
# worktree and its attempt's subshell (the parent of the session its
# command runs in). r2 goes on only once another worktree was checked out
# since r1 ended (else it fails after ten seconds): the shell's other
# slot, made ready for the next attempt while r2 runs.
test_expect_success 'the next worktree is made ready while the current command runs' '
	mkdir -p "$OUT/hooks" &&
	ev="$OUT/events" &&
	: >"$ev" &&
	cat >"$OUT/hooks/post-checkout" <<-EOF &&
	#!/bin/sh
	p=\$PPID chain=
	while [ "\$p" -gt 1 ]; do chain="\$chain \$p"; read -r _ _ _ p _ </proc/\$p/stat || break; done
	echo "checkout \$(pwd -P)\$chain" >>"$ev"
	EOF
	chmod +x "$OUT/hooks/post-checkout" &&
	cat >"$OUT/r.sh" <<-EOF &&
	here=\$(pwd -P) n=\$(grep -n "^end " "$ev" | tail -n 1 | cut -d: -f1)
	s=\$(ps -o sid= -p \$\$) && a=\$(ps -o ppid= -p \$s) || exit 1
	echo "start \$here" \$a >>"$ev"
	if [ "\$1" = r2 ]; then
		i=0
		until awk -v n=\$n -v me="\$here" "NR > n && \\\$1 == \"checkout\" && \\\$2 != me { f = 1 } END { exit !f }" "$ev"; do
			i=\$((i + 1)) && [ \$i -lt 100 ] || exit 1
			sleep 0.1
		done
	fi
	echo \$1 >r.txt
	echo "end \$here" >>"$ev"
	EOF
	git config --file "$SSHD_ROOT/w1/gitconfig" core.hooksPath "$OUT/hooks" &&
	{
		printf "[plan]\nname = ready\nretries = 0\n\n" &&
		for i in 1 2 3 4; do
			printf "[task \"r%s\"]\nrun = sh \"%s\" r%s\n\n" $i "$OUT/r.sh" $i
		done
	} >ready.ini &&
	git orchestrate plan ready.ini >/dev/null &&
	{ git orchestrate run ready >out 2>&1 || { cat out; cat "$ev"; false; }; } &&
	git config --file "$SSHD_ROOT/w1/gitconfig" --unset core.hooksPath &&
	for i in 1 2 3 4; do
		test "$(git show orchestrate/ready/r$i:r.txt)" = r$i || return 1
	done &&
	test $(grep -c "^start " "$ev") = 4 &&
	# r3 and r4 check out nothing where they run (their attempt is not
	# above a checkout of their worktree); two worktrees take turns
	awk "\$1 == \"start\" { n++; if (n >= 3) { d[n] = \$2; a[n] = \$3 } }
		\$1 == \"checkout\" { c[++m] = \$0 }
		END { for (i = 3; i <= 4; i++) for (j = 1; j <= m; j++) {
			k = split(c[j], f, \" \"); if (f[2] != d[i]) continue
			for (l = 3; l <= k; l++) if (f[l] == a[i]) bad = 1 }
			exit bad }" "$ev" || { cat "$ev"; false; } &&
	test $(grep "^start " "$ev" | cut -d" " -f2 | sort -u | wc -l) = 2
'

test_expect_success 'the worktree kept for a failed attempt is not taken by the next one' '
	cat >keep.ini <<-\PLAN &&
	[plan]
	name = keep
	retries = 0

	[task "f"]
	priority = critical
	run = echo partial >partial.txt && false

	[task "g1"]
	run = echo g1 >g.txt

	[task "g2"]
	run = echo g2 >g.txt
	PLAN
	git orchestrate plan keep.ini >/dev/null &&
	test_expect_code 1 git orchestrate run keep >out 2>&1 &&
	git orchestrate status --json keep >s.json &&
	wt=$(sed -n "s/.*\"worktree\":[[:space:]]*\"w1:\\(.*\\)\".*/\\1/p" s.json) &&
	test -n "$wt" &&
	test "$(cat "$wt/partial.txt")" = partial &&
	test -f "$wt.busy/kept" &&
	test "$(git show orchestrate/keep/g2:g.txt)" = g2 &&
	git orchestrate clean keep >/dev/null
'

# The watchdog of an attempt waits for the slot shell's clock, not with a
# sleep process of its own: for two seconds the command looks for a sleep
# among the children of the other processes of its attempt subshell (the
# parent of the session the command runs in): the watchdog's.
test_expect_success 'an attempt starts no sleep process of its own' '
	cat >"$OUT/wd.sh" <<-EOF &&
	s=\$(ps -o sid= -p \$\$) && a=\$(ps -o ppid= -p \$s) && n=0 || exit 1
	while [ \$n -lt 20 ]; do
		for w in \$(pgrep -P \$a); do
			[ \$w = \$s ] && continue
			pgrep -P \$w -x sleep >/dev/null && echo \$w >"$OUT/wd-sleep"
		done
		sleep 0.1
		n=\$((n + 1))
	done
	EOF
	printf "[plan]\nname = wd\nretries = 0\n\n[task \"w\"]\nrun = sh \"%s\"\n" "$OUT/wd.sh" >wd.ini &&
	git orchestrate plan wd.ini >/dev/null &&
	{ git orchestrate run wd >out 2>&1 || { cat out; false; }; } &&
	test_path_is_missing "$OUT/wd-sleep"
'

# The files of an attempt that ended go with those of later attempts, in
# one rm (an rm per attempt was a twentieth of the CPU time of short
# tasks); its .sh is emptied at once. None is left when the shell ends.
test_expect_success 'the files of ended attempts are removed together, not one rm each' '
	{
		printf "[plan]\nname = batch\nretries = 0\n\n[task \"a\"]\nrun = true\n\n" &&
		printf "[task \"b\"]\ndepends = a\nrun = r=\$(dirname \"\$ORCHESTRATE_SHARE_FILE\"); test -f \"\$r/batch+a.1.sh\" && ! test -s \"\$r/batch+a.1.sh\" && echo kept >\"%s\"\n\n" "$OUT/batch"
	} >batch.ini &&
	git orchestrate plan batch.ini >/dev/null &&
	{ git orchestrate run batch >out 2>&1 || { cat out; false; }; } &&
	test "$(cat "$OUT/batch")" = kept &&
	run=$(echo "$SSHD_ROOT"/w1/work/*/run) &&
	test -d "$run" &&
	! ls "$run"/batch+* "$run"/*.t0 "$run"/*.st 2>/dev/null | grep -v "\.done$"
'

test_expect_success 'a shell killed under an attempt is replaced and the attempt runs again' '
	cat >"$OUT/kill.sh" <<-EOF &&
	sp=\$(sh "$TRASH_DIRECTORY/shell_pid.sh")
	echo "\$sp" >>"$OUT/kill-shells"
	if [ ! -e "$OUT/killed" ]; then : >"$OUT/killed"; kill -9 "\$sp"; fi
	echo k >k.txt
	EOF
	printf "[plan]\nname = kill\nretries = 0\n\n[task \"k\"]\nrun = sh \"%s\"\n\n[task \"after\"]\ndepends = k\nrun = sh \"%s\" >>\"%s\"\n" \
		"$OUT/kill.sh" "$TRASH_DIRECTORY/shell_pid.sh" "$OUT/kill-shells" >kill.ini &&
	git orchestrate plan kill.ini >/dev/null &&
	{ git orchestrate run kill >out 2>&1 || { cat out; false; }; } &&
	test -e "$OUT/killed" &&
	test "$(git show orchestrate/kill/k:k.txt)" = k &&
	git orchestrate status --json kill >st.json &&
	test $(grep -c "\"state\":.*\"done\"" st.json) = 2 &&
	test $(grep -c "^[0-9][0-9]*$" "$OUT/kill-shells") = 3 &&
	test $(sort -u "$OUT/kill-shells" | wc -l) = 2 &&
	test_grep "shell of the slot that ran it ended" out
'

# A shell, once, removes what attempts left on the worker a week after
# they ended: .done, .orphan, .shared, and the emptied .sh and .pid of a
# killed shell; not a younger record, nor the .sh of an attempt that runs.
test_expect_success 'what ended attempts left on the worker goes a week later' '
	run=$(echo "$SSHD_ROOT"/w1/work/*/run) &&
	test -d "$run" &&
	for f in old+t.1.done old+t.1.shared old+t.2.orphan young+t.1.done \
		live+t.1.sh live+t.1.pid; do
		echo 1 >"$run/$f" || return 1
	done &&
	: >"$run/old+t.3.sh" &&
	: >"$run/old+t.3.pid" &&
	touch -d "8 days ago" "$run"/old+* "$run"/live+* &&
	printf "[plan]\nname = week\nretries = 0\n\n[task \"w\"]\nrun = true\n" >week.ini &&
	git orchestrate plan week.ini >/dev/null &&
	{ git orchestrate run week >out 2>&1 || { cat out; false; }; } &&
	! ls "$run"/old+* 2>/dev/null &&
	test -f "$run/young+t.1.done" &&
	test -f "$run/live+t.1.sh" &&
	test -f "$run/live+t.1.pid"
'

test_done
