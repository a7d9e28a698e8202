#!/bin/sh
# git orchestrate merge: analysis, merge commits, conflicts, --squash,
# --into, and the checked-out base branch (clean and dirty).
. "$(dirname "$0")/test-lib.sh"

test_expect_success 'setup: a repository and a plan' '
	test_create_repo repo &&
	cd repo &&
	printf "one\ntwo\nthree\nfour\nfive\nsix\nseven\n" >shared.txt &&
	echo base >base.txt &&
	git add shared.txt base.txt && git commit -q -m "files to edit" &&
	cat >p.ini <<-\PLAN
	[plan]
	name = p
	retries = 0

	[task "alpha"]
	run = echo alpha >alpha.txt

	[task "beta"]
	run = echo beta >beta.txt && sed -e 1s/one/ONE-beta/ shared.txt >s && mv s shared.txt
	priority = high

	[task "gamma"]
	run = sed -e 1s/one/ONE-gamma/ shared.txt >s && mv s shared.txt

	[task "delta"]
	run = echo delta >base.txt

	[task "after"]
	run = test -f alpha.txt && echo after >after.txt
	depends = alpha
	PLAN
'
cd repo || test_bail_out "setup left no repository"

test_expect_success 'setup: the plan runs and its tasks are done' '
	git orchestrate plan p.ini >/dev/null &&
	git orchestrate run p >/dev/null &&
	git orchestrate status --json p >st.json &&
	test $(jq "[.tasks[] | select(.state == \"done\")] | length" st.json) = 5
'

test_expect_success 'the base moves: delta now conflicts with it' '
	echo "moved on main" >base.txt &&
	git commit -q -a -m "main moves on" &&
	git rev-parse main >main.before
'

test_expect_success 'merge --analyze reports base and pairwise conflicts, exits 1, changes nothing' '
	orch_refs >refs.before &&
	test_expect_code 1 git orchestrate merge p --analyze >out &&
	test_grep "^[0-9] *alpha *clean *-$" out &&
	test_grep "delta *conflict" out &&
	test_grep "beta with gamma: shared.txt" out &&
	test_grep "delta with main: base.txt" out &&
	orch_refs >refs.after &&
	test_cmp refs.before refs.after &&
	git rev-parse main >main.now &&
	test_cmp main.before main.now &&
	git status --porcelain --untracked-files=no >dirty &&
	test ! -s dirty
'

test_expect_success 'merge --analyze --json has the tasks, pairs and paths' '
	test_expect_code 1 git orchestrate merge p --analyze --json >a.json &&
	jq -e ".conflicts == true" a.json &&
	jq -e "[.pairs[] | select(.a == \"beta\" and .b == \"gamma\")] | length == 1" a.json &&
	jq -e ".tasks[] | select(.id == \"delta\") | .base == \"conflict\" and .paths == [\"base.txt\"]" a.json &&
	jq -e ".tasks[] | select(.id == \"alpha\") | .conflicts_with == []" a.json
'

test_expect_success 'merge merges the clean tasks in order and leaves conflicts unmerged' '
	test_expect_code 1 git orchestrate merge p >out &&
	test_grep "conflict: delta" out &&
	test_grep "conflict: gamma (left unmerged): shared.txt" out &&
	git orchestrate status --json p >st.json &&
	jq -e ".tasks[] | select(.id == \"alpha\") | .state == \"merged\"" st.json &&
	jq -e ".tasks[] | select(.id == \"beta\") | .state == \"merged\"" st.json &&
	jq -e ".tasks[] | select(.id == \"after\") | .state == \"merged\"" st.json &&
	jq -e ".tasks[] | select(.id == \"gamma\") | .state == \"conflict\"" st.json &&
	jq -e ".tasks[] | select(.id == \"delta\") | .state == \"conflict\"" st.json
'

test_expect_success 'merge commits name plan and task, in dependency then priority order' '
	git log --first-parent --format=%s main >log &&
	head -n 3 log >merges &&
	cat >expect <<-\EOF &&
	Merge task '"'"'after'"'"' of plan '"'"'p'"'"'
	Merge task '"'"'alpha'"'"' of plan '"'"'p'"'"'
	Merge task '"'"'beta'"'"' of plan '"'"'p'"'"'
	EOF
	test_cmp expect merges &&
	git log -1 --format=%B main >msg &&
	test_grep "^Orchestrate-Task: after$" msg &&
	git rev-list --parents -1 main >parents &&
	test $(wc -w <parents) = 3
'

test_expect_success 'each merge commit has a note and the record is stored' '
	git notes --ref=orchestrate show main >note &&
	test_grep "^task: after" note &&
	git show refs/orchestrate/plans/p:merges/1.json >rec &&
	jq -e ".moved == true and (.tasks | length) == 3 and (.conflicts | length) == 2" rec &&
	jq -e ".base_before == \"$(cat main.before)\" and .base_after == \"$(git rev-parse main)\"" rec
'

test_expect_success 'the checked-out base was updated like git merge: files, index, HEAD' '
	test "$(git symbolic-ref HEAD)" = refs/heads/main &&
	test -f alpha.txt && test -f after.txt && test -f beta.txt &&
	git status --porcelain --untracked-files=no >dirty &&
	test ! -s dirty
'

test_expect_success 'merging again with nothing done exits 0 and changes nothing' '
	git rev-parse main >before &&
	git orchestrate merge p >out &&
	test_grep "nothing to merge" out &&
	git rev-parse main >after &&
	test_cmp before after
'

test_expect_success 'a dirty checkout of the base is refused and the branch not moved' '
	git orchestrate plan --name q p.ini >/dev/null &&
	git orchestrate run q >/dev/null &&
	echo local >>base.txt &&
	git rev-parse main >before &&
	test_expect_code 1 git orchestrate merge q 2>err &&
	test_grep "uncommitted changes" err &&
	test_grep "^hint: commit or stash" err &&
	git rev-parse main >after &&
	test_cmp before after &&
	test_grep local base.txt &&
	git checkout -q -- base.txt
'

test_expect_success '--into BRANCH and --squash merge into another branch, one commit per task' '
	git branch release main~3 &&
	git orchestrate merge q --into release --squash >out &&
	git log --format=%s release >log &&
	test_grep "^q/alpha: " log &&
	git rev-list --parents -1 release >parents &&
	test $(wc -w <parents) = 2 &&
	git show refs/orchestrate/plans/q:merges/1.json >rec &&
	jq -e ".into == \"release\" and .squash == true" rec
'

test_done
