#!/bin/sh
# Plans are stored as refs: report, dry run, replace, status, log, init.
. "$(dirname "$0")/test-lib.sh"

test_expect_success 'setup' '
	test_create_repo repo &&
	cd repo &&
	cat >feature.ini <<-\PLAN
	[plan]
	retries = 1

	[task "schema"]
	run = echo schema >schema.sql
	files = db/*
	duration = 10s

	[task "api"]
	run = echo api >api.c
	depends = schema
	files = api/*.c
	priority = high
	duration = 20s

	[task "ui"]
	run = echo ui >ui.js
	depends = schema
	files = api/client.c
	duration = 5s

	[task "docs"]
	prompt = Write the docs.
	  Mention the API.
	run = cat "$ORCHESTRATE_PROMPT_FILE" >docs.md
	duration = 5s
	PLAN
'
cd repo || test_bail_out "setup left no repository"

test_expect_success 'dry run reports and stores nothing' '
	git orchestrate plan --dry-run feature.ini >out &&
	test_grep "4 tasks" out &&
	test_grep "2 dependency levels" out &&
	test_grep "critical path (30.0s): schema -> api" out &&
	test_grep "api (api/\*.c) and ui (api/client.c)" out &&
	test_grep "one by one" out &&
	test -z "$(orch_refs)"
'

test_expect_success 'plan stores the plan as a ref with one commit' '
	git orchestrate plan feature.ini >out &&
	test_grep "refs/orchestrate/plans/feature" out &&
	git rev-parse --verify refs/orchestrate/plans/feature &&
	test "$(git rev-list --count refs/orchestrate/plans/feature)" = 1 &&
	git show refs/orchestrate/plans/feature:plan.json >plan.json &&
	test_grep "\"api\"" plan.json &&
	git show refs/orchestrate/plans/feature:tasks/api.json >api.json &&
	test_grep "pending" api.json &&
	git show refs/orchestrate/plans/feature:tasks/schema.json >schema.json &&
	test_grep "ready" schema.json
'

test_expect_success 'the base commit is recorded' '
	git orchestrate plan --json --dry-run feature.ini >out.json &&
	test_grep "\"base_commit\":.*$(git rev-parse main)" out.json &&
	test_grep "\"base\":.*\"main\"" out.json
'

test_expect_success 'the multi-line prompt is kept with its newline' '
	git show refs/orchestrate/plans/feature:plan.json >plan.json &&
	test_grep "Write the docs.\\\\nMention the API." plan.json
'

test_expect_success 'status shows every task' '
	git orchestrate status feature >out &&
	test_grep "^schema *ready" out &&
	test_grep "^api *pending" out &&
	test_grep "4 tasks" out
'

test_expect_success 'status without a plan name finds the only plan' '
	git orchestrate status >out &&
	test_grep "^plan feature" out
'

test_expect_success 'status --json has the documented fields' '
	git orchestrate status --json feature >out.json &&
	test_grep "\"plan\":.*\"feature\"" out.json &&
	test_grep "\"id\":.*\"schema\"" out.json &&
	test_grep "\"state\":.*\"ready\"" out.json &&
	test_grep "\"attempts\":.*0" out.json &&
	test_grep "\"worker\":.*null" out.json &&
	test_grep "\"commit\":.*null" out.json
'

test_expect_success 'status --json prints every field of a task as its JSON printer does' '
	cat >state.json <<-\EOF &&
	{"state":"conflict","attempts":1,"duration_ms":1234567890123456,"exit":0,"error":"both \"changed\"\n\u0001 \u00e9 \\","paths":["a b","c\"d"]}
	EOF
	blob=$(git hash-object -w state.json) &&
	head=$(git rev-parse refs/orchestrate/plans/feature) &&
	GIT_INDEX_FILE=$PWD/fmt.index git read-tree $head &&
	GIT_INDEX_FILE=$PWD/fmt.index git update-index \
		--cacheinfo 100644,$blob,tasks/api.json &&
	tree=$(GIT_INDEX_FILE=$PWD/fmt.index git write-tree) &&
	commit=$(git commit-tree -p $head -m "api: conflict" $tree) &&
	git update-ref refs/orchestrate/plans/feature $commit $head &&
	git orchestrate status --json feature >out.json &&
	git update-ref refs/orchestrate/plans/feature $head $commit &&
	cat >check.py <<-\EOF &&
	import json, sys
	text = open("out.json", encoding="utf-8").read()
	api = [t for t in json.loads(text)["tasks"] if t["id"] == "api"][0]
	assert api["error"] == "both \"changed\"\n\u0001 \u00e9 \\", api
	assert api["paths"] == ["a b", "c\"d"], api
	for line in ["\t\t}, {\n\t\t\t\"id\":\t\"api\",\n",
	             "\t\t\t\"worker\":\tnull,\n",
	             "\t\t\t\"duration_ms\":\t1234567890123456,\n",
	             "\t\t\t\"error\":\t\"both \\\"changed\\\"\\n\\u0001 \u00e9 \\\\\",\n",
	             "\t\t\t\"paths\":\t[\"a b\", \"c\\\"d\"]\n\t\t}, {"]:
	    assert line in text, (line, text)
	EOF
	python3 check.py
'

test_expect_success 'storing again replaces a plan that has not started' '
	git orchestrate plan feature.ini >out &&
	test "$(git rev-list --count refs/orchestrate/plans/feature)" = 2
'

test_expect_success 'log shows the state history' '
	git orchestrate log feature >out &&
	test_grep "plan stored" out &&
	test $(wc -l <out) = 2
'

test_expect_success '--name stores under another name' '
	git orchestrate plan --name other feature.ini >out &&
	git rev-parse --verify refs/orchestrate/plans/other
'

test_expect_success 'with two plans, status asks which' '
	test_expect_code 2 git orchestrate status 2>err &&
	test_grep "feature" err && test_grep "other" err
'

test_expect_success 'an unknown plan is an error naming it' '
	test_expect_code 2 git orchestrate status nosuch 2>err &&
	test_grep "nosuch" err
'

test_expect_success '--simulate prints the makespan on N slots and stores nothing' '
	before=$(git rev-parse refs/orchestrate/plans/feature) &&
	git orchestrate plan --simulate -j 1 feature.ini >out &&
	test_grep "simulated makespan on 1 slot: 40.0s" out &&
	git orchestrate plan --simulate -j 4 feature.ini >out &&
	test_grep "simulated makespan on 4 slots: 35.0s" out &&
	test "$(git rev-parse refs/orchestrate/plans/feature)" = "$before"
'

test_expect_success 'plan --prompts builds a plan from Markdown files' '
	mkdir prompts &&
	printf -- "---\npriority: high\nfiles: a.txt\n---\nDo a.\n" >prompts/task-a.md &&
	printf -- "---\ndepends: task-a\n---\nDo b, after a.\n" >prompts/task-b.md &&
	printf "Just c.\n" >prompts/task-c.md &&
	test_expect_code 2 git orchestrate plan --prompts prompts 2>err &&
	test_grep "agent\|nothing to run" err &&
	git config orchestrate.agent "cp \"\$ORCHESTRATE_PROMPT_FILE\" prompt.md" &&
	git orchestrate plan --prompts prompts >out &&
	test_grep "plan .prompts.: 3 tasks, 2 dependency levels" out &&
	git show refs/orchestrate/plans/prompts:plan.json >p.json &&
	test_grep "Do b, after a." p.json &&
	git orchestrate run prompts >out &&
	git show orchestrate/prompts/task-b:prompt.md >b.md &&
	test_grep "Do b, after a." b.md &&
	git config --unset orchestrate.agent
'

test_expect_success 'init writes starter files and never overwrites' '
	git orchestrate init >out &&
	test_path_is_file orchestrate.ini &&
	test_path_is_file example-plan.ini &&
	echo "; mine" >orchestrate.ini &&
	git orchestrate init >out &&
	test_grep "kept orchestrate.ini" out &&
	test "$(cat orchestrate.ini)" = "; mine" &&
	git orchestrate plan --dry-run example-plan.ini >out &&
	test_grep "3 tasks" out
'

test_expect_success 'a plan with a started task is not replaced' '
	cat >one.ini <<-PLAN &&
	[task "t"]
	run = true
	PLAN
	git orchestrate plan one.ini &&
	git orchestrate run one >out &&
	before=$(git rev-parse refs/orchestrate/plans/one) &&
	test_expect_code 2 git orchestrate plan one.ini 2>err &&
	test_grep "one" err && test_grep "hint:" err &&
	test "$(git rev-parse refs/orchestrate/plans/one)" = "$before"
'

test_expect_success 'status and --help exit 0 and print usage' '
	git orchestrate plan -h >out && test_grep "usage: git orchestrate plan" out &&
	git orchestrate status -h >out && test_grep "usage:" out
'

test_done
