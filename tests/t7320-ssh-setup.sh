#!/bin/sh
# [plan] setup on an SSH worker: once per slot (its slots outlive a run),
# again when it changes, one quoted word on the way; a failed setup is the
# slot's failure. A real sshd on 127.0.0.1.
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib-sshd.sh"

OUT="$TRASH_DIRECTORY/out"

test_expect_success 'setup: a worker with one slot and a repository' '
	sshd_start w1 &&
	sshd_known_hosts "$SSHD_ROOT/known_hosts" w1 &&
	mkdir -p "$OUT" &&
	test_create_repo repo &&
	cd repo &&
	printf ".env\n" >.gitignore && git add .gitignore &&
	git commit -q -m ignore &&
	sshd_worker_ini w1 slots=1 >.git/orchestrate.ini
'
cd repo || test_bail_out "setup left no repository"

test_expect_success 'setup runs once in the slot, also across runs; its files stay out of results' '
	cat >a.ini <<-PLAN &&
	[plan]
	setup = echo once >>"$OUT/setups"; printf "%s\n" '"'"'a "b" \$c \`d\` ;'"'"' >.env
	[task "a1"]
	run = cp .env env.txt
	[task "a2"]
	run = cp .env env2.txt
	depends = a1
	PLAN
	git orchestrate plan a.ini >/dev/null &&
	git orchestrate run a >out 2>&1 &&
	printf "[plan]\nname = b\n" >b.ini &&
	sed -n "/^setup/,\$p" a.ini >>b.ini &&
	git orchestrate plan b.ini >/dev/null &&
	git orchestrate run b >out 2>&1 &&
	echo once >expect &&
	test_cmp expect "$OUT/setups" &&
	git show orchestrate/a/a2:env2.txt >got &&
	printf "%s\n" "a \"b\" \$c \`d\` ;" >expect &&
	test_cmp expect got &&
	git ls-tree -r --name-only orchestrate/b/a2 >files &&
	test_grep ! "^\.env$" files
'

test_expect_success 'a changed setup runs again' '
	sed "s/echo once/echo twice/" a.ini | sed "1a name = c" >c.ini &&
	git orchestrate plan c.ini >/dev/null &&
	git orchestrate run c >out 2>&1 &&
	printf "once\ntwice\n" >expect &&
	test_cmp expect "$OUT/setups"
'

test_expect_success 'a failed setup is the slot'"'"'s failure, reported with its output' '
	cat >bad.ini <<-PLAN &&
	[plan]
	retries = 0
	setup = echo "no deps for you"; exit 4
	[task "t"]
	run = touch "$OUT/t-ran"
	PLAN
	git orchestrate plan bad.ini >/dev/null &&
	test_expect_code 1 git orchestrate run bad >out 2>err &&
	test_grep "setup failed on slot 0 of worker w1: exit status 4" out &&
	test_grep "has a slot left" err &&
	test_path_is_missing "$OUT/t-ran" &&
	git orchestrate status bad >st &&
	test_grep "^t *ready" st &&
	git show refs/orchestrate/plans/bad:logs/t.log >log &&
	test_grep "no deps for you" log
'

test_expect_success 'the next run takes the slot again and runs the setup' '
	sed -i "s/exit 4/true/" bad.ini &&
	git orchestrate forget bad >/dev/null &&
	git orchestrate plan bad.ini >/dev/null &&
	git orchestrate run bad >out 2>&1 &&
	test_path_is_file "$OUT/t-ran"
'

# With a setup, ignored files are the setup's and stay: a command that
# changed nothing else changed nothing (no commit on the worker), and the
# next attempt (n1 first: one slot) still has them.
test_expect_success 'with a setup, the files it left do not make a change' '
	cat >n.ini <<-PLAN &&
	[plan]
	retries = 0
	setup = echo ok >.env
	[task "n1"]
	priority = high
	run = true
	[task "n2"]
	run = test -f .env && echo n2 >n2.txt
	PLAN
	git orchestrate plan n.ini >/dev/null &&
	git orchestrate run n >out 2>&1 &&
	n1=$(git rev-parse orchestrate/n/n1) &&
	test "$(git rev-parse $n1^{tree})" = "$(git rev-parse main^{tree})" &&
	! git -C "$SSHD_ROOT"/w1/work/repo-*/repo.git cat-file -e $n1 2>/dev/null &&
	test "$(git show orchestrate/n/n2:n2.txt)" = n2 &&
	git ls-tree -r --name-only orchestrate/n/n2 >files &&
	test_grep ! "^\.env$" files
'

test_done
