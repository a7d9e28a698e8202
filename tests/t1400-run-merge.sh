#!/bin/sh
# run --merge and merge = auto: each task is merged into the base branch as
# soon as it is done, in dependency order.
. "$(dirname "$0")/test-lib.sh"

test_expect_success 'setup' '
	test_create_repo repo
'
cd repo || test_bail_out "setup left no repository"

test_expect_success 'run --merge merges every done task into the base branch' '
	cat >m.ini <<-PLAN &&
	[task "one"]
	run = echo one >one.txt
	[task "two"]
	run = cat one.txt >two.txt
	depends = one
	[task "three"]
	run = echo three >three.txt
	PLAN
	git orchestrate plan m.ini >/dev/null &&
	before=$(git rev-parse main) &&
	git orchestrate run --merge m >out 2>&1 &&
	test_grep "one: merged into main" out &&
	git orchestrate status m >st &&
	test_grep "^one *merged" st &&
	test_grep "^two *merged" st &&
	test_grep "^three *merged" st &&
	git merge-base --is-ancestor orchestrate/m/two main &&
	git merge-base --is-ancestor orchestrate/m/three main &&
	test "$(git show main:two.txt)" = one &&
	git merge-base --is-ancestor $before main &&
	test "$(cat two.txt)" = one
'

test_expect_success 'merge = auto in the plan does the same' '
	cat >a.ini <<-PLAN &&
	[plan]
	merge = auto
	[task "auto1"]
	run = echo a >auto1.txt
	PLAN
	git orchestrate plan a.ini >/dev/null &&
	git orchestrate run a >out 2>&1 &&
	git orchestrate status a >st &&
	test_grep "^auto1 *merged" st &&
	test "$(git show main:auto1.txt)" = a
'

test_expect_success 'a task that conflicts with the base is left unmerged, run exits 1' '
	cat >c.ini <<-PLAN &&
	[plan]
	merge = auto
	[task "clash"]
	run = echo theirs >README
	PLAN
	git orchestrate plan c.ini >/dev/null &&
	echo ours >README && git commit -q -am "move main on" &&
	test_expect_code 1 git orchestrate run c >out 2>&1 &&
	git orchestrate status c >st &&
	test_grep "^clash *conflict" st &&
	test "$(git show main:README)" = ours
'

test_done
