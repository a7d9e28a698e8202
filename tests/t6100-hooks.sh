#!/bin/sh
# Hooks on a hub (SPEC 8): `hooks install` puts the shims into a bare
# repository; post-receive records pushed task results (and merges them with
# merge = auto); pre-receive keeps plan state append-only and applies
# orchestrate.declaredFiles.
. "$(dirname "$0")/test-lib.sh"

HUB="$TRASH_DIRECTORY/hub.git"

# hub_state: the hub's orchestrate refs, notes and branches.
hub_state () {
	git -C "$HUB" for-each-ref --format='%(refname) %(objectname)'
}

# task_commit PLAN TASK: the result commit the hub's state records.
task_commit () {
	git -C "$HUB" orchestrate status "$1" --json >"$TRASH_DIRECTORY/st.json" &&
	python3 -c '
import json, sys
doc = json.load(open(sys.argv[1]))
print([t for t in doc["tasks"] if t["id"] == sys.argv[2]][0]["commit"] or "")
' "$TRASH_DIRECTORY/st.json" "$2"
}

# result TASK FILE [PLAN]: in the clone `worker`, commit FILE on the plan's
# base and push it as the task's result; stderr of the push into push.err.
result () {
	(cd "$TRASH_DIRECTORY/worker" &&
	 git checkout -q --detach "$(git rev-parse origin/main)" &&
	 echo "$1 $$ $(date +%s%N)" >"$2" && git add "$2" &&
	 git commit -q -m "$1" &&
	 git push origin "HEAD:refs/heads/orchestrate/${3:-p}/$1" 2>"$TRASH_DIRECTORY/push-$1.err")
}

test_create_repo work
cd work

test_expect_success 'setup: a plan stored on a bare hub with the hooks' '
	cat >p.ini <<-PLAN &&
	[task "a"]
	run = true
	files = a.txt
	[task "b"]
	run = true
	files = b.txt
	[task "d"]
	run = true
	[task "after"]
	run = true
	depends = a
	[task "w"]
	run = true
	files = w/
	[task "r"]
	run = true
	files = r.txt, r/*.c
	PLAN
	git orchestrate plan p.ini >/dev/null &&
	git init -q --bare "$HUB" &&
	git orchestrate hooks install "$HUB" >out &&
	test_grep "post-receive: installed" out &&
	test_grep "pre-receive: installed" out &&
	test -x "$HUB/hooks/post-receive" &&
	test -x "$HUB/hooks/pre-receive" &&
	test_cmp "$TEST_DIRECTORY/../hooks/post-receive" "$HUB/hooks/post-receive" &&
	test_cmp "$TEST_DIRECTORY/../hooks/pre-receive" "$HUB/hooks/pre-receive" &&
	git push -q "$HUB" main "refs/orchestrate/*:refs/orchestrate/*" &&
	git clone -q "$HUB" "$TRASH_DIRECTORY/worker" &&
	git clone -q "$HUB" "$TRASH_DIRECTORY/worker2"
'

test_expect_success 'installing twice changes nothing' '
	(cd "$HUB/hooks" && ls -la --time-style=full-iso && cat post-receive pre-receive) >before &&
	git orchestrate hooks install "$HUB" >out &&
	test_grep "post-receive: already installed" out &&
	test_grep "pre-receive: already installed" out &&
	(cd "$HUB/hooks" && ls -la --time-style=full-iso && cat post-receive pre-receive) >after &&
	test_cmp before after &&
	test_path_is_missing "$HUB/hooks/post-receive.pre-orchestrate"
'

test_expect_success 'a pushed result is recorded done with its commit, with a note' '
	result a a.txt &&
	commit=$(git -C "$TRASH_DIRECTORY/worker" rev-parse HEAD) &&
	test_grep "task .a. of plan .p. recorded done" "$TRASH_DIRECTORY/push-a.err" &&
	test "$(task_commit p a)" = "$commit" &&
	git -C "$HUB" orchestrate status p >st &&
	test_grep "^a  *done" st &&
	test_grep "^after  *ready" st &&
	git -C "$HUB" notes --ref=orchestrate show $commit >note &&
	test_grep "^plan: p$" note &&
	test_grep "^task: a$" note &&
	test_grep "^attempt: 1$" note &&
	git -C "$HUB" log -1 --format=%s refs/orchestrate/plans/p >msg &&
	test_grep "a: done, pushed" msg
'

test_expect_success 'two racing pushes of two tasks are both recorded' '
	(cd "$TRASH_DIRECTORY/worker" && git fetch -q origin &&
	 git checkout -q --detach origin/main && echo b >b.txt &&
	 git add b.txt && git commit -q -m b) &&
	(cd "$TRASH_DIRECTORY/worker2" && git fetch -q origin &&
	 git checkout -q --detach origin/main && echo d >d.txt &&
	 git add d.txt && git commit -q -m d) || exit 1
	(cd "$TRASH_DIRECTORY/worker" &&
	 git push -q origin HEAD:refs/heads/orchestrate/p/b 2>../race-b.err) &
	pb=$!
	(cd "$TRASH_DIRECTORY/worker2" &&
	 git push -q origin HEAD:refs/heads/orchestrate/p/d 2>../race-d.err) &
	pd=$!
	wait $pb && wait $pd &&
	test "$(task_commit p b)" = "$(git -C "$TRASH_DIRECTORY/worker" rev-parse HEAD)" &&
	test "$(task_commit p d)" = "$(git -C "$TRASH_DIRECTORY/worker2" rev-parse HEAD)" &&
	git -C "$HUB" log --format=%s refs/orchestrate/plans/p >log &&
	test_grep "^b: done, pushed" log &&
	test_grep "^d: done, pushed" log
'

test_expect_success 'a task done with another commit keeps its commit, the hook says why' '
	first=$(task_commit p a) &&
	(cd "$TRASH_DIRECTORY/worker" && git checkout -q --detach origin/main &&
	 echo other >a.txt && git add a.txt && git commit -q -m other &&
	 git push origin +HEAD:refs/heads/orchestrate/p/a 2>../again.err) &&
	test_grep "already" "$TRASH_DIRECTORY/again.err" &&
	test_grep "left as it is" "$TRASH_DIRECTORY/again.err" &&
	test "$(task_commit p a)" = "$first"
'

test_expect_success 'pre-receive refuses a non-fast-forward rewrite of a plan ref' '
	hub_state >before &&
	local_p=$(git rev-parse refs/orchestrate/plans/p) &&
	test "$local_p" != "$(git -C "$HUB" rev-parse refs/orchestrate/plans/p)" &&
	test_must_fail git push "$HUB" +refs/orchestrate/plans/p:refs/orchestrate/plans/p 2>err &&
	test_grep "refs/orchestrate/plans/p: refusing a rewrite" err &&
	hub_state >after &&
	test_cmp before after
'

test_expect_success 'pre-receive refuses deleting a plan ref' '
	hub_state >before &&
	test_must_fail git push "$HUB" :refs/orchestrate/plans/p 2>err &&
	test_grep "refs/orchestrate/plans/p: refusing to delete" err &&
	hub_state >after &&
	test_cmp before after
'

test_expect_success 'pre-receive refuses a plan ref with a broken tree' '
	git fetch -q "$HUB" refs/orchestrate/plans/p:refs/hub/p &&
	empty=$(git mktree </dev/null) &&
	c1=$(git commit-tree -p refs/hub/p -m "no plan" $empty) &&
	hub_state >before &&
	test_must_fail git push "$HUB" $c1:refs/orchestrate/plans/p 2>err &&
	test_grep "refs/orchestrate/plans/p: refusing a broken plan state" err &&
	test_grep "no plan.json" err &&
	blob=$(echo "{ not json" | git hash-object -w --stdin) &&
	tree=$(printf "100644 blob %s\tplan.json\n" $blob | git mktree) &&
	c2=$(git commit-tree -m "bad plan" $tree) &&
	test_must_fail git push "$HUB" $c2:refs/orchestrate/plans/bad 2>err &&
	test_grep "refs/orchestrate/plans/bad: refusing a broken plan state" err &&
	test_grep "does not parse" err &&
	hub_state >after &&
	test_cmp before after
'

test_expect_success 'creating and deleting a lease ref is allowed' '
	blob=$(echo "{\"host\": \"x\"}" | git hash-object -w --stdin) &&
	git push -q "$HUB" $blob:refs/orchestrate/locks/p/task/d &&
	test "$(git -C "$HUB" rev-parse refs/orchestrate/locks/p/task/d)" = $blob &&
	git push -q "$HUB" :refs/orchestrate/locks/p/task/d &&
	test_must_fail git -C "$HUB" rev-parse -q --verify refs/orchestrate/locks/p/task/d
'

test_expect_success 'declaredFiles warn (default): accepted, warning names task and path' '
	(cd "$TRASH_DIRECTORY/worker" && git checkout -q --detach origin/main &&
	 mkdir -p w && echo in >w/in.txt && echo out >outside.txt &&
	 git add w outside.txt && git commit -q -m w &&
	 git push origin HEAD:refs/heads/orchestrate/p/w 2>../w.err) &&
	test_grep "warning: task .w. of plan .p. changes .outside.txt., outside its declared files" "$TRASH_DIRECTORY/w.err" &&
	! grep "w/in.txt" "$TRASH_DIRECTORY/w.err" &&
	test "$(task_commit p w)" = "$(git -C "$TRASH_DIRECTORY/worker" rev-parse HEAD)"
'

test_expect_success 'declaredFiles refuse: the push is refused, naming task and paths' '
	git -C "$HUB" config orchestrate.declaredFiles refuse &&
	test_when_finished "git -C \"$HUB\" config --unset orchestrate.declaredFiles" &&
	hub_state >before &&
	(cd "$TRASH_DIRECTORY/worker" && git checkout -q --detach origin/main &&
	 mkdir -p r && echo ok >r.txt && echo ok >r/x.c && echo no >r/x.h &&
	 echo no >README &&
	 git add r r.txt README && git commit -q -m r &&
	 test_must_fail git push origin HEAD:refs/heads/orchestrate/p/r 2>../r.err) &&
	test_grep "error: task .r. of plan .p. changes .README." "$TRASH_DIRECTORY/r.err" &&
	test_grep "error: task .r. of plan .p. changes .r/x.h." "$TRASH_DIRECTORY/r.err" &&
	! grep "r/x.c\|r.txt" "$TRASH_DIRECTORY/r.err" &&
	test_grep "refs/heads/orchestrate/p/r: refused" "$TRASH_DIRECTORY/r.err" &&
	hub_state >after &&
	test_cmp before after
'

test_expect_success 'bad input to the hook changes nothing and says what is wrong' '
	hub_state >before &&
	printf "garbage\n" | git -C "$HUB" orchestrate hook post-receive 2>err &&
	test_grep "not \"<old> <new> <ref>\"" err &&
	printf "garbage\n" | test_expect_code 1 git -C "$HUB" orchestrate hook pre-receive 2>err &&
	test_grep "garbage" err &&
	hub_state >after &&
	test_cmp before after &&
	(cd "$TRASH_DIRECTORY/worker" && git checkout -q --detach origin/main &&
	 echo x >x.txt && git add x.txt && git commit -q -m x &&
	 git push origin HEAD:refs/heads/orchestrate/nope/x 2>../nope.err &&
	 git push origin HEAD:refs/heads/orchestrate/p/zzz 2>../zzz.err) &&
	test_grep "no plan .nope. is stored" "$TRASH_DIRECTORY/nope.err" &&
	test_grep "plan .p. has no task .zzz." "$TRASH_DIRECTORY/zzz.err" &&
	hub_state | grep "^refs/orchestrate\|^refs/notes" >after2 &&
	grep "^refs/orchestrate\|^refs/notes" before >before2 &&
	test_cmp before2 after2
'

test_expect_success 'merge = auto merges a pushed result into the hub base branch' '
	cat >m.ini <<-PLAN &&
	[plan]
	merge = auto
	verify = test ! -e bad.txt
	[task "good"]
	run = true
	[task "bad"]
	run = true
	PLAN
	git orchestrate plan m.ini >/dev/null &&
	git push -q "$HUB" refs/orchestrate/plans/m &&
	before=$(git -C "$HUB" rev-parse main) &&
	result good good.txt m &&
	commit=$(git -C "$TRASH_DIRECTORY/worker" rev-parse HEAD) &&
	test_grep "merged into main" "$TRASH_DIRECTORY/push-good.err" &&
	git -C "$HUB" merge-base --is-ancestor $commit main &&
	git -C "$HUB" merge-base --is-ancestor $before main &&
	git -C "$HUB" orchestrate status m >st &&
	test_grep "^good  *merged" st
'

test_expect_success 'a failing verify leaves the base branch exactly as it was' '
	git -C "$TRASH_DIRECTORY/worker" fetch -q origin &&
	before=$(git -C "$HUB" rev-parse main) &&
	result bad bad.txt m &&
	test_grep "rejected" "$TRASH_DIRECTORY/push-bad.err" &&
	test "$(git -C "$HUB" rev-parse main)" = "$before" &&
	git -C "$HUB" orchestrate status m >st &&
	test_grep "^bad  *rejected" st
'

test_expect_success 'merge = auto-rerun: a pushed conflict is set to run again, a runner runs it on the new base' '
	cat >rr.ini <<-\PLAN &&
	[plan]
	merge = auto-rerun
	[task "x"]
	run = true
	[task "y"]
	run = cp "$ORCHESTRATE_CONFLICT_FILES" "$TRASH_DIRECTORY/y-conflicts"; echo y >>clash.txt
	PLAN
	git orchestrate plan rr.ini >/dev/null &&
	git push -q "$HUB" refs/orchestrate/plans/rr &&
	git -C "$TRASH_DIRECTORY/worker" fetch -q origin &&
	result x clash.txt rr &&
	test_grep "merged into main" "$TRASH_DIRECTORY/push-x.err" &&
	result y clash.txt rr &&
	test_grep "task .y. of plan .rr.: conflicts with main; set to run again from main at" "$TRASH_DIRECTORY/push-y.err" &&
	git -C "$HUB" orchestrate status rr >st &&
	test_grep "^y  *ready" st &&
	(cd "$TRASH_DIRECTORY/worker2" && git fetch -q origin &&
	 TRASH_DIRECTORY="$TRASH_DIRECTORY" git orchestrate run rr --remote origin >../rr-run.out 2>&1) &&
	echo clash.txt >expect &&
	test_cmp expect "$TRASH_DIRECTORY/y-conflicts" &&
	git -C "$HUB" orchestrate status rr >st &&
	test_grep "^x  *merged" st &&
	test_grep "^y  *merged" st &&
	git -C "$HUB" show main:clash.txt >clash &&
	test_grep "^x " clash &&
	test_grep "^y$" clash
'

test_expect_success 'no temporary worktree is left on the hub' '
	git -C "$HUB" worktree list >wt &&
	test_line_count=$(wc -l <wt) &&
	test $test_line_count = 1 &&
	if test -d "$HUB/worktrees"; then test -z "$(ls -A "$HUB/worktrees")"; fi &&
	find "$HUB" -name "*orchestrate-tmp*" >left &&
	test ! -s left
'

test_expect_success 'a hook already there is kept and runs first with the same input' '
	hub2="$TRASH_DIRECTORY/hub2.git" &&
	git init -q --bare "$hub2" &&
	cat >"$hub2/hooks/post-receive" <<-\HOOK &&
	#!/bin/sh
	cat >"$TRASH_DIRECTORY/old-post.in"
	echo "old post-receive ran" >&2
	HOOK
	cat >"$hub2/hooks/pre-receive" <<-\HOOK &&
	#!/bin/sh
	cat >"$TRASH_DIRECTORY/old-pre.in"
	if grep -q refs/heads/blocked "$TRASH_DIRECTORY/old-pre.in"
	then
		echo "old pre-receive says no" >&2
		exit 1
	fi
	HOOK
	chmod +x "$hub2/hooks/post-receive" "$hub2/hooks/pre-receive" &&
	cp "$hub2/hooks/post-receive" old-post &&
	git orchestrate hooks install "$hub2" >out &&
	test_grep "post-receive: installed.*kept as post-receive.pre-orchestrate" out &&
	test_cmp old-post "$hub2/hooks/post-receive.pre-orchestrate" &&
	git orchestrate hooks install "$hub2" >out &&
	test_grep "post-receive: already installed" out &&
	git push -q "$hub2" main refs/orchestrate/plans/p 2>err &&
	test_grep "old post-receive ran" err &&
	printf "%s %s refs/heads/main\n%s %s refs/orchestrate/plans/p\n" \
		0000000000000000000000000000000000000000 $(git rev-parse main) \
		0000000000000000000000000000000000000000 $(git rev-parse refs/orchestrate/plans/p) >expect &&
	test_cmp expect "$TRASH_DIRECTORY/old-post.in" &&
	test_cmp expect "$TRASH_DIRECTORY/old-pre.in" &&
	git rev-parse main >c &&
	git push "$hub2" main:refs/heads/orchestrate/p/d 2>err &&
	git -C "$hub2" orchestrate status p >st &&
	test_grep "^d  *done" st &&
	test_grep "task .d. of plan .p. recorded done" err &&
	old=$(grep -n "old post-receive ran" err | cut -d: -f1) &&
	ours=$(grep -n "recorded done" err | cut -d: -f1) &&
	test "$old" -lt "$ours" &&
	test_must_fail git push "$hub2" main:refs/heads/blocked 2>err &&
	test_grep "old pre-receive says no" err &&
	test_must_fail git -C "$hub2" rev-parse -q --verify refs/heads/blocked
'

test_done
