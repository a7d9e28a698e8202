#!/bin/sh
# contrib/agents/{claude,codex,aider}: the prompt reaches the CLI verbatim,
# output and exit status go through, a rate limit exits 75. The CLIs are
# stand-ins of the same names, first on PATH, that answer the way the real
# ones do.
. "$(dirname "$0")/test-lib.sh"

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

test_expect_success 'a plan whose agent is the claude wrapper runs the stand-in with the prompt' '
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
		test_cmp want got &&
		test_grep -F "Fix \"the\" bug; then \$(echo no) & say 100%" got &&
		test_grep -F "second line with \`ticks\`" got &&
		git show orchestrate/p/fix:claude.args >args &&
		printf "%s\n" -p --permission-mode acceptEdits >expect &&
		test_cmp expect args &&
		git orchestrate log p fix >log &&
		test_grep "claude did the work" log
	)
'

test_done
