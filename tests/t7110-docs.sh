#!/bin/sh
# The man page and the bash completion cover every command and option.
. "$(dirname "$0")/test-lib.sh"

MAN_PAGE="$TEST_DIRECTORY/../share/git-orchestrate.1"
COMPLETION="$TEST_DIRECTORY/../share/git-orchestrate.bash"

# The subcommands, from the command table `git orchestrate -h` prints.
commands () {
	git orchestrate -h | sed -n "s/^   \([a-z][a-z-]*\) .*/\1/p"
}

test_expect_success 'setup' '
	test_create_repo repo &&
	commands >commands &&
	test $(wc -l <commands) -ge 16 &&
	test_grep "^forget$" commands
'
cd repo || test_bail_out "setup left no repository"

test_expect_success 'the man page has the sections of a git manual page' '
	for section in NAME SYNOPSIS DESCRIPTION COMMANDS "PLAN FILE" \
		"WORKER CONFIGURATION" REFS HOOKS ENVIRONMENT "EXIT STATUS" \
		EXAMPLES
	do
		test_grep "^\.SH $section$" "$MAN_PAGE" || return 1
	done
'

test_expect_success 'the man page shows every command and every option of its -h' '
	sed -e "s/\\\\f[BIR]//g" -e "s/\\\\-/-/g" "$MAN_PAGE" >man.txt &&
	while read cmd
	do
		test_grep "^git orchestrate $cmd\\b" man.txt >/dev/null || return 1
		git orchestrate $cmd -h >usage 2>&1
		for opt in $(grep -o -- "--[a-z][a-z-]*" usage | sort -u)
		do
			test_grep -- "^git orchestrate $cmd\\b.*$opt\\b" man.txt >/dev/null ||
			{ echo "man page lacks $cmd $opt"; return 1; }
		done
	done <"$TRASH_DIRECTORY/commands"
'

test_expect_success 'man --warnings finds nothing to warn about' '
	man --warnings -l "$MAN_PAGE" >/dev/null 2>warnings &&
	! test -s warnings
'

complete_words () {
	bash -c '. /usr/share/bash-completion/completions/git &&
		. "$1" && shift &&
		COMP_WORDS=("$@") && COMP_CWORD=$(($# - 1)) &&
		COMP_LINE="$*" && COMP_POINT=${#COMP_LINE} &&
		__git_wrap__git_main &&
		printf "%s\n" "${COMPREPLY[@]}"' sh "$COMPLETION" "$@" |
	sed "s/ *$//"
}

test_expect_success 'bash completion offers every command' '
	complete_words git orchestrate "" >offered &&
	while read cmd
	do
		test_grep "^$cmd$" offered >/dev/null || { echo "not offered: $cmd"; return 1; }
	done <"$TRASH_DIRECTORY/commands"
'

test_expect_success 'bash completion offers plans, their tasks and options' '
	cat >p.ini <<-PLAN &&
	[task "first"]
	run = true
	[task "second"]
	run = true
	PLAN
	git orchestrate plan p.ini >/dev/null &&
	complete_words git orchestrate forget "" >offered &&
	test_grep "^p$" offered &&
	complete_words git orchestrate log p "" >offered &&
	test_grep "^first$" offered &&
	test_grep "^second$" offered &&
	complete_words git orchestrate plans -- >offered &&
	test_grep "^--json$" offered &&
	complete_words git orchestrate merge --sq >offered &&
	test_grep "^--squash$" offered &&
	complete_words git orchestrate log p --sh >offered &&
	test_grep "^--shared$" offered
'

test_expect_success 'bash completion offers the formats of status --format=' '
	complete_words git orchestrate status --for >offered &&
	test_grep "^--format=$" offered &&
	complete_words git orchestrate status --format=pr >offered &&
	test_grep "^prometheus$" offered
'

# One source: `CMD -h` prints exactly the man page's synopsis lines of CMD
# (the binary's synopses are generated from the page at build time).
test_expect_success 'CMD -h prints the synopsis the man page shows' '
	sed -n "/^\.SH SYNOPSIS/,/^\.fi/p" "$MAN_PAGE" |
	sed -e "/^\./d" -e "s/\\\\f[BIRP]//g" -e "s/\\\\-/-/g" >synopsis &&
	while read cmd
	do
		grep "^git orchestrate $cmd\( \|$\)" synopsis >expect &&
		test -s expect &&
		git orchestrate $cmd -h >out &&
		sed -e "s/^usage: //" -e "s/^   or: //" out >actual &&
		test_cmp expect actual || { echo "synopsis of $cmd differs"; return 1; }
	done <"$TRASH_DIRECTORY/commands"
'

test_expect_success 'bash completion offers the keys of set and the priorities' '
	complete_words git orchestrate set p "" >offered &&
	test_grep "^first$" offered &&
	complete_words git orchestrate set p first "" >offered &&
	test_grep "^priority=$" offered &&
	test_grep "^needs=$" offered &&
	complete_words git orchestrate set p first priority=h >offered &&
	test_grep "^high$" offered
'

test_done
