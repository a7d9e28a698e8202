# test-lib.sh: a small harness in the style of git's t/test-lib.sh.
# A test script sources it, calls test_expect_success 'title' 'commands'
# for each test and ends with test_done. Each script runs in a fresh trash
# directory with its own HOME; `git orchestrate` is the binary under test.

test_count=0
test_failures=0
TEST_DIRECTORY=$(cd "$(dirname "$0")" && pwd)
: "${ORCH_BUILD:=$TEST_DIRECTORY/../build}"
ORCH_BUILD=$(cd "$ORCH_BUILD" && pwd)
ORCH_BIN=$ORCH_BUILD/git-orchestrate
[ -x "$ORCH_BIN" ] || { echo "not ok - $0: no binary at $ORCH_BIN"; exit 1; }
this_test=$(basename "$0" .sh)
TRASH_DIRECTORY=$(mktemp -d "${TMPDIR:-/tmp}/orch-$this_test.XXXXXX")
export TRASH_DIRECTORY

# A clean, predictable git environment.
export HOME="$TRASH_DIRECTORY"
export GIT_CONFIG_NOSYSTEM=1
export GIT_AUTHOR_NAME='A U Thor' GIT_AUTHOR_EMAIL='author@example.com'
export GIT_COMMITTER_NAME='C O Mitter' GIT_COMMITTER_EMAIL='committer@example.com'
export GIT_PAGER=cat PAGER=cat
export LC_ALL=C
unset GIT_DIR GIT_WORK_TREE GIT_INDEX_FILE
export PATH="$TRASH_DIRECTORY/bin:$PATH"
{
	mkdir -p "$TRASH_DIRECTORY/bin" &&
	ln -s "$ORCH_BIN" "$TRASH_DIRECTORY/bin/git-orchestrate" &&
	git config --global init.defaultBranch main &&
	git config --global user.name 'A U Thor' &&
	git config --global user.email 'author@example.com' &&
	cd "$TRASH_DIRECTORY"
} || { echo "not ok - $this_test: cannot set up $TRASH_DIRECTORY"; exit 1; }

# Sanitizer runs: leaks and UB make the process fail.
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:exitcode=99"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"

test_cleanup_cmds=
# Register a command run when the script ends (e.g. stopping a daemon by pid).
test_when_finished () {
	test_cleanup_cmds="$1; $test_cleanup_cmds"
}

test_expect_success () {
	test_count=$((test_count + 1))
	title=$1
	body=$2
	out="$TRASH_DIRECTORY/.test-$test_count.out"
	( eval "$body" ) >"$out" 2>&1 </dev/null
	status=$?
	if [ $status -eq 0 ]; then
		echo "ok $test_count - $this_test: $title"
	else
		test_failures=$((test_failures + 1))
		echo "not ok $test_count - $this_test: $title"
		sed -e 's/^/#   /' "$out" | tail -n 40
	fi
}

# test_must_fail CMD...: CMD, which must be git or git-orchestrate (possibly
# after "env VAR=value..."), must exit non-zero without crashing (a signal,
# 127 "not found" or the sanitizers' 99 count as a crash). Any other command
# is refused: write "! CMD" (or "test_grep ! ...") for those.
test_must_fail () {
	test_must_fail__tool "$@" || return 1
	"$@"
	status=$?
	if [ $status -eq 0 ]; then
		echo "test_must_fail: command succeeded: $*" >&2
		return 1
	elif [ $status -gt 128 ] || [ $status -eq 99 ] || [ $status -eq 127 ]; then
		echo "test_must_fail: command died with $status: $*" >&2
		return 1
	fi
	return 0
}

# test_might_fail CMD...: CMD (git or git-orchestrate, as for
# test_must_fail) may exit with any status, but must not crash.
test_might_fail () {
	test_must_fail__tool "$@" || return 1
	"$@"
	status=$?
	if [ $status -gt 128 ] || [ $status -eq 99 ] || [ $status -eq 127 ]; then
		echo "test_might_fail: command died with $status: $*" >&2
		return 1
	fi
	return 0
}

test_must_fail__tool () {
	for word in "$@"; do
		case "$word" in
		env) ;;
		[A-Za-z_]*=*) ;;
		git | git-orchestrate) return 0 ;;
		*) break ;;
		esac
	done
	echo "test_must_fail: only for git and git-orchestrate; use \"! $*\" instead" >&2
	return 1
}

# test_wait_for CONDITION [SECONDS]: evaluate the shell CONDITION every
# 0.1 s until it holds; fail, naming it, after SECONDS (default 60). The
# bound is only a safety net: tests wait for an event (a file, a ref, a
# line of output, a process gone), never for a fixed time.
test_wait_for () {
	test_wait_for__ticks=$(( ${2:-60} * 10 ))
	while ! eval "$1"; do
		if [ "$test_wait_for__ticks" -le 0 ]; then
			echo "test_wait_for: still false after ${2:-60}s: $1" >&2
			return 1
		fi
		test_wait_for__ticks=$((test_wait_for__ticks - 1))
		sleep 0.1
	done
}

# test_expect_code N CMD...: CMD must exit with status N.
test_expect_code () {
	want=$1
	shift
	"$@"
	status=$?
	if [ $status -ne "$want" ]; then
		echo "test_expect_code: expected $want, got $status: $*" >&2
		return 1
	fi
	return 0
}

test_cmp () {
	diff -u "$1" "$2"
}

# test_grep PATTERN FILE: like grep, but shows the file when it fails.
# test_grep ! PATTERN FILE: PATTERN must not match; shows the matches if it
# does.
test_grep () {
	eval "last=\${$#}"
	if [ "$1" = "!" ]; then
		shift
		if grep "$@" >&2; then
			echo "test_grep: unexpected match for '$1' in $last (above)" >&2
			return 1
		fi
		[ -r "$last" ] || { echo "test_grep: cannot read $last" >&2; return 1; }
		return 0
	fi
	if ! grep "$@"; then
		echo "test_grep: no match for '$1' in $last:" >&2
		cat "$last" >&2
		return 1
	fi
}

# test_bail_out MESSAGE: the script cannot go on (e.g. setup left no
# repository to work in): report it as a failure and stop.
test_bail_out () {
	echo "not ok - $this_test: bail out: $*"
	eval "$test_cleanup_cmds" >/dev/null 2>&1
	cd / && rm -rf "$TRASH_DIRECTORY"
	exit 1
}

# A repository with one commit on main, in directory $1.
test_create_repo () {
	git init -q "$1" &&
	(cd "$1" && echo seed >README && git add README &&
	 git commit -q -m initial)
}

# Print the refs under refs/orchestrate (for "nothing changed" checks).
orch_refs () {
	git for-each-ref --format='%(refname) %(objectname)' refs/orchestrate refs/notes/orchestrate 2>/dev/null
}

test_done () {
	eval "$test_cleanup_cmds" >/dev/null 2>&1
	cd / && rm -rf "$TRASH_DIRECTORY"
	echo "# $this_test: $test_count tests, $test_failures failed"
	[ $test_failures -eq 0 ]
}

test_path_is_missing () {
	if [ -e "$1" ]; then
		echo "test_path_is_missing: $1 exists" >&2
		return 1
	fi
}

test_path_is_file () {
	if [ ! -f "$1" ]; then
		echo "test_path_is_file: $1 is not a file" >&2
		return 1
	fi
}
