#!/bin/sh
# A worktree on a full file system: the slots directory on a 2 MB tmpfs
# (needs root to mount; skipped otherwise). The task that fills it fails
# naming the disk, a task done before is left as it is, and once `clean`
# frees the space the task is retried and done.
. "$(dirname "$0")/test-lib.sh"

SMALL="$TRASH_DIRECTORY/repo/.git/orchestrate/slots"
test_when_finished "umount '$SMALL'"

if ! { test_create_repo repo && mkdir -p "$SMALL" &&
	mount -t tmpfs -o size=2m tmpfs "$SMALL"; } 2>/dev/null; then
	echo "# skipped: cannot mount a tmpfs (needs root)"
	test_done
	exit 0
fi
cd repo || test_bail_out "setup left no repository"

test_expect_success 'the task that fills the disk fails naming it; the others are done' '
	printf 4M >"$TRASH_DIRECTORY/size" &&
	cat >disk.ini <<-PLAN &&
	[plan]
	retries = 0
	[task "s1"]
	run = echo s1 >s1.txt
	[task "big"]
	run = head -c "\$(cat "$TRASH_DIRECTORY/size")" /dev/zero >big.bin
	depends = s1
	PLAN
	git orchestrate plan disk.ini >/dev/null &&
	test_expect_code 1 git orchestrate run disk >out 2>&1 &&
	git orchestrate status disk >st &&
	test_grep "^s1 *done" st &&
	test_grep "^big *failed.*exit status 1; no space left on the file system of .$SMALL/[0-9]*. (0 KiB free)" st &&
	test "$(git show orchestrate/disk/s1:s1.txt)" = s1
'

test_expect_success 'once clean frees the space, the retried task is done' '
	git orchestrate clean disk >out &&
	test_grep "removed 1 worktree" out &&
	printf 10k >"$TRASH_DIRECTORY/size" &&
	git orchestrate retry disk big >/dev/null &&
	git orchestrate run disk >out 2>&1 &&
	test "$(git cat-file -s orchestrate/disk/big:big.bin)" = 10240 &&
	git fsck --no-progress
'

test_done
