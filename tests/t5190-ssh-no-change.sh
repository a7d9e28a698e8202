#!/bin/sh
# An SSH attempt whose command changes nothing makes no commit on the
# worker: the orchestrator makes its empty result commit, and the worktree,
# clean as it is, serves the slot's next attempt from the same start commit
# without a checkout or a clean. What is not nothing (an ignored file to
# clean, an empty directory, a file staged, a commit of the command's own)
# still takes the full way. Real sshd servers
# on 127.0.0.1.
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib-sshd.sh"

OUT="$TRASH_DIRECTORY/out"

test_expect_success 'setup: a worker with one slot and a repository' '
	sshd_start w1 && sshd_known_hosts "$SSHD_ROOT/known_hosts" w1 &&
	test_create_repo repo &&
	mkdir -p "$OUT" &&
	(
		cd repo &&
		echo "*.log" >.gitignore &&
		git add .gitignore &&
		git commit -q -m "ignore logs" &&
		sshd_worker_ini w1 slots=1 >.git/orchestrate.ini
	)
'
cd repo || test_bail_out "setup left no repository"

# A post-checkout hook on the worker counts checkouts.
test_expect_success 'a task that changes nothing gets an empty result commit made here' '
	mkdir -p "$OUT/hooks" &&
	printf "#!/bin/sh\necho checkout >>\"%s\"\n" "$OUT/checkouts" >"$OUT/hooks/post-checkout" &&
	chmod +x "$OUT/hooks/post-checkout" &&
	git config --file "$SSHD_ROOT/w1/gitconfig" core.hooksPath "$OUT/hooks" &&
	{
		printf "[plan]\nname = quiet\nretries = 0\n\n" &&
		printf "[task \"c\"]\nrun = echo c >c.txt\n\n" &&
		for i in 1 2 3 4; do
			printf "[task \"q%s\"]\ndepends = c\nrun = echo %s >>\"%s\"\n\n" \
				$i $i "$OUT/quiet"
		done
	} >quiet.ini &&
	git orchestrate plan quiet.ini >/dev/null &&
	: >"$OUT/checkouts" &&
	{ git orchestrate run quiet >out 2>&1 || { cat out; false; }; } &&
	git config --file "$SSHD_ROOT/w1/gitconfig" --unset core.hooksPath &&
	test $(wc -l <"$OUT/quiet") = 4 &&
	c=$(git rev-parse orchestrate/quiet/c) &&
	for i in 1 2 3 4; do
		q=$(git rev-parse orchestrate/quiet/q$i) &&
		test "$(git rev-parse $q^)" = $c &&
		test "$(git rev-parse $q^{tree})" = "$(git rev-parse $c^{tree})" &&
		git log -1 --format=%B $q >msg &&
		test_grep "^q$i: " msg &&
		test_grep "^Orchestrate-Task: q$i$" msg &&
		test "$(git log -1 --format="%an <%ae>|%cn <%ce>" $q)" = \
			"$(git log -1 --format="%an <%ae>|%cn <%ce>" $c)" &&
		! git -C "$SSHD_ROOT"/w1/work/repo-*/repo.git cat-file -e $q 2>/dev/null ||
		return 1
	done &&
	git -C "$SSHD_ROOT"/w1/work/repo-*/repo.git cat-file -e $c &&
	# commands that print nothing leave no output (no log in the plan)
	git ls-tree -r --name-only refs/orchestrate/plans/quiet >files &&
	test_grep "^tasks/q1.json$" files &&
	test_grep ! "^logs/" files &&
	git orchestrate status --json quiet >st.json &&
	test $(grep -c "\"state\":.*\"done\"" st.json) = 5 &&
	# c in a new worktree, q1 from c (which moved HEAD), and the shell'"'"'s
	# second worktree made ready once: none for each attempt
	test $(wc -l <"$OUT/checkouts") -le 3
'

test_expect_success 'a dependent of an empty result starts from it on the worker' '
	cat >dep.ini <<-\PLAN &&
	[plan]
	name = dep
	retries = 0

	[task "a"]
	run = true

	[task "b"]
	depends = a
	run = test "$(git rev-parse HEAD)" = "$ORCHESTRATE_BASE" && git log -1 --format=%B HEAD | grep -q "^Orchestrate-Task: a$" && echo b >b.txt
	PLAN
	git orchestrate plan dep.ini >/dev/null &&
	{ git orchestrate run dep >out 2>&1 || { cat out; false; }; } &&
	test "$(git rev-parse orchestrate/dep/b^)" = "$(git rev-parse orchestrate/dep/a)" &&
	test "$(git show orchestrate/dep/b:b.txt)" = b
'

# run_traced PLAN: store PLAN.ini and run it; every git process on the
# worker meanwhile, as trace2 names it, a line each in `names`.
run_traced () {
	git orchestrate plan "$1.ini" >/dev/null &&
	: >"$OUT/trace" &&
	git config --file "$SSHD_ROOT/w1/gitconfig" trace2.normalTarget "$OUT/trace" &&
	{ git orchestrate run "$1" >out 2>&1 || { cat out; false; }; } &&
	git config --file "$SSHD_ROOT/w1/gitconfig" --unset trace2.normalTarget &&
	sed -n "s/.* cmd_name \([a-z-]*\).*/\1/p" "$OUT/trace" >names
}

test_expect_success 'attempts that change nothing run one git process each' '
	{
		printf "[plan]\nname = idle\nretries = 0\n\n" &&
		for i in 1 2 3 4 5 6; do
			printf "[task \"i%s\"]\nrun = true\n\n" $i
		done
	} >idle.ini &&
	run_traced idle &&
	git orchestrate status --json idle >st.json &&
	test $(grep -c "\"state\":.*\"done\"" st.json) = 6 &&
	test $(grep -c "^ls-files$" names) = 6 &&
	# no status; a checkout and a clean only for the two worktrees the
	# shell found at another commit, none for a worktree the attempts
	# left as they found it
	test_grep ! "^status$" names &&
	test $(grep -c "^clean$" names) -le 2 &&
	test $(grep -c -e "^checkout$" -e "^worktree$" names) -le 2
'

# Without a remote, a result on the start commit goes back as its tree:
# git write-tree on the worker instead of git commit, and the commit is
# made here, as for a result that changed nothing.
test_expect_success 'an attempt that changes files sends its tree, its commit is made here' '
	cat >tree.ini <<-\PLAN &&
	[plan]
	name = tree
	retries = 0

	[task "add"]
	run = mkdir -p sub && echo new >sub/new.txt

	[task "change"]
	run = echo "*.tmp" >>.gitignore

	[task "remove"]
	run = rm .gitignore
	PLAN
	run_traced tree &&
	test $(grep -c "^write-tree$" names) = 3 &&
	test_grep ! "^commit$" names &&
	test "$(git show orchestrate/tree/add:sub/new.txt)" = new &&
	printf "*.log\n*.tmp\n" >expect &&
	git show orchestrate/tree/change:.gitignore >got &&
	test_cmp expect got &&
	test_must_fail git cat-file -e orchestrate/tree/remove:.gitignore &&
	for t in add change remove; do
		r=$(git rev-parse orchestrate/tree/$t) &&
		test "$(git rev-parse $r^)" = "$(git rev-parse main)" &&
		git log -1 --format=%B $r >msg &&
		test_grep "^Orchestrate-Task: $t$" msg &&
		test "$(git log -1 --format="%an <%ae>" $r)" = \
			"$(git log -1 --format="%an <%ae>" orchestrate/quiet/c)" &&
		test_must_fail git -C "$SSHD_ROOT"/w1/work/repo-*/repo.git cat-file -e $r 2>/dev/null ||
		return 1
	done
'

test_expect_success 'a file staged but not committed is in the result' '
	printf "[plan]\nname = staged\nretries = 0\n\n[task \"s\"]\nrun = echo s >staged.txt && git add staged.txt\n" >staged.ini &&
	git orchestrate plan staged.ini >/dev/null &&
	{ git orchestrate run staged >out 2>&1 || { cat out; false; }; } &&
	test "$(git show orchestrate/staged/s:staged.txt)" = s
'

test_expect_success 'an ignored file an attempt left is gone for the next one' '
	cat >ign.ini <<-\PLAN &&
	[plan]
	name = ign
	retries = 0

	[task "i1"]
	priority = high
	run = echo x >junk.log

	[task "i2"]
	run = test ! -e junk.log
	PLAN
	git orchestrate plan ign.ini >/dev/null &&
	{ git orchestrate run ign >out 2>&1 || { cat out; false; }; } &&
	test "$(git rev-parse orchestrate/ign/i1^{tree})" = "$(git rev-parse main^{tree})" &&
	git orchestrate status --json ign >st.json &&
	test $(grep -c "\"state\":.*\"done\"" st.json) = 2
'

test_expect_success 'an empty directory an attempt left is gone for the next one' '
	cat >dir.ini <<-\PLAN &&
	[plan]
	name = dir
	retries = 0

	[task "d1"]
	priority = high
	run = mkdir -p empty/dir

	[task "d2"]
	priority = high
	run = true

	[task "d3"]
	run = test ! -e empty
	PLAN
	git orchestrate plan dir.ini >/dev/null &&
	{ git orchestrate run dir >out 2>&1 || { cat out; false; }; } &&
	git orchestrate status --json dir >st.json &&
	test $(grep -c "\"state\":.*\"done\"" st.json) = 3
'

test_expect_success 'a commit the command made itself is in its result' '
	printf "[plan]\nname = own\nretries = 0\n\n[task \"o\"]\nrun = git commit -q --allow-empty -m mine\n" >own.ini &&
	git orchestrate plan own.ini >/dev/null &&
	{ git orchestrate run own >out 2>&1 || { cat out; false; }; } &&
	test "$(git log -1 --format=%s orchestrate/own/o^)" = mine &&
	test "$(git rev-parse orchestrate/own/o^^)" = "$(git rev-parse main)"
'

# The orchestrator is stopped while the command runs, the command ends
# having changed nothing, then the orchestrator is killed: the next run
# adopts the attempt and makes its empty result commit.
test_expect_success 'an attempt that changed nothing while nobody watched is adopted' '
	printf "%s\n" "touch \"$OUT/u.started\"" \
		"while [ ! -e \"$OUT/u.go\" ]; do sleep 0.1; done" \
		"echo u >>\"$OUT/u.count\"" >"$OUT/u.sh" &&
	printf "[plan]\nname = unwatched\nretries = 0\n[task \"u\"]\nrun = sh \"%s\"\n" \
		"$OUT/u.sh" >unwatched.ini &&
	git orchestrate plan unwatched.ini >/dev/null &&
	git-orchestrate run unwatched >run1.out 2>&1 &
	pid=$!
	test_wait_for "test -f \"$OUT/u.started\"" &&
	kill -STOP $pid &&
	touch "$OUT/u.go" &&
	test_wait_for "test -s \"\$(echo \"$SSHD_ROOT\"/w1/work/*/run/unwatched+u.1.done)\"" &&
	kill -9 $pid &&
	{ wait $pid; test $? = 137; } &&
	git orchestrate run unwatched >run2.out 2>&1 &&
	test_grep "attempt 1 left by a stopped run is adopted" run2.out &&
	test "$(cat "$OUT/u.count")" = u &&
	test "$(git rev-parse orchestrate/unwatched/u^)" = "$(git rev-parse main)" &&
	test "$(git rev-parse orchestrate/unwatched/u^{tree})" = "$(git rev-parse main^{tree})" &&
	git log -1 --format=%B orchestrate/unwatched/u >msg &&
	test_grep "^Orchestrate-Task: u$" msg
'

test_expect_success 'the files of the attempts that ended are removed' '
	run=$(echo "$SSHD_ROOT"/w1/work/repo-*/run) &&
	test -d "$run" &&
	ls "$run" >left &&
	! grep -e "\.sh$" -e "\.pid$" -e "\.st$" -e "\.t[01]$" -e "\.context$" -e "\.share$" -e "^gone\." left
'

test_done
