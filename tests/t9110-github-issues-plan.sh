#!/bin/sh
# contrib/github-issues-plan: `gh issue list --json ...` output becomes a
# JSON plan (one task per issue, prompt from title and body, priority from
# labels) that plan --from-json stores and run runs. gh is a stand-in on
# PATH that replays recorded output.
. "$(dirname "$0")/test-lib.sh"

TOOL=$(cd "$TEST_DIRECTORY/../contrib" && pwd)/github-issues-plan

test_expect_success 'setup: recorded gh output and a stand-in gh' '
	cat >issues.json <<-\EOF &&
	[{"body":"Running `tool \"\"` crashes:\r\n\r\n    $(rm -rf ~); echo pwned\r\n\r\nExpected: an error.","labels":[{"id":"LA_kwDOA1","name":"agent-ready","description":"","color":"0e8a16"},{"id":"LA_kwDOA2","name":"priority:high","description":"","color":"d93f0b"}],"number":12,"title":"Crash on empty \"input\""},{"body":"","labels":[{"id":"LA_kwDOA1","name":"agent-ready","description":"","color":"0e8a16"},{"id":"LA_kwDOA3","name":"P0","description":"","color":"b60205"},{"id":"LA_kwDOA4","name":"priority/low","description":"","color":"c2e0c6"}],"number":7,"title":"Typo in README"},{"body":null,"labels":[{"id":"LA_kwDOA1","name":"agent-ready","description":"","color":"0e8a16"}],"number":3,"title":"Add --verbose"}]
	EOF
	mkdir stand-ins &&
	cat >stand-ins/gh <<-EOF &&
	#!/bin/sh
	printf "%s\n" "\$@" >"$TRASH_DIRECTORY/gh.args"
	if [ -n "\${GH_FAIL:-}" ]; then
		echo "HTTP 401: Bad credentials (https://api.github.com/graphql)" >&2
		exit 1
	fi
	cat "$TRASH_DIRECTORY/\${GH_OUTPUT:-issues.json}"
	EOF
	chmod +x stand-ins/gh &&
	echo "[]" >none.json
'
PATH="$TRASH_DIRECTORY/stand-ins:$PATH"

test_expect_success 'gh is asked for open issues with the label, as JSON' '
	"$TOOL" --label agent-ready --repo octo/app >plan.json &&
	printf "%s\n" issue list --label agent-ready --state open --limit 100 \
		--json number,title,body,labels --repo octo/app >expect &&
	test_cmp expect gh.args
'

test_expect_success 'one task per issue, prompt from title and body, priority from labels' '
	python3 - plan.json <<-\EOF
	import json, sys
	plan = json.load(open(sys.argv[1]))
	assert plan["name"] == "issues-agent-ready", plan["name"]
	assert "agent" not in plan
	tasks = {t["id"]: t for t in plan["tasks"]}
	assert sorted(tasks) == ["issue-12", "issue-3", "issue-7"], sorted(tasks)
	t = tasks["issue-12"]
	assert t["prompt"] == "Crash on empty \"input\"\n\nRunning `tool \"\"` crashes:\r\n\r\n    $(rm -rf ~); echo pwned\r\n\r\nExpected: an error.\n\nGitHub issue #12\n", repr(t["prompt"])
	assert t["priority"] == "high"
	assert tasks["issue-7"]["priority"] == "critical"  # P0 beats priority/low
	assert tasks["issue-7"]["prompt"] == "Typo in README\n\nGitHub issue #7\n"
	assert "priority" not in tasks["issue-3"]
	EOF
'

test_expect_success 'the plan is stored by plan --from-json and its tasks run with the prompts' '
	test_create_repo repo &&
	(
		cd repo &&
		"$TOOL" --label agent-ready --name issues \
			--agent "cp \"\$ORCHESTRATE_PROMPT_FILE\" prompt.txt" |
			git orchestrate plan --from-json - >out &&
		test_grep "plan .issues.: 3 tasks" out &&
		git orchestrate run issues >out &&
		test_grep "issue-12: done" out &&
		git show orchestrate/issues/issue-12:prompt.txt >got &&
		test_grep -F "\$(rm -rf ~); echo pwned" got &&
		test_grep "^GitHub issue #12$" got &&
		test_path_is_missing "$HOME/pwned"
	)
'

test_expect_success 'recorded output can be given with --from' '
	"$TOOL" --label agent-ready --from issues.json >from-file.json &&
	test_cmp plan.json from-file.json &&
	"$TOOL" --label agent-ready --from - <issues.json >from-stdin.json &&
	test_cmp plan.json from-stdin.json
'

test_expect_success 'a failing gh or no issues exits 1 with a message' '
	{
		GH_FAIL=1 "$TOOL" --label agent-ready >out 2>err
		echo $? >code
	} &&
	echo 1 >expect && test_cmp expect code &&
	test_grep "gh issue list failed" err &&
	test_grep "Bad credentials" err &&
	{
		GH_OUTPUT=none.json "$TOOL" --label agent-ready >out 2>err
		echo $? >code
	} &&
	test_cmp expect code &&
	test_grep "no open issue has the label .agent-ready." err
'

test_done
