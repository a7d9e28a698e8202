#!/bin/sh
# Resource use per attempt (local worker): CPU time and peak RSS of the
# task's command, in tasks/<id>.json, status and status --json.
. "$(dirname "$0")/test-lib.sh"

test_expect_success 'setup' '
	test_create_repo repo
'
cd repo || test_bail_out "setup left no repository"

# json_number FILE KEY: the first number of "KEY": in FILE
json_number () {
	tr -d " \t\n" <"$1" | sed -n "s/.*\"$2\":\([0-9][0-9]*\).*/\1/p"
}

test_expect_success 'a task that computes and one that holds memory' '
	cat >u.ini <<-\PLAN &&
	[task "busy"]
	run = i=0; while [ $i -lt 300000 ]; do i=$((i + 1)); done
	[task "big"]
	run = x=$(head -c 30000000 /dev/zero | tr "\0" a); echo ${#x} >size
	[task "idle"]
	run = sleep 1
	PLAN
	git orchestrate plan u.ini >/dev/null &&
	git orchestrate status u >st &&
	test_grep "^busy *ready .* - *-$" st &&
	git orchestrate run u >/dev/null
'

test_expect_success 'tasks/<id>.json has the CPU time and peak RSS of the command' '
	git show refs/orchestrate/plans/u:tasks/busy.json >busy.json &&
	cpu=$(json_number busy.json cpu_ms) &&
	test "$cpu" -ge 100 &&
	git show refs/orchestrate/plans/u:tasks/big.json >big.json &&
	rss=$(json_number big.json max_rss_kb) &&
	test "$rss" -ge 29000 &&
	git show refs/orchestrate/plans/u:tasks/idle.json >idle.json &&
	cpu=$(json_number idle.json cpu_ms) &&
	dur=$(json_number idle.json duration_ms) &&
	test "$dur" -ge 1000 &&
	test "$cpu" -lt 500
'

test_expect_success 'status shows them, and --json too' '
	git orchestrate status u >st &&
	test_grep "DURATION *CPU *MAX RSS$" st &&
	test_grep "^big  *done .*M$" st &&
	git orchestrate status --json u >st.json &&
	tr -d " \t\n" <st.json >flat &&
	test_grep "\"id\":\"busy\",[^}]*\"cpu_ms\":[0-9]" flat &&
	test_grep "\"id\":\"big\",[^}]*\"max_rss_kb\":[0-9]" flat
'

test_expect_success 'a record written before they were kept still reads' '
	cat >old.ini <<-\PLAN &&
	[task "o"]
	run = true
	PLAN
	git orchestrate plan old.ini >/dev/null &&
	ref=refs/orchestrate/plans/old &&
	plan=$(git rev-parse $ref:plan.json) &&
	state=$(printf "%s\n" "{\"state\":\"done\",\"attempts\":1,\"worker\":\"local\",\"started\":1,\"ended\":6,\"duration_ms\":5,\"exit\":0}" |
		git hash-object -w --stdin) &&
	tasks=$(printf "100644 blob %s\to.json\n" $state | git mktree) &&
	tree=$(printf "100644 blob %s\tplan.json\n040000 tree %s\ttasks\n" $plan $tasks | git mktree) &&
	commit=$(git commit-tree -p $ref -m "o: done (an older version)" $tree) &&
	git update-ref $ref $commit &&
	git orchestrate status old >st &&
	test_grep "^o  *done .* - *-$" st &&
	git orchestrate status --json old >st.json &&
	test_grep "\"done\"" st.json &&
	test_grep ! cpu_ms st.json
'

test_done
