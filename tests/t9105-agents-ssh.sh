#!/bin/sh
# contrib/agents on an SSH worker: the wrapper, committed in the repository
# as the README says, gives the agent the findings other tasks shared there
# and, on a re-run on conflict, the paths that conflicted. The agent CLI is
# a stand-in named by CLAUDE_BIN (the worker's PATH is its own).
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib-sshd.sh"

AGENTS=$(cd "$TEST_DIRECTORY/../contrib/agents" && pwd)

test_expect_success 'setup: a worker, a stand-in claude and a repository with the wrapper' '
	sshd_start w1 &&
	sshd_known_hosts "$SSHD_ROOT/known_hosts" w1 &&
	mkdir stand-ins &&
	cat >stand-ins/claude <<-EOF &&
	#!/bin/sh
	d=$TRASH_DIRECTORY/seen/\$ORCHESTRATE_TASK.\$ORCHESTRATE_ATTEMPT
	mkdir -p "\$d" && cat >"\$d/prompt" &&
	case \$ORCHESTRATE_TASK in
	one) "$ORCH_BUILD/git-orchestrate" share "found on \$ORCHESTRATE_WORKER" && echo one >f ;;
	two) echo two >f ;;
	esac
	EOF
	chmod +x stand-ins/claude &&
	test_create_repo repo &&
	(
		cd repo &&
		echo base >f &&
		mkdir -p tools/agents &&
		cp "$AGENTS/claude" tools/agents/ &&
		git add f tools/agents && git commit -q -m "base, and the agent wrapper" &&
		echo "*.ini" >.git/info/exclude &&
		sshd_worker_ini w1 slots=1 >.git/orchestrate.ini
	)
'
cd repo || test_bail_out "setup left no repository"

test_expect_success 'a finding shared on the worker is in the prompt of the task after' '
	cat >team.ini <<-EOF &&
	[plan]
	name = team
	agent = CLAUDE_BIN=$TRASH_DIRECTORY/stand-ins/claude tools/agents/claude
	retries = 0

	[task "one"]
	prompt = Write one to f
	priority = high

	[task "two"]
	prompt = Write two to f
	EOF
	git orchestrate plan team.ini >/dev/null &&
	git orchestrate run team >out 2>&1 &&
	test_grep "two: done on w1" out &&
	test_grep "^Other tasks of this plan shared these findings" ../seen/two.1/prompt &&
	test_grep "^## one, attempt 1 (on w1)\$" ../seen/two.1/prompt &&
	test_grep "^found on w1\$" ../seen/two.1/prompt &&
	tail -n 1 ../seen/two.1/prompt >last &&
	test_grep "git orchestrate share \"TEXT\"\$" last
'

test_expect_success 'merge --rerun runs the conflicting task again on the worker, told the paths' '
	git orchestrate merge team --rerun >out 2>&1 &&
	test_grep "re-run: two" out &&
	sed -n "/^Your earlier result for this task conflicted/,/^Do the task again/p" \
		../seen/two.2/prompt >got &&
	printf "%s\n\n%s\n\n%s\n" \
		"Your earlier result for this task conflicted with work merged since, on these paths:" \
		f "Do the task again on top of the current code." >expect &&
	test_cmp expect got &&
	echo two >expect &&
	git show main:f >got &&
	test_cmp expect got
'

test_done
