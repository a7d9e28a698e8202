#!/bin/sh
# contrib/github-open-prs: a plan's done task branches are pushed and get a
# pull request each (gh pr create, title and body from the prompt and the
# result, base the plan's base); a branch that has one already is skipped.
# gh is a stand-in on PATH that records its argv and stdin and answers
# with recorded JSON.
. "$(dirname "$0")/test-lib.sh"

TOOL=$(cd "$TEST_DIRECTORY/../contrib" && pwd)/github-open-prs

test_expect_success 'setup: a stand-in gh, a hub and a plan with done, failed and covered tasks' '
	mkdir stand-ins prs &&
	cat >stand-ins/gh <<-\EOF &&
	#!/bin/sh
	n=$(( $(cat "$TRASH_DIRECTORY/gh.count" 2>/dev/null || echo 0) + 1 ))
	echo $n >"$TRASH_DIRECTORY/gh.count"
	printf "%s\n" "$@" >"$TRASH_DIRECTORY/gh.args.$n"
	if [ -n "${GH_FAIL:-}" ]; then
		echo "HTTP 401: Bad credentials (https://api.github.com/graphql)" >&2
		exit 1
	fi
	head= prev=
	for arg in "$@"; do
		[ "$prev" = --head ] && head=$arg
		prev=$arg
	done
	key=$(printf "%s" "$head" | tr / _)
	case "$1 $2" in
	"pr list")
		cat "$TRASH_DIRECTORY/prs/$key.json" 2>/dev/null || echo "[]" ;;
	"pr create")
		cat >"$TRASH_DIRECTORY/body.$key" &&
		echo "[{\"number\":$((n + 100))}]" >"$TRASH_DIRECTORY/prs/$key.json" &&
		echo "https://github.com/octo/app/pull/$((n + 100))" ;;
	*)
		echo "stand-in gh: unexpected $*" >&2; exit 1 ;;
	esac
	EOF
	chmod +x stand-ins/gh &&
	echo "[{\"number\":7}]" >prs/orchestrate_p_covered.json &&
	git init -q --bare hub.git &&
	test_create_repo repo &&
	cd repo &&
	git remote add origin ../hub.git &&
	git push -q origin main &&
	cat >p.ini <<-\PLAN &&
	[plan]
	name = p
	retries = 0
	agent = cp "$ORCHESTRATE_PROMPT_FILE" prompt.txt

	[task "issue-12"]
	prompt = Crash on empty "input" $(touch pwned)
	  Running `tool ""` crashes; expected an error.

	[task "build"]
	run = echo built >build.txt

	[task "broken"]
	run = exit 3

	[task "covered"]
	run = echo covered >covered.txt
	PLAN
	printf "p.ini\n" >.git/info/exclude &&
	git orchestrate plan p.ini >/dev/null &&
	test_expect_code 1 git orchestrate run p >/dev/null 2>&1
'
cd repo || test_bail_out "setup left no repository"
PATH="$TRASH_DIRECTORY/stand-ins:$PATH"

test_expect_success 'done tasks are pushed and get a pull request into the plan base' '
	"$TOOL" p >out 2>err &&
	test_grep "^issue-12: opened https://github.com/octo/app/pull/" out &&
	test_grep "^build: opened https://github.com/octo/app/pull/" out &&
	test_grep "^covered: already has pull request #7, skipped" out &&
	test_grep "^2 pull requests opened$" out &&
	! grep broken out &&
	for t in issue-12 build; do
		git rev-parse orchestrate/p/$t >expect &&
		git --git-dir=../hub.git rev-parse refs/heads/orchestrate/p/$t >actual &&
		test_cmp expect actual || return 1
	done &&
	test_must_fail git --git-dir=../hub.git rev-parse -q --verify refs/heads/orchestrate/p/covered &&
	test_path_is_missing pwned
'

# gh_call PATTERN: the argv file of the gh call whose lines match PATTERN
gh_call () {
	grep -l -x -e "$1" "$TRASH_DIRECTORY"/gh.args.* | head -n 1
}

test_expect_success 'gh is asked for an open pull request of the branch, then to create one' '
	printf "%s\n" pr list --head orchestrate/p/covered --json number >expect &&
	test_cmp expect "$(gh_call orchestrate/p/covered)" &&
	printf "%s\n" pr create --head orchestrate/p/issue-12 --base main \
		--title "Crash on empty \"input\" \$(touch pwned)" --body-file - >expect &&
	grep -l -x create "$TRASH_DIRECTORY"/gh.args.* >creates &&
	test $(wc -l <creates) = 2 &&
	test_cmp expect "$(grep -l -x orchestrate/p/issue-12 $(cat creates))" &&
	printf "%s\n" pr create --head orchestrate/p/build --base main \
		--title "echo built >build.txt" --body-file - >expect &&
	test_cmp expect "$(grep -l -x orchestrate/p/build $(cat creates))"
'

test_expect_success 'the body has the prompt and the result of the task' '
	body="$TRASH_DIRECTORY/body.orchestrate_p_issue-12" &&
	test_grep -F "Crash on empty \"input\" \$(touch pwned)" "$body" &&
	test_grep -F "Running \`tool \"\"\` crashes; expected an error." "$body" &&
	test_grep "^- done on local in .* (attempt 1)$" "$body" &&
	test_grep "^- result commit: $(git rev-parse orchestrate/p/issue-12)$" "$body" &&
	test_grep "prompt.txt" "$body" &&
	test_grep "^- result commit: $(git rev-parse orchestrate/p/build)$" "$TRASH_DIRECTORY/body.orchestrate_p_build"
'

test_expect_success 'run again: every branch has its pull request, nothing is created' '
	"$TOOL" p >out 2>err &&
	test_grep "^issue-12: already has pull request #" out &&
	test_grep "^build: already has pull request #" out &&
	test_grep "^0 pull requests opened$" out &&
	grep -l -x create "$TRASH_DIRECTORY"/gh.args.* >creates &&
	test $(wc -l <creates) = 2
'

test_expect_success '--dry-run pushes nothing and creates nothing; a failing gh exits 1' '
	rm -f "$TRASH_DIRECTORY"/prs/orchestrate_p_build.json &&
	"$TOOL" p build --dry-run >out &&
	test_grep "^build: would push orchestrate/p/build to origin and open a pull request into main" out &&
	grep -l -x create "$TRASH_DIRECTORY"/gh.args.* >creates &&
	test $(wc -l <creates) = 2 &&
	{
		GH_FAIL=1 "$TOOL" p build >out 2>err
		echo $? >code
	} &&
	echo 1 >expect && test_cmp expect code &&
	test_grep "build: gh pr list failed" err &&
	test_grep "Bad credentials" err
'

test_expect_success 'an unknown task is bad usage' '
	{
		"$TOOL" p nosuch >out 2>err
		echo $? >code
	} &&
	echo 2 >expect && test_cmp expect code &&
	test_grep "plan .p. has no task .nosuch." err
'

test_done
