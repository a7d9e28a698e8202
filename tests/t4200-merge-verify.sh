#!/bin/sh
# git orchestrate merge with verify: bisection of a failing set, the base
# branch never left on an unverified commit, and a base moved meanwhile.
. "$(dirname "$0")/test-lib.sh"

test_expect_success 'setup: a repository and a plan' '
	test_create_repo repo &&
	cd repo &&
	cat >p.ini <<-\PLAN
	[plan]
	name = p
	retries = 0
	verify = test ! -e broken.txt && test "$(cat count 2>/dev/null || echo 0)" -ge 0

	[task "one"]
	run = echo one >one.txt

	[task "bad"]
	run = echo oops >broken.txt

	[task "two"]
	run = echo two >two.txt
	PLAN
'
cd repo || test_bail_out "setup left no repository"

test_expect_success 'setup: run the plan' '
	git orchestrate plan p.ini >/dev/null &&
	git orchestrate run p >/dev/null &&
	git rev-parse main >main.before
'

test_expect_success 'verify fails: the culprit is rejected, the two others merged' '
	test_expect_code 1 git orchestrate merge p >out &&
	test_grep "rejected: bad breaks verify" out &&
	git orchestrate status --json p >st.json &&
	jq -e ".tasks[] | select(.id == \"bad\") | .state == \"rejected\"" st.json &&
	jq -e ".tasks[] | select(.id == \"one\") | .state == \"merged\"" st.json &&
	jq -e ".tasks[] | select(.id == \"two\") | .state == \"merged\"" st.json &&
	test -f one.txt && test -f two.txt && test ! -e broken.txt
'

test_expect_success 'the base branch moved once, straight to a verified commit' '
	git reflog show --format=%gs refs/heads/main >reflog &&
	test $(grep -c orchestrate reflog) = 1 &&
	git log --format=%H main -- broken.txt >touched &&
	test ! -s touched &&
	git show refs/orchestrate/plans/p:merges/1.json >rec &&
	jq -e ".verify.outcome == \"bisected\" and .verify.runs >= 3 and (.rejected | length) == 1" rec
'

test_expect_success 'no verify worktree or branch is left behind' '
	git worktree list >wt &&
	test $(wc -l <wt) = 1 &&
	git for-each-ref refs/heads >heads &&
	test_grep ! orchestrate-verify heads &&
	test ! -e .git/orchestrate-verify
'

test_expect_success '--verify CMD overrides the plan and a pass merges everything' '
	sed -e "s/^name = p/name = q/" p.ini >q.ini &&
	git orchestrate plan q.ini >/dev/null &&
	git orchestrate run q >/dev/null &&
	git orchestrate merge q --verify true >out &&
	git orchestrate status --json q >st.json &&
	test $(jq "[.tasks[] | select(.state == \"merged\")] | length" st.json) = 3
'

test_expect_success 'a base moved during verify is not overwritten and the user is told' '
	sed -e "s/^name = p/name = r/" p.ini >r.ini &&
	git orchestrate plan r.ini >/dev/null &&
	git orchestrate run r >/dev/null &&
	git branch release main &&
	git commit-tree -p main -m "someone else" "main^{tree}" >other &&
	test_expect_code 1 git orchestrate merge r --into release \
		--verify "git update-ref refs/heads/release $(cat other)" 2>err &&
	test_grep "moved" err &&
	test "$(git rev-parse release)" = "$(cat other)" &&
	git orchestrate status --json r >st.json &&
	test $(jq "[.tasks[] | select(.state == \"done\")] | length" st.json) = 3
'

test_expect_success 'setup: a plan with one task that breaks verify' '
	cat >base.ini <<-\PLAN &&
	[plan]
	name = v
	retries = 0
	verify = test ! -e b-broken.txt

	[task "a"]
	run = echo a >a.txt

	[task "b"]
	run = echo b >b-broken.txt

	[task "c"]
	run = echo c >c.txt
	PLAN
	git orchestrate plan base.ini >/dev/null &&
	git orchestrate run v >/dev/null &&
	sed -e "s/^name = v/name = w/" base.ini >w.ini &&
	git orchestrate plan w.ini >/dev/null &&
	git orchestrate run w >/dev/null
'

test_expect_success 'a verify that fails on the base itself blames no task and moves nothing' '
	git rev-parse main >main.before &&
	orch_refs >refs.before &&
	test_expect_code 1 git orchestrate merge v \
		--verify "echo verify said this && exit 3" >out 2>err &&
	test_grep "^error: verify fails on the base itself (.main. at [0-9a-f]*, exit 3): no task is to blame" err &&
	test_grep "^hint: make .echo verify said this && exit 3. pass on .main." err &&
	test_grep "verify on the base alone (.*): failed" out &&
	test_grep "verify said this" out &&
	test_grep ! "rejected" out &&
	test "$(git rev-parse main)" = "$(cat main.before)" &&
	git orchestrate status --json v >st.json &&
	test $(jq "[.tasks[] | select(.state == \"done\")] | length" st.json) = 3 &&
	orch_refs >refs.after &&
	test_cmp refs.before refs.after
'

test_expect_success 'within one merge each distinct tree is verified once' '
	verified="$TRASH_DIRECTORY/verified" &&
	test_expect_code 1 git orchestrate merge w --verify \
		"git rev-parse \"\$ORCHESTRATE_COMMIT^{tree}\" >>\"$verified\" && test ! -e b-broken.txt" >out &&
	test_grep "rejected: b breaks verify" out &&
	git orchestrate status --json w >st.json &&
	jq -e ".tasks[] | select(.id == \"b\") | .state == \"rejected\"" st.json &&
	sort "$verified" | uniq -d >twice &&
	test ! -s twice &&
	git show refs/orchestrate/plans/w:merges/1.json >rec &&
	test "$(jq .verify.runs rec)" = $(wc -l <"$verified")
'

test_done
