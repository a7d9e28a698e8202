#!/bin/sh
# git orchestrate sync and status --remote: clones of one hub converge;
# the README's refspecs carry the state with plain git fetch/push.
. "$(dirname "$0")/test-lib.sh"

test_create_repo seed
(cd seed && cat >p.ini <<'PLAN'
[plan]
name = p

[task "x"]
run = echo x && echo x >x.txt

[task "y"]
run = echo y >y.txt

[task "z"]
run = echo z >z.txt
PLAN
git orchestrate plan p.ini >/dev/null) || exit 1

# A hub with the plan stored, and clones $2... of it.
new_hub () {
	rm -rf "$1" && git init -q --bare "$1" &&
	git -C seed push -q "$TRASH_DIRECTORY/$1" main \
		'refs/orchestrate/plans/*:refs/orchestrate/plans/*' &&
	hub=$1 && shift &&
	for c in "$@"; do
		rm -rf "$c" &&
		git clone -q "$hub" "$c" &&
		git -C "$c" fetch -q origin \
			'refs/orchestrate/plans/*:refs/orchestrate/plans/*' ||
		return 1
	done
}

# A: x cancelled, z cancelled and retried (ready). B: y cancelled, x and z
# run (done, attempt 1).
diverge () {
	(cd "$1" && git orchestrate cancel p x && git orchestrate cancel p z &&
	 git orchestrate retry p z) >/dev/null &&
	(cd "$2" && git orchestrate cancel p y >/dev/null &&
	 test_expect_code 1 git orchestrate run p >/dev/null)
}

states () {
	git -C "$1" orchestrate status --json p |
	sed -n 's/.*"state":[ 	]*"\([a-z]*\)".*/\1/p' | tr '\n' ' '
}

test_expect_success 'clones that diverged converge, A syncing first' '
	new_hub hub.git A B &&
	diverge A B &&
	(cd A && git orchestrate sync >out && test_grep "^p: pushed" out) &&
	(cd B && git orchestrate sync origin >out &&
	 test_grep "^p: merged 3 tasks" out &&
	 test_grep "task branches: 0 fetched, 2 pushed" out &&
	 test_grep "^notes: pushed" out) &&
	(cd A && git orchestrate sync >out && test_grep "^p: fetched" out &&
	 test_grep "task branches: 2 fetched" out) &&
	id=$(git -C hub.git rev-parse refs/orchestrate/plans/p) &&
	test "$(git -C A rev-parse refs/orchestrate/plans/p)" = "$id" &&
	test "$(git -C B rev-parse refs/orchestrate/plans/p)" = "$id" &&
	test "$(git -C A rev-parse refs/notes/orchestrate)" = \
	     "$(git -C hub.git rev-parse refs/notes/orchestrate)" &&
	test "$(git -C A rev-parse orchestrate/p/x)" = \
	     "$(git -C B rev-parse orchestrate/p/x)" &&
	git -C hub.git rev-list --parents -1 refs/orchestrate/plans/p >parents &&
	test $(wc -w <parents) = 3 &&
	test "$(states A)" = "done cancelled done " &&
	test "$(states B)" = "done cancelled done " &&
	git -C A show refs/orchestrate/plans/p:logs/x.log >log &&
	test_grep "^x$" log &&
	(cd A && git orchestrate sync >out) &&
	test_grep "^p: up to date" A/out
'

test_expect_success 'in the other order they converge on the same states and tree' '
	new_hub hub2.git A2 B2 &&
	diverge A2 B2 &&
	cp -R hub2.git hub2-copy.git && cp -R A2 A2-copy && cp -R B2 B2-copy &&
	(cd A2 && git orchestrate sync >/dev/null) &&
	(cd B2 && git orchestrate sync >/dev/null) &&
	(cd A2 && git orchestrate sync >/dev/null) &&
	(cd B2-copy && git orchestrate sync ../hub2-copy.git >out &&
	 test_grep "^p: pushed" out) &&
	(cd A2-copy && git orchestrate sync "file://$TRASH_DIRECTORY/hub2-copy.git" >out &&
	 test_grep "^p: merged 3 tasks" out) &&
	(cd B2-copy && git orchestrate sync ../hub2-copy.git >out &&
	 test_grep "^p: fetched" out) &&
	id=$(git -C hub2-copy.git rev-parse refs/orchestrate/plans/p) &&
	test "$(git -C A2-copy rev-parse refs/orchestrate/plans/p)" = "$id" &&
	test "$(git -C B2-copy rev-parse refs/orchestrate/plans/p)" = "$id" &&
	test "$(states A2-copy)" = "done cancelled done " &&
	test "$(git -C A2 rev-parse "refs/orchestrate/plans/p^{tree}")" = \
	     "$(git -C A2-copy rev-parse "refs/orchestrate/plans/p^{tree}")"
'

test_expect_success 'two clones making the same merge make the same commit' '
	new_hub hub3.git A3 B3 C3 &&
	diverge A3 B3 &&
	(cd A3 && git orchestrate sync >/dev/null) &&
	git -C C3 fetch -q ../B3 "+refs/orchestrate/plans/*:refs/orchestrate/plans/*" &&
	git -C C3 fetch -q ../B3 "refs/notes/orchestrate:refs/notes/orchestrate" &&
	(cd B3 && git orchestrate sync >/dev/null) &&
	(cd C3 && git orchestrate sync >out && test_grep "^p: fetched" out) &&
	test "$(git -C C3 rev-parse refs/orchestrate/plans/p)" = \
	     "$(git -C B3 rev-parse refs/orchestrate/plans/p)"
'

test_expect_success 'a change on one side only is a fast-forward' '
	(cd A && git orchestrate retry p y >/dev/null &&
	 git orchestrate sync >out && test_grep "^p: pushed" out) &&
	(cd B && git orchestrate sync >out && test_grep "^p: fetched" out) &&
	test "$(git -C B rev-parse refs/orchestrate/plans/p)" = \
	     "$(git -C hub.git rev-parse refs/orchestrate/plans/p)" &&
	git -C hub.git rev-list --parents -1 refs/orchestrate/plans/p >parents &&
	test $(wc -w <parents) = 2 &&
	test "$(states B)" = "done ready done "
'

test_expect_success 'status --remote shows the hub and changes no ref' '
	(cd A && git orchestrate cancel p y >/dev/null) &&
	(cd B && git for-each-ref >before &&
	 git orchestrate status --remote ../A p >out &&
	 test_grep "^y  *cancelled" out &&
	 git orchestrate status p >local &&
	 test_grep "^y  *ready" local &&
	 git orchestrate status --remote origin --json p >json &&
	 test_grep "\"plan\":.*\"p\"" json &&
	 git for-each-ref >after &&
	 test_cmp before after)
'

test_expect_success 'an unreachable remote is named, and nothing changes' '
	(cd A && git for-each-ref >before &&
	 test_expect_code 1 git orchestrate sync "$TRASH_DIRECTORY/nowhere.git" \
		>out 2>err &&
	 test_grep "nowhere.git" err &&
	 test_grep "^hint:" err &&
	 test_expect_code 1 git orchestrate status --remote nowhere p 2>err &&
	 test_grep "nowhere" err &&
	 git config remote.gone.url "$TRASH_DIRECTORY/gone.git" &&
	 git config branch.main.remote gone &&
	 test_expect_code 1 git orchestrate sync 2>err &&
	 test_grep "cannot fetch from .gone." err &&
	 git config --unset branch.main.remote &&
	 git for-each-ref >after &&
	 test_cmp before after)
'

test_expect_success 'bad usage exits 2' '
	(cd A && test_expect_code 2 git orchestrate sync a b &&
	 test_expect_code 2 git orchestrate sync --bogus &&
	 test_expect_code 2 git orchestrate status --remote origin --watch &&
	 git orchestrate sync -h >out && test_grep "sync \[REMOTE\]" out)
'

test_expect_success 'a plan stored again on one side is refused, by name' '
	new_hub hub4.git A4 B4 &&
	(cd A4 && sed "s/echo x/echo xx/" ../seed/p.ini >p.ini &&
	 git orchestrate plan --replace p.ini >/dev/null 2>&1 ||
	 git orchestrate plan p.ini >/dev/null) &&
	(cd B4 && git orchestrate cancel p y >/dev/null) &&
	(cd A4 && git orchestrate sync >/dev/null) &&
	(cd B4 && test_expect_code 1 git orchestrate sync >out 2>err &&
	 test_grep "^p: refused" out &&
	 test_grep "plan .p. differs" err)
'

# The README's refspecs (section "Working with a shared remote").
readme_refspecs () {
	git config --add remote.origin.fetch 'refs/orchestrate/plans/*:refs/orchestrate/plans/*' &&
	git config --add remote.origin.fetch 'refs/heads/orchestrate/*:refs/heads/orchestrate/*' &&
	git config --add remote.origin.fetch 'refs/notes/orchestrate*:refs/notes/orchestrate*' &&
	git config --add remote.origin.push HEAD &&
	git config --add remote.origin.push 'refs/orchestrate/plans/*:refs/orchestrate/plans/*' &&
	git config --add remote.origin.push 'refs/heads/orchestrate/*:refs/heads/orchestrate/*' &&
	git config --add remote.origin.push 'refs/notes/orchestrate*:refs/notes/orchestrate*'
}

test_expect_success 'the documented refspecs carry the state with plain git' '
	rm -rf hub5.git && git init -q --bare hub5.git &&
	git -C seed push -q ../hub5.git main &&
	git clone -q hub5.git C && git clone -q hub5.git D &&
	(cd C && readme_refspecs) && (cd D && readme_refspecs) &&
	git -C seed push -q ../hub5.git "refs/orchestrate/plans/*:refs/orchestrate/plans/*" &&
	git -C C fetch -q && git -C D fetch -q &&
	(cd C && git orchestrate cancel p z >/dev/null &&
	 test_expect_code 1 git orchestrate run p >/dev/null &&
	 git push -q) &&
	git -C hub5.git rev-parse --verify refs/notes/orchestrate &&
	git -C hub5.git rev-parse --verify refs/heads/orchestrate/p/x &&
	(cd D && git fetch -q && test "$(states .)" = "done done cancelled " &&
	 git rev-parse --verify orchestrate/p/x &&
	 git log -1 --notes=orchestrate --format=%N orchestrate/p/x >note &&
	 test_grep "task: x" note)
'

test_expect_success 'git refuses a non-fast-forward; sync merges it' '
	(cd C && git orchestrate retry p z >/dev/null &&
	 git orchestrate run p >/dev/null && git push -q) &&
	(cd D && git config user.name "D Eveloper" &&
	 git orchestrate retry p z >/dev/null &&
	 mine=$(git rev-parse refs/orchestrate/plans/p) &&
	 test_must_fail git fetch 2>err &&
	 test_grep "non-fast-forward" err &&
	 test "$(git rev-parse refs/orchestrate/plans/p)" = "$mine" &&
	 test_must_fail git push 2>err &&
	 test_grep "rejected" err &&
	 git orchestrate sync >out && test_grep "^p: merged" out &&
	 git push -q && git fetch -q) &&
	git -C C fetch -q &&
	test "$(git -C C rev-parse refs/orchestrate/plans/p)" = \
	     "$(git -C hub5.git rev-parse refs/orchestrate/plans/p)" &&
	test "$(states C)" = "done done done "
'

test_done
