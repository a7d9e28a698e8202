#!/bin/sh
# The repository of an SSH worker stays maintained: the task script commits
# without git's automatic maintenance and asks `git gc --auto` itself when
# the counts it checks are past git's defaults. A real sshd on 127.0.0.1.
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib-sshd.sh"

test_expect_success 'setup: a worker and a repository' '
	sshd_start w1 &&
	sshd_known_hosts "$SSHD_ROOT/known_hosts" w1 &&
	test_create_repo repo &&
	cd repo &&
	echo base >base.txt && git add base.txt && git commit -q -m base &&
	sshd_worker_ini w1 slots=1 >.git/orchestrate.ini
'
cd repo || test_bail_out "setup left no repository"

# packs: how many packs the repository of this project on w1 holds
packs () {
	ls "$SSHD_ROOT"/w1/work/repo-*/repo.git/objects/pack/ | grep -c "\.pack$"
}

test_expect_success 'too many packs on a worker: the next attempt starts git gc --auto' '
	printf "[plan]\nname = one\n[task \"a\"]\nrun = echo a >a.txt\n" >one.ini &&
	git orchestrate plan one.ini >/dev/null &&
	git orchestrate run one >out 2>&1 &&
	wrepo=$(echo "$SSHD_ROOT"/w1/work/repo-*/repo.git) &&
	test -d "$wrepo" &&
	for i in $(seq 55)
	do
		oid=$(echo "object $i" | git -C "$wrepo" hash-object -w --stdin) &&
		echo "$oid" | git -C "$wrepo" pack-objects -q "$wrepo/objects/pack/pack" >/dev/null ||
		return 1
	done &&
	test "$(packs)" -gt 50 &&
	printf "[plan]\nname = two\n[task \"b\"]\nrun = echo b >b.txt\n" >two.ini &&
	git orchestrate plan two.ini >/dev/null &&
	git orchestrate run two >out 2>&1 &&
	test_wait_for "test \$(packs) -lt 10" 60
'

test_done
