#!/bin/sh
# Commands and prompts are kept verbatim: a ';' or '#' in them is part of the
# value, never an inline comment. Names, numbers, durations and lists may
# still be followed by one.
. "$(dirname "$0")/test-lib.sh"

test_expect_success 'setup' '
	test_create_repo repo &&
	cd repo &&
	cat >verbatim.ini <<-\PLAN
	; a comment line
	[plan]
	agent = cp "$ORCHESTRATE_PROMPT_FILE" prompt.txt ; echo agent >agent.txt
	verify = test -f out.txt ; test -f list.txt

	[task "quoted"]
	run = echo "one ; two" > out.txt

	[task "sequence"]
	run = echo first >list.txt ; echo second >>list.txt
	depends = quoted

	[task "hashes"]
	run = echo "issue #42 ; see # below" >hash.txt
	  echo "more ; here" >>hash.txt # still the command

	[task "prompted"]
	prompt = Fix the bug ; then add tests
	  and close #12 ; thanks
	PLAN
	cat >stripped.ini <<-\PLAN
	[plan]
	name = stripped        ; a name, then a comment
	retries = 1 ; comment
	timeout = 2m # comment

	[task "a"]
	run = true
	priority = high        # a name, then a comment
	duration = 5s ; comment

	[task "b"]
	run = true
	depends = a ; comment
	files = b.txt, c.txt # comment
	PLAN
'
cd repo || test_bail_out "setup left no repository"

test_expect_success 'commands and prompts are stored with their ; and #' '
	git orchestrate plan verbatim.ini >/dev/null &&
	git show refs/orchestrate/plans/verbatim:plan.json >plan.json &&
	test_grep -F "\"echo \\\"one ; two\\\" > out.txt\"" plan.json &&
	test_grep -F "\"echo first >list.txt ; echo second >>list.txt\"" plan.json &&
	test_grep -F "\"echo \\\"issue #42 ; see # below\\\" >hash.txt\\necho \\\"more ; here\\\" >>hash.txt # still the command\"" plan.json &&
	test_grep -F "\"Fix the bug ; then add tests\\nand close #12 ; thanks\"" plan.json &&
	test_grep -F "prompt.txt ; echo agent >agent.txt\"" plan.json &&
	test_grep -F "\"test -f out.txt ; test -f list.txt\"" plan.json
'

test_expect_success 'the commands run whole' '
	git orchestrate run verbatim >out &&
	git show orchestrate/verbatim/quoted:out.txt >actual &&
	echo "one ; two" >expect &&
	test_cmp expect actual &&
	git show orchestrate/verbatim/sequence:list.txt >actual &&
	printf "first\nsecond\n" >expect &&
	test_cmp expect actual &&
	git show orchestrate/verbatim/hashes:hash.txt >actual &&
	printf "issue #42 ; see # below\nmore ; here\n" >expect &&
	test_cmp expect actual
'

test_expect_success 'the agent gets the whole prompt and runs whole' '
	git show orchestrate/verbatim/prompted:prompt.txt >actual &&
	printf "Fix the bug ; then add tests\nand close #12 ; thanks" >expect &&
	test_cmp expect actual &&
	git show orchestrate/verbatim/prompted:agent.txt >actual &&
	echo agent >expect &&
	test_cmp expect actual
'

test_expect_success 'an inline comment after a name, number, duration or list is stripped' '
	git orchestrate plan stripped.ini >/dev/null &&
	git show refs/orchestrate/plans/stripped:plan.json >plan.json &&
	test_grep "\"retries\": *1," plan.json &&
	test_grep "\"timeout_ms\": *120000" plan.json &&
	test_grep "\"priority\": *\"high\"" plan.json &&
	test_grep "\"duration_ms\": *5000" plan.json &&
	test_grep "\"c.txt\"\]" plan.json &&
	test_grep ! "comment" plan.json &&
	git orchestrate status --json stripped >status.json &&
	test_grep "\"plan\":[[:space:]]*\"stripped\"" status.json
'

test_expect_success 'a comment still cannot follow a key that takes no comment' '
	printf "[task \"a\"]\nrun = true\nretries = ; not a number\n" >bad.ini &&
	test_expect_code 2 git orchestrate plan bad.ini 2>err &&
	test_grep "bad.ini:3: bad retries" err
'

test_done
