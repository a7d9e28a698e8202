#!/bin/sh
# Findings across runners: `sync` merges the shared/ files of plan states
# that diverged into the union of their findings.
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

test_done
