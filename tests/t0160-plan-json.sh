#!/bin/sh
# plan --from-json FILE|-: a plan given as JSON, with the INI plan's keys,
# checked as an INI plan is; errors name the JSON path and store nothing.
. "$(dirname "$0")/test-lib.sh"

test_expect_success 'setup' '
	test_create_repo repo &&
	cd repo &&
	printf "[task \"a\"]\nrun = true\n" >good.ini &&
	git orchestrate plan good.ini >/dev/null &&
	mkdir prompts &&
	printf "Write the docs.\n" >prompts/docs.md &&
	printf "[worker \"here\"]\nhost = local\nslots = 2\ncapabilities = backend\n" >.git/orchestrate.ini
'
cd repo || test_bail_out "setup left no repository"

test_expect_success 'a JSON plan is stored as the same INI plan is' '
	cat >same.ini <<-\EOF &&
	[plan]
	name = same
	agent = cat "$ORCHESTRATE_PROMPT_FILE" >got.txt; echo "$HOME" # kept
	retries = 1
	timeout = 30m
	merge = auto
	env = TOKEN

	[task "schema"]
	run = echo "a;b" >schema.txt
	priority = high
	duration = 90s
	files = db/*.sql

	[task "api"]
	prompt = Fix "the" bug; $(not run)
	  second line
	depends = schema
	files = api/a.c, api/*.h
	needs = backend
	retries = 0
	timeout = 5m
	env = API_KEY, OTHER

	[task "docs"]
	prompt-file = prompts/docs.md
	depends = schema, api
	EOF
	cat >same.json <<-\EOF &&
	{
	  "name": "same",
	  "agent": "cat \"$ORCHESTRATE_PROMPT_FILE\" >got.txt; echo \"$HOME\" # kept",
	  "retries": 1, "timeout": "30m", "merge": "auto", "env": ["TOKEN"],
	  "tasks": [
	    {"id": "schema", "run": "echo \"a;b\" >schema.txt", "priority": "high",
	     "duration": "90s", "files": ["db/*.sql"]},
	    {"id": "api", "prompt": "Fix \"the\" bug; $(not run)\nsecond line",
	     "depends": ["schema"], "files": "api/a.c, api/*.h", "needs": ["backend"],
	     "retries": 0, "timeout": "5m", "env": "API_KEY, OTHER"},
	    {"id": "docs", "prompt-file": "prompts/docs.md", "depends": "schema, api"}
	  ]
	}
	EOF
	git orchestrate plan same.ini >/dev/null &&
	git show refs/orchestrate/plans/same:plan.json >from-ini &&
	git orchestrate forget same >/dev/null &&
	git orchestrate plan --from-json same.json >out &&
	test_grep "stored as refs/orchestrate/plans/same" out &&
	git show refs/orchestrate/plans/same:plan.json >from-json &&
	# the same but for the line numbers an INI file has
	sed -e "s/\"line\":[0-9]*/\"line\":0/g" from-ini >expect &&
	cp from-json actual &&
	test_cmp expect actual
'

test_expect_success 'from stdin, with the name from the JSON or from --name' '
	echo "{\"name\": \"piped\", \"tasks\": [{\"id\": \"t\", \"run\": \"true\"}]}" |
		git orchestrate plan --from-json - >out &&
	git rev-parse --verify refs/orchestrate/plans/piped &&
	echo "{\"tasks\": [{\"id\": \"t\", \"run\": \"true\"}]}" |
		git orchestrate plan --from-json - --name named >out &&
	git rev-parse --verify refs/orchestrate/plans/named
'

test_expect_success 'numbers are accepted for retries, timeout and duration' '
	echo "{\"name\": \"nums\", \"retries\": 3, \"tasks\": [{\"id\": \"t\", \"run\": \"true\", \"duration\": 90, \"timeout\": 0}]}" >nums.json &&
	git orchestrate plan --from-json nums.json --json >out &&
	git show refs/orchestrate/plans/nums:plan.json >plan &&
	test_grep "\"retries\":.*3" plan
'

# expect_invalid PATTERN [plan args...] <JSON: exit 2, message, refs unchanged
expect_invalid () {
	pattern=$1
	shift
	orch_refs >refs.before &&
	test_expect_code 2 git orchestrate plan --from-json - "$@" 2>err &&
	test_grep -e "$pattern" err &&
	orch_refs >refs.after &&
	test_cmp refs.before refs.after
}

test_expect_success 'an unknown dependency names tasks[N].depends' '
	echo "{\"name\": \"bad\", \"tasks\": [{\"id\": \"a\", \"run\": \"x\"}, {\"id\": \"b\", \"run\": \"y\", \"depends\": [\"a\", \"zz\"]}]}" |
		expect_invalid "^error: <stdin>: tasks\[1\]\.depends: task .b. depends on unknown task .zz."
'

test_expect_success 'a file names itself in the message' '
	echo "{\"tasks\": [{\"id\": \"a\", \"run\": \"x\"}, {\"id\": \"b\", \"run\": \"y\"}, {\"id\": \"c\", \"run\": \"y\"}, {\"id\": \"d\", \"run\": \"y\", \"depends\": \"c, nope\"}]}" >bad.json &&
	orch_refs >refs.before &&
	test_expect_code 2 git orchestrate plan --from-json bad.json 2>err &&
	test_grep "^error: bad.json: tasks\[3\]\.depends: .*unknown task .nope." err &&
	orch_refs >refs.after &&
	test_cmp refs.before refs.after
'

test_expect_success 'a cycle is refused' '
	echo "{\"name\": \"bad\", \"tasks\": [{\"id\": \"a\", \"run\": \"x\", \"depends\": \"b\"}, {\"id\": \"b\", \"run\": \"y\", \"depends\": [\"a\"]}]}" |
		expect_invalid "dependency cycle: a -> b -> a"
'

test_expect_success 'bad values are refused as in an INI plan' '
	echo "{\"name\": \"bad\", \"tasks\": [{\"id\": \"a\", \"run\": \"x\", \"needs\": [\"gpu\"]}]}" |
		expect_invalid "tasks\[0\]\.needs: task .a. needs capability .gpu." &&
	echo "{\"name\": \"bad\", \"tasks\": [{\"id\": \"a\", \"run\": \"x\", \"priority\": \"urgent\"}]}" |
		expect_invalid "tasks\[0\]\.priority: bad priority .urgent." &&
	echo "{\"name\": \"bad\", \"tasks\": [{\"id\": \"a\", \"run\": \"x\", \"duration\": \"soon\"}]}" |
		expect_invalid "tasks\[0\]\.duration: bad duration .soon." &&
	echo "{\"name\": \"bad\", \"retries\": -1, \"tasks\": [{\"id\": \"a\", \"run\": \"x\"}]}" |
		expect_invalid "<stdin>: retries: bad retries .-1." &&
	echo "{\"name\": \"bad\", \"merge\": \"sometimes\", \"tasks\": [{\"id\": \"a\", \"run\": \"x\"}]}" |
		expect_invalid "<stdin>: merge: bad merge" &&
	echo "{\"name\": \"bad\", \"tasks\": [{\"id\": \"a\", \"run\": \"x\", \"env\": [\"NOT-A-NAME\"]}]}" |
		expect_invalid "tasks\[0\]\.env\[0\]: bad env name" &&
	echo "{\"name\": \"bad..name\", \"tasks\": [{\"id\": \"a\", \"run\": \"x\"}]}" |
		expect_invalid "<stdin>: name: invalid plan name" &&
	echo "{\"name\": \"bad\", \"tasks\": [{\"id\": \"a\", \"prompt\": \"x\"}]}" |
		expect_invalid "tasks\[0\]: task .a. has nothing to run"
'

test_expect_success 'wrong shapes and keys are refused with their path' '
	echo "{\"name\": \"bad\", \"tasks\": [{\"id\": \"a\", \"run\": \"x\", \"colour\": \"red\"}]}" |
		expect_invalid "tasks\[0\]\.colour: unknown key .colour." &&
	echo "{\"name\": \"bad\", \"colour\": 1, \"tasks\": []}" |
		expect_invalid "<stdin>: colour: unknown key" &&
	echo "{\"name\": \"bad\", \"tasks\": [{\"id\": \"a\", \"run\": [\"x\"]}]}" |
		expect_invalid "tasks\[0\]\.run: expected a string" &&
	echo "{\"name\": \"bad\", \"tasks\": [{\"id\": \"a\", \"run\": \"x\", \"depends\": [1]}]}" |
		expect_invalid "tasks\[0\]\.depends\[0\]: expected a string" &&
	echo "{\"name\": \"bad\", \"tasks\": [{\"id\": \"a\", \"run\": \"x\"}, {\"id\": \"b\", \"run\": \"x\", \"depends\": [\"a,c\"]}]}" |
		expect_invalid "tasks\[1\]\.depends\[0\]: .a,c. is not one entry" &&
	echo "{\"name\": \"bad\", \"tasks\": [{\"run\": \"x\"}]}" |
		expect_invalid "tasks\[0\]\.id: missing task id" &&
	echo "{\"name\": \"bad\", \"tasks\": [{\"id\": \"../a\", \"run\": \"x\"}]}" |
		expect_invalid "tasks\[0\]\.id: invalid task id" &&
	echo "{\"name\": \"bad\", \"tasks\": [{\"id\": \"a\", \"run\": \"x\"}, {\"id\": \"a\", \"run\": \"y\"}]}" |
		expect_invalid "tasks\[1\]\.id: duplicate task .a." &&
	echo "{\"name\": \"bad\", \"tasks\": [{\"id\": \"a\", \"run\": \"x\", \"run\": \"y\"}]}" |
		expect_invalid "tasks\[0\]\.run: .run. given twice" &&
	echo "{\"name\": \"bad\", \"tasks\": [{\"id\": \"a\", \"prompt\": \"x\", \"prompt-file\": \"prompts/docs.md\"}]}" |
		expect_invalid "both prompt and prompt-file" &&
	echo "{\"name\": \"bad\", \"tasks\": {\"id\": \"a\"}}" |
		expect_invalid "<stdin>: tasks: expected a list" &&
	echo "[1, 2]" |
		expect_invalid "<stdin>: expected an object"
'

test_expect_success 'broken JSON names line and column; no name from stdin is an error' '
	printf "{\"name\": \"bad\",\n \"tasks\": [}\n" |
		expect_invalid "<stdin>:2:12: not valid JSON" &&
	echo "{\"tasks\": [{\"id\": \"a\", \"run\": \"x\"}]}" |
		expect_invalid "<stdin>: name: the plan has no name"
'

test_expect_success 'a NUL in a string is refused, not cut' '
	echo "{\"name\": \"bad\", \"tasks\": [{\"id\": \"a\", \"run\": \"true\\u0000rm -rf x\"}]}" |
		expect_invalid "NUL character" &&
	echo "{\"name\": \"fine\", \"tasks\": [{\"id\": \"a\", \"run\": \"printf %s \\\\\\\\u0000\"}]}" >fine.json &&
	git orchestrate plan --from-json fine.json --dry-run >out
'

test_expect_success 'FILE, --prompts and --from-json exclude each other; a missing file is named' '
	test_expect_code 2 git orchestrate plan good.ini --from-json same.json 2>err &&
	test_grep "give one of" err &&
	test_expect_code 2 git orchestrate plan --from-json nowhere.json 2>err &&
	test_grep "nowhere.json" err
'

test_expect_success 'the synopsis shows --from-json' '
	git orchestrate plan -h >out &&
	test_grep -e "--from-json FILE|-" out
'

test_done
