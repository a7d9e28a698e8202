#!/bin/sh
# [plan] setup: run once in each worktree slot before its first task; a
# failed setup is the slot's failure, not the task's.
. "$(dirname "$0")/test-lib.sh"

OUT="$TRASH_DIRECTORY/out"
export OUT

test_expect_success 'setup' '
	test_create_repo repo &&
	mkdir -p "$OUT" &&
	(cd repo && printf ".env\ndeps/\n" >.gitignore && git add .gitignore &&
	 git commit -q -m ignore)
'
cd repo || test_bail_out "setup left no repository"

test_expect_success 'setup runs once in a slot, before its first task; what it made stays' '
	cat >s.ini <<-PLAN &&
	[plan]
	setup = echo once >>"\$OUT/setups"; echo SECRET=1 >.env; mkdir -p deps; echo installed >deps/lib; echo setup says #1
	[task "a"]
	run = cat .env deps/lib >"\$OUT/a"; echo a >a.txt
	[task "b"]
	run = cat .env deps/lib >"\$OUT/b"; echo b >b.txt
	depends = a
	[task "c"]
	run = cat .env deps/lib >"\$OUT/c"; echo c >c.txt
	depends = b
	PLAN
	git orchestrate plan s.ini >/dev/null &&
	git orchestrate run -j 1 s >out &&
	test_grep ! "will retry" out &&
	echo once >expect &&
	test_cmp expect "$OUT/setups" &&
	printf "SECRET=1\ninstalled\n" >expect &&
	test_cmp expect "$OUT/a" &&
	test_cmp expect "$OUT/b" &&
	test_cmp expect "$OUT/c" &&
	git ls-tree -r --name-only orchestrate/s/c >files &&
	printf ".gitignore\nREADME\na.txt\nb.txt\nc.txt\n" >expect &&
	test_cmp expect files
'

test_expect_success 'setup is a verbatim key: ; and # are kept' '
	git show refs/orchestrate/plans/s:plan.json >plan.json &&
	test_grep "\"setup\":.*>>.*; echo SECRET=1 >.env; mkdir -p deps.*says #1\"" plan.json
'

test_expect_success 'a plan without setup stores no setup key' '
	cat >n.ini <<-PLAN &&
	[task "n"]
	run = true
	PLAN
	git orchestrate plan n.ini >/dev/null &&
	git show refs/orchestrate/plans/n:plan.json >plan.json &&
	test_grep ! setup plan.json
'

test_expect_success 'a failed setup is the slot'"'"'s failure: no retry used, its output kept' '
	cat >bad.ini <<-PLAN &&
	[plan]
	retries = 0
	setup = echo "cannot install deps"; exit 3
	[task "t"]
	run = touch "\$OUT/t-ran"
	PLAN
	git orchestrate plan bad.ini >/dev/null &&
	test_expect_code 1 git orchestrate run -j 2 bad >out 2>err &&
	test_grep "setup failed on slot 0 of worker local: exit status 3" out &&
	test_grep "setup failed on slot 1 of worker local: exit status 3" out &&
	test_grep "has a slot left" err &&
	test_path_is_missing "$OUT/t-ran" &&
	git orchestrate status bad >st &&
	test_grep "^t *ready" st &&
	git show refs/orchestrate/plans/bad:logs/t.log >log &&
	test_grep "cannot install deps" log &&
	git show refs/orchestrate/plans/bad:tasks/t.json >t.json &&
	test_grep "\"interrupted\":2" t.json
'

test_expect_success 'a fixed setup lets the task run' '
	sed -i "s/exit 3/true/" bad.ini &&
	git orchestrate forget bad >/dev/null &&
	git orchestrate plan bad.ini >/dev/null &&
	git orchestrate run bad >out &&
	test_path_is_file "$OUT/t-ran"
'

test_done
