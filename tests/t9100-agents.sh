#!/bin/sh
# contrib/agents/{claude,codex,aider}: the prompt reaches the CLI verbatim,
# followed by what git-orchestrate gives the task (shared findings, the paths
# of a re-run on conflict, how to share), output and exit status go through,
# a rate limit exits 75. The CLIs are stand-ins of the same names, first on
# PATH, that answer the way the real ones do.
. "$(dirname "$0")/test-lib.sh"

# What git-orchestrate gives a task comes from each test, not from whatever
# ran this script.
unset ORCHESTRATE_CONTEXT_FILE ORCHESTRATE_CONFLICT_FILES \
	ORCHESTRATE_SHARE_FILE ORCHESTRATE_AGENT_PLAIN ORCHESTRATE_AGENT_WRAPPERS

AGENTS=$(cd "$TEST_DIRECTORY/../contrib/agents" && pwd)
STANDIN_DIR=$TRASH_DIRECTORY/stand-ins
export PATH="$STANDIN_DIR:$PATH"

# write_stand_in NAME HOW-IT-READS-THE-PROMPT: a stand-in CLI that keeps its
# arguments and the prompt it got in $STANDIN_LOG (default: the current
# directory) and acts as $STANDIN_MODE says: ok, fail (exit 3) or limit (the
# CLI's own rate-limit report).
write_stand_in () {
	{
		echo "#!/bin/sh" &&
		echo "log=\${STANDIN_LOG:-.}" &&
		echo "printf '%s\\n' \"\$@\" >\"\$log/$1.args\"" &&
		echo "$2" &&
		echo "echo \"$1 did the work\"" &&
		echo "echo \"$1 progress on stderr\" >&2" &&
		echo "case \"\${STANDIN_MODE:-ok}\" in" &&
		echo "ok) exit 0 ;;" &&
		echo "fail) echo \"$1: something broke\" >&2; exit 3 ;;" &&
		echo "limit) limit_report ;;" &&
		echo "esac"
	} >"$STANDIN_DIR/$1" &&
	chmod +x "$STANDIN_DIR/$1"
}

test_expect_success 'setup: stand-in claude, codex and aider' '
	mkdir -p "$STANDIN_DIR" &&
	write_stand_in claude "cat >\"\$log/claude.prompt\"
limit_report () {
	echo \"Claude AI usage limit reached|1767225600\"
	exit 1
}" &&
	write_stand_in codex "cat >\"\$log/codex.prompt\"
limit_report () {
	echo \"ERROR: exceeded retry limit, last status: 429 Too Many Requests\" >&2
	exit 1
}" &&
	write_stand_in aider "cat \"\$2\" >\"\$log/aider.prompt\"
limit_report () {
	echo \"litellm.RateLimitError: AnthropicException - {\\\"type\\\":\\\"error\\\",\\\"error\\\":{\\\"type\\\":\\\"rate_limit_error\\\"}}\"
	echo \"The API provider has rate limited you. Try again later or check your quotas.\"
	exit 0
}" &&
	printf "%s\n" "Fix \"the\" bug; echo pwned" "cost: \$HOME \$(rm -rf /) \`id\` '"'"'q'"'"' & | >x" "" "  last line  " >prompt.md &&
	mkdir log
'

for cli in claude codex aider; do
	test_expect_success "$cli: success passes output and exit 0 through, prompt verbatim" "
		ORCHESTRATE_PROMPT_FILE=\$PWD/prompt.md STANDIN_LOG=log \
			\"\$AGENTS/$cli\" --extra 'two words' >out 2>err &&
		test_cmp prompt.md log/$cli.prompt &&
		echo '$cli did the work' >expect &&
		test_cmp expect out &&
		echo '$cli progress on stderr' >expect &&
		test_cmp expect err &&
		test_grep '^two words\$' log/$cli.args &&
		test_path_is_missing x
	"

	test_expect_success "$cli: a failure keeps its exit status and output" "
		{
			ORCHESTRATE_PROMPT_FILE=\$PWD/prompt.md STANDIN_LOG=log STANDIN_MODE=fail \
				\"\$AGENTS/$cli\" >out 2>err
			echo \$? >code
		} &&
		echo 3 >expect && test_cmp expect code &&
		test_grep '^$cli: something broke\$' err &&
		test_grep '^$cli did the work\$' out
	"

	test_expect_success "$cli: a rate limit exits 75, output still passed through" "
		{
			ORCHESTRATE_PROMPT_FILE=\$PWD/prompt.md STANDIN_LOG=log STANDIN_MODE=limit \
				\"\$AGENTS/$cli\" >out 2>err
			echo \$? >code
		} &&
		echo 75 >expect && test_cmp expect code &&
		cat out err >both &&
		test_grep -i 'limit' both &&
		test_grep '^$cli: rate limited' err &&
		test_cmp prompt.md log/$cli.prompt
	"

	test_expect_success "$cli: no prompt file is an error naming it" "
		{
			env -u ORCHESTRATE_PROMPT_FILE \"\$AGENTS/$cli\" >out 2>err
			echo \$? >code
		} &&
		echo 2 >expect && test_cmp expect code &&
		test_grep ORCHESTRATE_PROMPT_FILE err
	"
done

# run_agent CLI: the wrapper of CLI with the prompt $PROMPT (default
# prompt.md), the stand-in keeping what it got in log/; then nothing the
# wrapper made is left in its temporary directory.
run_agent () {
	rm -rf tmp && mkdir tmp &&
	ORCHESTRATE_PROMPT_FILE=$PWD/${PROMPT:-prompt.md} STANDIN_LOG=log TMPDIR=$PWD/tmp &&
	export ORCHESTRATE_PROMPT_FILE STANDIN_LOG TMPDIR &&
	"$AGENTS/$1" >out 2>err &&
	rmdir tmp
}

test_expect_success 'setup: what git-orchestrate gives a task, and the texts that follow the prompt' '
	: >context.empty &&
	printf "%s\n" "# Findings shared by tasks of plan p so far" "" \
		"## one, attempt 1 (on local)" "" "tests need TZ=UTC" >context.md &&
	printf "## two, attempt 1 (on local)\n\nno newline at the end" >>context.md &&
	printf "%s\n" "api/auth.c" "src/with space.c" "\"odd\\nname\"" >conflicts.txt &&
	: >share.txt &&
	{
		printf "\n---\n\n%s\n\n" "Other tasks of this plan shared these findings; use what applies to your task:" &&
		cat context.md && echo
	} >after.context &&
	{
		printf "\n---\n\n%s\n\n" "Your earlier result for this task conflicted with work merged since, on these paths:" &&
		cat conflicts.txt &&
		printf "\n%s\n" "Do the task again on top of the current code."
	} >after.conflicts &&
	printf "\n---\n\n%s\n" "To leave a finding for the tasks of this plan that start later (something they should know, not a summary of your work), run: git orchestrate share \"TEXT\"" >after.share
'

for cli in claude codex aider; do
	# aider runs no shell command by itself: it is not told to share
	share=after.share
	[ $cli = aider ] && share=/dev/null

	test_expect_success "$cli: no findings, no conflicts, no share file: the prompt as it is" '
		ORCHESTRATE_CONTEXT_FILE=$PWD/context.empty &&
		export ORCHESTRATE_CONTEXT_FILE &&
		run_agent $cli &&
		test_cmp prompt.md log/$cli.prompt
	'

	test_expect_success "$cli: findings other tasks shared follow the prompt" '
		ORCHESTRATE_CONTEXT_FILE=$PWD/context.md &&
		export ORCHESTRATE_CONTEXT_FILE &&
		run_agent $cli &&
		cat prompt.md after.context >expect &&
		test_cmp expect log/$cli.prompt &&
		echo "$cli did the work" >expect &&
		test_cmp expect out
	'

	test_expect_success "$cli: a re-run on conflict is told the paths and to do the task again" '
		ORCHESTRATE_CONTEXT_FILE=$PWD/context.empty &&
		ORCHESTRATE_CONFLICT_FILES=$PWD/conflicts.txt &&
		export ORCHESTRATE_CONTEXT_FILE ORCHESTRATE_CONFLICT_FILES &&
		run_agent $cli &&
		cat prompt.md after.conflicts >expect &&
		test_cmp expect log/$cli.prompt
	'

	test_expect_success "$cli: findings, conflicts and how to share, in that order" '
		ORCHESTRATE_CONTEXT_FILE=$PWD/context.md &&
		ORCHESTRATE_CONFLICT_FILES=$PWD/conflicts.txt &&
		ORCHESTRATE_SHARE_FILE=$PWD/share.txt &&
		export ORCHESTRATE_CONTEXT_FILE ORCHESTRATE_CONFLICT_FILES ORCHESTRATE_SHARE_FILE &&
		run_agent $cli &&
		cat prompt.md after.context after.conflicts $share >expect &&
		test_cmp expect log/$cli.prompt
	'

	test_expect_success "$cli: a prompt without a newline at its end gets one before what follows" '
		printf "no newline" >nonl.md &&
		PROMPT=nonl.md &&
		ORCHESTRATE_SHARE_FILE=$PWD/share.txt &&
		ORCHESTRATE_CONFLICT_FILES=$PWD/conflicts.txt &&
		export PROMPT ORCHESTRATE_SHARE_FILE ORCHESTRATE_CONFLICT_FILES &&
		run_agent $cli &&
		{ echo "no newline" && cat after.conflicts $share; } >expect &&
		test_cmp expect log/$cli.prompt
	'

	test_expect_success "$cli: ORCHESTRATE_AGENT_PLAIN=1 gives the prompt only" '
		ORCHESTRATE_CONTEXT_FILE=$PWD/context.md &&
		ORCHESTRATE_CONFLICT_FILES=$PWD/conflicts.txt &&
		ORCHESTRATE_SHARE_FILE=$PWD/share.txt &&
		ORCHESTRATE_AGENT_PLAIN=1 &&
		export ORCHESTRATE_CONTEXT_FILE ORCHESTRATE_CONFLICT_FILES \
			ORCHESTRATE_SHARE_FILE ORCHESTRATE_AGENT_PLAIN &&
		run_agent $cli &&
		test_cmp prompt.md log/$cli.prompt
	'

	test_expect_success "$cli: the combined prompt is removed also after a rate limit" '
		ORCHESTRATE_CONTEXT_FILE=$PWD/context.md STANDIN_MODE=limit &&
		export ORCHESTRATE_CONTEXT_FILE STANDIN_MODE &&
		{
			run_agent $cli
			echo $? >code
		} &&
		echo 75 >expect && test_cmp expect code &&
		rmdir tmp
	'
done

test_expect_success 'claude: "rate limit" in the output of a run that succeeded is not a rate limit' '
	cat >"$STANDIN_DIR/claude" <<-\EOF &&
	#!/bin/sh
	cat >/dev/null
	echo "Added a rate limit (429) to the API"
	EOF
	ORCHESTRATE_PROMPT_FILE=$PWD/prompt.md "$AGENTS/claude" >out &&
	test_grep "Added a rate limit" out
'

test_expect_success 'aider: a rate limit that a retry got past is not a rate limit' '
	cat >"$STANDIN_DIR/aider" <<-\EOF &&
	#!/bin/sh
	echo "litellm.RateLimitError: AnthropicException - rate_limit_error"
	echo "The API provider has rate limited you. Try again later or check your quotas."
	echo "Retrying in 0.2 seconds..."
	echo "Applied edit to main.c"
	EOF
	ORCHESTRATE_PROMPT_FILE=$PWD/prompt.md "$AGENTS/aider" >out &&
	test_grep "Applied edit" out
'

test_expect_success 'a wrapper that finds itself on PATH stops instead of looping' '
	mkdir loop &&
	cp "$AGENTS/codex" loop/codex &&
	{
		PATH="$PWD/loop:$PATH" ORCHESTRATE_PROMPT_FILE=$PWD/prompt.md loop/codex >out 2>err
		echo $? >code
	} &&
	echo 2 >expect && test_cmp expect code &&
	test_grep "found itself on PATH" err
'

test_expect_success 'a plan whose agent is the claude wrapper runs the stand-in with the prompt and how to share' '
	write_stand_in claude "cat >\"\$log/claude.prompt\"
cp \"\$ORCHESTRATE_PROMPT_FILE\" expected.prompt" &&
	test_create_repo repo &&
	(
		cd repo &&
		cat >p.ini <<-EOF &&
		[plan]
		name = p
		agent = "$AGENTS/claude" --permission-mode acceptEdits

		[task "fix"]
		prompt = Fix "the" bug; then \$(echo no) & say 100%
		  second line with \`ticks\`
		EOF
		git orchestrate plan p.ini >/dev/null &&
		git orchestrate run p >out &&
		test_grep "fix: done" out &&
		git show orchestrate/p/fix:claude.prompt >got &&
		git show orchestrate/p/fix:expected.prompt >want &&
		{ cat want && echo && cat ../after.share; } >expect &&
		test_cmp expect got &&
		test_grep -F "Fix \"the\" bug; then \$(echo no) & say 100%" got &&
		test_grep -F "second line with \`ticks\`" got &&
		git show orchestrate/p/fix:claude.args >args &&
		printf "%s\n" -p --permission-mode acceptEdits >expect &&
		test_cmp expect args &&
		git orchestrate log p fix >log &&
		test_grep "claude did the work" log
	)
'

test_expect_success 'through a plan: a finding reaches the task after, a re-run gets its conflicting paths' '
	cat >"$STANDIN_DIR/claude" <<-\EOF &&
	#!/bin/sh
	d=$TRASH_DIRECTORY/seen/$ORCHESTRATE_TASK.$ORCHESTRATE_ATTEMPT
	mkdir -p "$d" && cat >"$d/prompt" &&
	case $ORCHESTRATE_TASK in
	one) git orchestrate share "tests need TZ=UTC" && echo one >f ;;
	two) echo two >f ;;
	esac
	EOF
	test_create_repo team &&
	(
		cd team &&
		echo base >f && git add f && git commit -q -m base &&
		echo "*.ini" >.git/info/exclude &&
		cat >team.ini <<-EOF &&
		[plan]
		name = team
		agent = "$AGENTS/claude"
		retries = 0

		[task "one"]
		prompt = Write one to f
		priority = high

		[task "two"]
		prompt = Write two to f
		EOF
		git orchestrate plan team.ini >/dev/null &&
		git orchestrate run team -j 1 >out &&
		test_grep "two: done" out &&
		{ echo "Write one to f" && cat ../after.share; } >expect &&
		test_cmp expect ../seen/one.1/prompt &&
		test_grep "^Other tasks of this plan shared these findings" ../seen/two.1/prompt &&
		test_grep "^tests need TZ=UTC\$" ../seen/two.1/prompt &&
		! grep conflicted ../seen/two.1/prompt &&
		git orchestrate merge team --rerun >out &&
		test_grep "re-run: two" out &&
		sed -n "/^Your earlier result for this task conflicted/,\$p" ../seen/two.2/prompt >got &&
		{
			printf "%s\n\n%s\n\n%s\n" \
				"Your earlier result for this task conflicted with work merged since, on these paths:" \
				f "Do the task again on top of the current code." &&
			cat ../after.share
		} >expect &&
		test_cmp expect got &&
		test_grep "^tests need TZ=UTC\$" ../seen/two.2/prompt &&
		echo two >expect &&
		git show main:f >got &&
		test_cmp expect got
	)
'

test_expect_success 'ORCHESTRATE_AGENT_PLAIN=1 in the plan'"'"'s agent command gives the prompt only' '
	(
		cd team &&
		cat >plain.ini <<-EOF &&
		[plan]
		name = plain
		agent = ORCHESTRATE_AGENT_PLAIN=1 "$AGENTS/claude"

		[task "three"]
		prompt = Write three to f
		EOF
		git orchestrate plan plain.ini >/dev/null &&
		git orchestrate run plain >out &&
		test_grep "three: done" out &&
		printf "Write three to f" >expect &&
		test_cmp expect ../seen/three.1/prompt
	)
'

test_done
