#!/bin/sh
# Findings across runners: `run --remote` stores them on the hub where
# the other runners' tasks read them; `sync` merges the shared/ files of
# plan states that diverged into the union of their findings.
. "$(dirname "$0")/test-lib.sh"

test_create_repo seed
(cd seed && cat >p.ini <<'PLAN'
[plan]
name = p
retries = 0

[task "a"]
run = git orchestrate share "a found $ORCH_T_CLONE"

[task "b"]
run = git orchestrate share "b found $ORCH_T_CLONE"

[task "c"]
run = git orchestrate share "c found $ORCH_T_CLONE" && test -z "$ORCH_T_FAIL"
PLAN
git orchestrate plan p.ini >/dev/null) || exit 1

test_expect_success 'setup: a hub and two clones that run the plan apart' '
	git init -q --bare hub.git &&
	git -C seed push -q "$TRASH_DIRECTORY/hub.git" main \
		"refs/orchestrate/plans/*:refs/orchestrate/plans/*" &&
	for c in A B; do
		git clone -q hub.git $c &&
		git -C $c fetch -q origin \
			"refs/orchestrate/plans/*:refs/orchestrate/plans/*" &&
		(cd $c && ORCH_T_CLONE=$c ORCH_T_FAIL=1 \
			test_expect_code 1 git orchestrate run p >/dev/null) ||
		return 1
	done &&
	git -C A cat-file -p refs/orchestrate/plans/p:shared/a.json >a &&
	test_grep "a found A" a &&
	test_grep ! "a found B" a
'

test_expect_success 'sync keeps the findings of both sides, also of one task' '
	(cd A && git orchestrate sync >out && test_grep "^p: pushed" out) &&
	(cd B && git orchestrate sync >out && test_grep "^p: merged" out) &&
	(cd A && git orchestrate sync >out && test_grep "^p: fetched" out) &&
	for t in a b c; do
		git -C hub.git cat-file -p refs/orchestrate/plans/p:shared/$t.json >$t.json &&
		test $(wc -l <$t.json) = 2 &&
		test_grep "$t found A" $t.json &&
		test_grep "$t found B" $t.json || return 1
	done &&
	(cd A && git orchestrate log p --shared >log) &&
	test $(grep -c "^[0-9]" A/log) = 6
'

test_expect_success 'findings both sides had already are kept once' '
	for c in A B; do
		(cd $c && git orchestrate retry p c >/dev/null &&
		 ORCH_T_CLONE=$c-again git orchestrate run p >/dev/null) ||
		return 1
	done &&
	(cd A && git orchestrate sync >out && test_grep "^p: pushed" out) &&
	(cd B && git orchestrate sync >out && test_grep "^p: merged" out) &&
	git -C hub.git cat-file -p refs/orchestrate/plans/p:shared/c.json >c2.json &&
	test $(wc -l <c2.json) = 4 &&
	test $(sort -u c2.json | wc -l) = 4 &&
	test_grep "c found A-again" c2.json &&
	test_grep "c found B-again" c2.json
'

test_expect_success 'setup: a plan on a second hub, two clones of it' '
	git init -q --bare hub2.git &&
	(
		cd seed &&
		cat >q.ini <<-\PLAN &&
		[plan]
		name = q
		[task "a"]
		run = git orchestrate share "a found on the hub"
		[task "b"]
		depends = a
		run = cp "$ORCHESTRATE_CONTEXT_FILE" context.txt
		[task "c"]
		depends = a
		run = cp "$ORCHESTRATE_CONTEXT_FILE" context.txt
		PLAN
		git orchestrate plan q.ini >/dev/null &&
		git push -q "$TRASH_DIRECTORY/hub2.git" main \
			"refs/orchestrate/plans/q:refs/orchestrate/plans/q"
	) &&
	git clone -q hub2.git R1 && git clone -q hub2.git R2
'

test_expect_success 'run --remote: findings travel through the hub to the other runner' '
	(cd R1 && git-orchestrate run q --remote "$TRASH_DIRECTORY/hub2.git" >../r1.out 2>&1; echo $? >../r1.status) &
	p1=$!
	(cd R2 && git-orchestrate run q --remote "$TRASH_DIRECTORY/hub2.git" >../r2.out 2>&1; echo $? >../r2.status) &
	p2=$!
	wait $p1 $p2 &&
	test "$(cat r1.status r2.status)" = "$(printf "0\n0")" &&
	git -C hub2.git cat-file -p refs/orchestrate/plans/q:shared/a.json >qa.json &&
	test $(wc -l <qa.json) = 1 &&
	for t in b c; do
		git -C hub2.git show orchestrate/q/$t:context.txt >ctx-$t &&
		test_grep "^a found on the hub$" ctx-$t || return 1
	done
'

test_done
