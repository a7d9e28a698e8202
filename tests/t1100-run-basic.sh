#!/bin/sh
# git orchestrate run on local slots: worktrees, branches, commits, notes.
. "$(dirname "$0")/test-lib.sh"

test_expect_success 'setup' '
	test_create_repo repo &&
	cd repo &&
	printf "build/\n*.tmp\n" >.gitignore &&
	echo old >remove-me.txt &&
	git add .gitignore remove-me.txt && git commit -q -m "ignore rules" &&
	cat >p.ini <<-\PLAN
	[plan]
	name = p

	[task "writer"]
	run = echo "$ORCHESTRATE_TASK $ORCHESTRATE_ATTEMPT $ORCHESTRATE_WORKER" >who.txt && mkdir -p build && echo junk >build/out && echo x >a.tmp && rm remove-me.txt
	duration = 1s

	[task "reader"]
	run = cat who.txt >seen.txt && echo "$ORCHESTRATE_BASE" >base.txt
	depends = writer

	[task "nothing"]
	run = true

	[task "prompted"]
	prompt = Say "hi" with $(danger) and `ticks`
	  and a second line
	run = cp "$ORCHESTRATE_PROMPT_FILE" prompt-copy.txt && test "$(pwd)" = "$(git rev-parse --show-toplevel)"
	PLAN
'
cd repo || test_bail_out "setup left no repository"

test_expect_success 'run completes every task and exits 0' '
	git orchestrate plan p.ini >/dev/null &&
	git orchestrate run p >out &&
	test_grep "writer: done" out &&
	git orchestrate status --json p >status.json &&
	test $(grep -c "\"state\":.*\"done\"" status.json) = 4
'

test_expect_success 'each task has its branch with a result commit and trailers' '
	for t in writer reader nothing prompted; do
		git rev-parse --verify refs/heads/orchestrate/p/$t || return 1
	done &&
	git log -1 --format=%B orchestrate/p/writer >msg &&
	test_grep "^Orchestrate-Plan: p$" msg &&
	test_grep "^Orchestrate-Task: writer$" msg &&
	test_grep "^Orchestrate-Attempt: 1$" msg
'

test_expect_success 'the result commit has new and deleted files and respects .gitignore' '
	git show --name-status --format= orchestrate/p/writer >files &&
	test_grep "^A	who.txt" files &&
	test_grep "^D	remove-me.txt" files &&
	test_grep ! build/out files &&
	test_grep ! a.tmp files &&
	git show orchestrate/p/writer:who.txt >who &&
	test_grep "^writer 1 local" who
'

test_expect_success 'what the command staged itself is in the result, on a slot used before' '
	cat >forced.ini <<-\PLAN &&
	[task "first"]
	run = true
	[task "second"]
	run = echo kept >kept.tmp && git add -f kept.tmp
	depends = first
	PLAN
	git orchestrate plan forced.ini >/dev/null &&
	git orchestrate run forced -j 1 >/dev/null &&
	git show orchestrate/forced/second:kept.tmp >kept &&
	test "$(cat kept)" = kept
'

test_expect_success 'a dependent task starts from its dependency result' '
	git show orchestrate/p/reader:seen.txt >seen &&
	test_grep "^writer 1" seen &&
	git show orchestrate/p/reader:base.txt >base &&
	test "$(cat base)" = "$(git rev-parse orchestrate/p/writer)" &&
	test "$(git rev-parse orchestrate/p/reader^)" = "$(git rev-parse orchestrate/p/writer)"
'

test_expect_success 'a task that changes nothing still gets an empty result commit' '
	test "$(git rev-parse orchestrate/p/nothing^{tree})" = "$(git rev-parse main^{tree})" &&
	test "$(git rev-parse orchestrate/p/nothing^)" = "$(git rev-parse main)"
'

test_expect_success 'the prompt reaches the task byte for byte, through a file' '
	git show orchestrate/p/prompted:prompt-copy.txt >copy &&
	printf "Say \"hi\" with \$(danger) and \`ticks\`\nand a second line" >expect &&
	test_cmp expect copy
'

test_expect_success 'notes on result commits say plan, task, worker, attempt, duration' '
	git notes --ref=orchestrate show orchestrate/p/writer >note &&
	test_grep "^plan: p$" note &&
	test_grep "^task: writer$" note &&
	test_grep "^worker: local$" note &&
	test_grep "^attempt: 1$" note &&
	test_grep "^duration-ms: [0-9]" note &&
	git log --notes=orchestrate -1 orchestrate/p/writer >log &&
	test_grep "task: writer" log
'

# The notes of results that end within a second share a notes commit,
# written at the latest when the run ends.
test_expect_success 'the notes of results one after another share notes commits' '
	printf "[plan]\nname = seq\n\n" >seq.ini &&
	for i in 1 2 3 4 5; do
		printf "[task \"s%s\"]\nrun = true\n\n" $i >>seq.ini || return 1
	done &&
	git orchestrate plan seq.ini >/dev/null &&
	before=$(git rev-list --count refs/notes/orchestrate) &&
	git orchestrate run seq -j 1 >out 2>&1 &&
	after=$(git rev-list --count refs/notes/orchestrate) &&
	test $((after - before)) -ge 1 &&
	test $((after - before)) -lt 5 &&
	for i in 1 2 3 4 5; do
		git notes --ref=orchestrate show orchestrate/seq/s$i >note &&
		test_grep "^task: s$i$" note || return 1
	done
'

test_expect_success 'worktrees are removed after success' '
	git worktree list >wt &&
	test $(wc -l <wt) = 1
'

test_expect_success 'a worktree re-used for the next task starts clean' '
	cat >iso.ini <<-PLAN &&
	[task "dirty"]
	run = echo junk >junk.txt && mkdir -p build && echo x >build/ignored && echo y >z.tmp
	priority = high
	[task "clean"]
	run = test ! -e junk.txt && test ! -e build && test ! -e z.tmp && test -f remove-me.txt
	PLAN
	git orchestrate plan iso.ini >/dev/null &&
	git orchestrate run -j 1 iso >out &&
	git orchestrate status iso >st &&
	test_grep "^clean *done" st &&
	git worktree list >wt &&
	test $(wc -l <wt) = 1
'

test_expect_success 'the state log has one commit per change, and the task history' '
	git log --format=%B orchestrate/plans/p >log &&
	test_grep "^writer: started on local (attempt 1)$" log &&
	test_grep "^writer: done on local in .* (attempt 1)$" log &&
	git log --format=%s orchestrate/plans/p -- tasks/writer.json >tlog &&
	test $(wc -l <tlog) -ge 3 &&
	git show orchestrate/plans/p:tasks/writer.json >w.json &&
	test_grep "\"commit\":.*\"$(git rev-parse orchestrate/p/writer)\"" w.json
'

test_expect_success 'output is captured into the plan state' '
	cat >out.ini <<-PLAN &&
	[task "talk"]
	run = echo to-stdout; echo to-stderr >&2
	PLAN
	git orchestrate plan out.ini >/dev/null &&
	git orchestrate run out >/dev/null &&
	git show orchestrate/plans/out:logs/talk.log >log &&
	test_grep "to-stdout" log && test_grep "to-stderr" log
'

test_expect_success 'output streams into the plan state while the task runs' '
	cat >stream.ini <<-PLAN &&
	[task "chatty"]
	run = echo early-output; for i in \$(seq 300); do test -f "$TRASH_DIRECTORY/go" && exit 0; sleep 0.1; done; exit 1
	PLAN
	git orchestrate plan stream.ini >/dev/null &&
	{ ORCH_LOG_FLUSH_MS=200 git orchestrate run stream >run.out 2>&1 & } &&
	test_wait_for "git show orchestrate/plans/stream:logs/chatty.log 2>/dev/null | grep -q early-output" &&
	git show orchestrate/plans/stream:tasks/chatty.json >st.json &&
	test_grep "running" st.json &&
	git show orchestrate/plans/stream:logs/chatty.log >log &&
	test_grep early-output log &&
	touch "$TRASH_DIRECTORY/go" &&
	test_wait_for "grep -q \"plan stream\" run.out" &&
	test_grep "chatty: done" run.out
'

test_expect_success 'output is bounded: the last 1 MiB is kept' '
	cat >big.ini <<-PLAN &&
	[task "loud"]
	run = head -c 3000000 /dev/zero | tr "\\\\0" a; echo THE-END
	PLAN
	git orchestrate plan big.ini >/dev/null &&
	git orchestrate run big >/dev/null &&
	git cat-file -s orchestrate/plans/big:logs/loud.log >size &&
	test "$(cat size)" -le 1048576 &&
	git show orchestrate/plans/big:logs/loud.log | tail -c 20 >tail &&
	test_grep THE-END tail
'

test_expect_success 'run --json prints the final status document' '
	cat >j.ini <<-PLAN &&
	[task "j"]
	run = true
	PLAN
	git orchestrate plan j.ini >/dev/null &&
	git orchestrate run --json j >out.json &&
	test_grep "\"plan\":.*\"j\"" out.json &&
	test_grep "\"state\":.*\"done\"" out.json
'

test_expect_success 'a second run of a finished plan does nothing and exits 0' '
	before=$(git rev-parse orchestrate/plans/p) &&
	git orchestrate run p >out &&
	test "$(git rev-parse orchestrate/plans/p)" = "$before"
'

loose_path () {
	oid=$(git rev-parse "$1") &&
	echo "$(git rev-parse --git-path objects)/$(echo $oid | cut -c1-2)/$(echo $oid | cut -c3-)"
}

test_expect_success 'a run leaves its state in one pack, not loose, and fsck is clean' '
	cat >packed.ini <<-PLAN &&
	[task "a"]
	run = true
	[task "b"]
	run = true
	depends = a
	PLAN
	git orchestrate plan packed.ini >/dev/null &&
	ls "$(git rev-parse --git-path objects/pack)" >packs-before &&
	git orchestrate run packed >/dev/null &&
	git cat-file -e orchestrate/plans/packed &&
	test_path_is_missing "$(loose_path orchestrate/plans/packed)" &&
	test_path_is_missing "$(loose_path orchestrate/plans/packed:tasks/b.json)" &&
	test_path_is_missing "$(loose_path refs/notes/orchestrate)" &&
	test_path_is_missing "$(loose_path orchestrate/packed/b)" &&
	ls "$(git rev-parse --git-path objects/pack)" >packs-after &&
	test $(wc -l <packs-after) = $(($(wc -l <packs-before) + 2)) &&
	git fsck --no-progress --no-dangling
'

# The lock of a slot (a directory, slots/<n>.lock) is made once per run,
# not once per attempt: each attempt prints the inode of its slot's lock.
test_expect_success 'a run holds its slot from one attempt to the next' '
	cat >held.ini <<-\PLAN &&
	[task "h1"]
	run = stat -c %i "$PWD.lock" >>../held.locks
	[task "h2"]
	depends = h1
	run = stat -c %i "$PWD.lock" >>../held.locks
	[task "h3"]
	depends = h2
	run = stat -c %i "$PWD.lock" >>../held.locks && echo "$PWD" >../held.slot
	PLAN
	git orchestrate plan held.ini >/dev/null &&
	git orchestrate run -j 1 held >out 2>&1 &&
	slots="$(git rev-parse --git-common-dir)/orchestrate/slots" &&
	test $(wc -l <"$slots/held.locks") = 3 &&
	test $(sort -u "$slots/held.locks" | wc -l) = 1 &&
	# let go when the run ended, and its idle worktree removed
	test_path_is_missing "$(cat "$slots/held.slot").lock" &&
	test_path_is_missing "$(cat "$slots/held.slot")" &&
	rm "$slots/held.locks" "$slots/held.slot"
'

# What the run replaces keeps its inode in its trash until it ends: the
# second attempt on a slot finds there the HEAD file the first one had.
test_expect_success 'a run keeps the files it replaces until it ends' '
	cat >"$TRASH_DIRECTORY/kp.sh" <<-\SCRIPT &&
	t="$(git rev-parse --git-common-dir)/orchestrate/trash"
	grep -rlx "ref: refs/heads/orchestrate/kp/k1" "$t" >../kp.found
	git rev-list refs/orchestrate/plans/kp >../kp.states
	grep -rlxF -f ../kp.states "$t" >../kp.plan
	exit 0
	SCRIPT
	cat >kp.ini <<-PLAN &&
	[task "k1"]
	run = true
	[task "k2"]
	depends = k1
	run = sh "$TRASH_DIRECTORY/kp.sh"
	PLAN
	git orchestrate plan kp.ini >/dev/null &&
	git orchestrate run -j 1 kp >out 2>&1 &&
	slots="$(git rev-parse --git-common-dir)/orchestrate/slots" &&
	# the worktree HEAD of k1, and an earlier state of the plan ref
	test -s "$slots/kp.found" &&
	test -s "$slots/kp.plan" &&
	rm "$slots/kp.found" "$slots/kp.states" "$slots/kp.plan"
'

test_expect_success 'a run removes its trash when it ends, and the trash of a run that died' '
	trash="$(git rev-parse --git-common-dir)/orchestrate/trash" &&
	dead=$(sh -c "echo \$\$") &&
	mkdir -p "$trash/$dead-AbCdEf" &&
	: >"$trash/$dead-AbCdEf/0" &&
	cat >trash.ini <<-PLAN &&
	[task "a"]
	run = true
	PLAN
	git orchestrate plan trash.ini >/dev/null &&
	git orchestrate run trash >/dev/null &&
	ls -A "$trash" >left &&
	! test -s left
'

test_expect_success 'a run packs the refs when it ends' '
	git rev-parse --verify refs/heads/orchestrate/packed/b &&
	test_path_is_missing "$(git rev-parse --git-path refs/heads/orchestrate/packed/b)" &&
	test_path_is_missing "$(git rev-parse --git-path refs/orchestrate/plans/packed)" &&
	grep " refs/heads/orchestrate/packed/b$" "$(git rev-parse --git-path packed-refs)" &&
	grep " refs/orchestrate/plans/packed$" "$(git rev-parse --git-path packed-refs)"
'

test_expect_success 'a run leaves a copy of its states that status reads as the tree' '
	cache="$(git rev-parse --git-common-dir)/orchestrate/cache/packed.states" &&
	test_path_is_file "$cache" &&
	git orchestrate status --json packed >cached.json &&
	rm "$cache" &&
	git orchestrate status --json packed >fresh.json &&
	test_cmp fresh.json cached.json &&
	test_path_is_file "$cache" &&
	printf "damaged" >"$cache" &&
	git orchestrate status --json packed >damaged.json &&
	test_cmp fresh.json damaged.json &&
	git orchestrate status --json packed >rewritten.json &&
	test_cmp fresh.json rewritten.json
'

test_expect_success 'a stale packed-refs.lock does not stop a run from packing refs' '
	lock="$(git rev-parse --git-path packed-refs.lock)" &&
	: >"$lock" &&
	touch -d "1 minute ago" "$lock" &&
	git orchestrate plan --name packed2 packed.ini >/dev/null &&
	git orchestrate run packed2 >/dev/null &&
	test_path_is_missing "$lock" &&
	test_path_is_missing "$(git rev-parse --git-path refs/orchestrate/plans/packed2)"
'

test_expect_success 'learned durations are used for tasks without one' '
	git orchestrate plan --dry-run --name p2 p.ini >out &&
	test_grep "durations learned from earlier runs: 3 tasks" out
'

test_done
