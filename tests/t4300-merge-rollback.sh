#!/bin/sh
# git orchestrate rollback: reset when nothing was added, --revert otherwise.
. "$(dirname "$0")/test-lib.sh"

test_expect_success 'setup: a repository and a plan' '
	test_create_repo repo &&
	cd repo &&
	cat >p.ini <<-\PLAN
	[plan]
	name = p
	retries = 0

	[task "one"]
	run = echo one >one.txt

	[task "two"]
	run = echo two >two.txt
	PLAN
'
cd repo || test_bail_out "setup left no repository"

test_expect_success 'setup: run and merge' '
	git orchestrate plan p.ini >/dev/null &&
	git orchestrate run p >/dev/null &&
	git rev-parse main >before &&
	git orchestrate merge p >/dev/null &&
	test -f one.txt
'

test_expect_success 'rollback puts the base back to exactly the commit before the merge' '
	git orchestrate rollback p >out &&
	git rev-parse main >after &&
	test_cmp before after &&
	test ! -e one.txt &&
	git status --porcelain --untracked-files=no >dirty &&
	test ! -s dirty &&
	git orchestrate status --json p >st.json &&
	test $(jq "[.tasks[] | select(.state == \"done\")] | length" st.json) = 2 &&
	git show refs/orchestrate/plans/p:merges/1.json >rec &&
	jq -e ".undone.mode == \"reset\"" rec
'

test_expect_success 'with no merge left, rollback says so' '
	test_must_fail git orchestrate rollback p 2>err &&
	test_grep "no merge to roll back" err
'

test_expect_success 'after later work, rollback refuses and explains' '
	git orchestrate merge p >/dev/null &&
	echo later >later.txt && git add later.txt && git commit -q -m "later work" &&
	git rev-parse main >tip &&
	test_expect_code 2 git orchestrate rollback p 2>err &&
	test_grep "new commits since merge 2" err &&
	test_grep "^hint:.*--revert" err &&
	git rev-parse main >now &&
	test_cmp tip now
'

test_expect_success 'rollback --revert adds revert commits on top and keeps later work' '
	git orchestrate rollback --revert p >out &&
	test_grep "added 2 revert commits" out &&
	git log --format=%s -2 main >log &&
	test_grep "^Revert task .one. of plan .p.$" log &&
	test_grep "^Revert task .two. of plan .p.$" log &&
	git merge-base --is-ancestor "$(cat tip)" main &&
	test -f later.txt &&
	test ! -e one.txt &&
	test ! -e two.txt &&
	git status --porcelain --untracked-files=no >dirty &&
	test ! -s dirty
'

test_done
