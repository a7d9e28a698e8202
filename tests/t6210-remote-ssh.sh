#!/bin/sh
# run --remote through an ssh:// hub: two clones run one plan stored on a
# bare repository reached over SSH (a real sshd on 127.0.0.1), coordinating
# by compare-and-swap pushes alone. Every task's command runs exactly once
# (counted in a flock-guarded log outside the repositories).
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib-sshd.sh"

HUB=$TRASH_DIRECTORY/hub.git
LOG=$TRASH_DIRECTORY/runs.log
KNOWN=$TRASH_DIRECTORY/known_hosts
export LOG
# Every git transport of this script (clone, push, and the fetches and
# pushes git-orchestrate runs) goes through this ssh, with the generated
# key and the hub's host key only.
GIT_SSH_COMMAND="ssh -i $SSHD_ROOT/user_key -o UserKnownHostsFile=$KNOWN -o StrictHostKeyChecking=yes -o BatchMode=yes -o IdentitiesOnly=yes"
export GIT_SSH_COMMAND

# hub_state PLAN TASK: the task's state on the hub
hub_state () {
	git --git-dir="$HUB" show "refs/orchestrate/plans/$1:tasks/$2.json" |
	sed -n 's/.*"state": *"\([a-z]*\)".*/\1/p'
}

test_expect_success 'setup: an sshd serving the hub' '
	sshd_start hub &&
	sshd_known_hosts "$KNOWN" hub &&
	git init -q --bare hub.git &&
	echo "ssh://$SSHD_USER@127.0.0.1:$(sshd_port hub)$HUB" >url &&
	git ls-remote "$(cat url)" >ls.out &&
	test_grep "Accepted publickey" "$SSHD_ROOT/hub/sshd.log"
'
URL=$(cat "$TRASH_DIRECTORY/url" 2>/dev/null) || test_bail_out "no sshd for the hub"

test_expect_success 'setup: a 10-task plan pushed to the hub over SSH, two clones' '
	test_create_repo seed &&
	(
		cd seed &&
		{
			printf "[plan]\nname = p\nretries = 0\n"
			i=1
			while [ $i -le 10 ]; do
				printf "[task \"t%d\"]\n" $i
				printf "run = flock \"\$LOG.lock\" -c \"echo \$ORCHESTRATE_TASK >>\$LOG\" && echo %d >f%d.txt\n" $i $i
				if [ $i -gt 6 ]; then
					printf "depends = t%d\n" $((i - 6))
				fi
				i=$((i + 1))
			done
		} >p.ini &&
		git orchestrate plan p.ini >/dev/null &&
		git push -q "$URL" main "refs/orchestrate/*:refs/orchestrate/*"
	) &&
	git --git-dir="$HUB" rev-parse -q --verify refs/orchestrate/plans/p &&
	for c in c1 c2; do
		git clone -q "$URL" $c || return 1
	done &&
	test_path_is_missing c1/.git/refs/orchestrate/plans/p &&
	test_path_is_missing c2/.git/refs/orchestrate/plans/p
'

test_expect_success 'two clones run the plan through ssh://: each command once, all done on the hub' '
	(cd c1 && git-orchestrate run p --remote "$URL" -j 2 >../c1.out 2>&1; echo $? >../c1.status) &
	p1=$!
	(cd c2 && git-orchestrate run p --remote "$URL" -j 2 >../c2.out 2>&1; echo $? >../c2.status) &
	p2=$!
	wait $p1 $p2
	cat c1.out c2.out &&
	test "$(cat c1.status c2.status)" = "$(printf "0\n0")" &&
	i=1 && : >want &&
	while [ $i -le 10 ]; do echo t$i >>want; i=$((i + 1)); done &&
	sort want >want.sorted &&
	sort "$LOG" >got &&
	test_cmp want.sorted got &&
	for i in $(seq 1 10); do
		test "$(hub_state p t$i)" = done &&
		git --git-dir="$HUB" rev-parse -q --verify refs/heads/orchestrate/p/t$i >/dev/null ||
		return 1
	done &&
	test -z "$(git --git-dir="$HUB" for-each-ref refs/orchestrate/locks)"
'

test_expect_success 'the hub log shows each task started and done once' '
	git --git-dir="$HUB" log --format=%B refs/orchestrate/plans/p >hublog &&
	test $(grep -c ": done on " hublog) = 10 &&
	test $(grep -c ": started on " hublog) = 10
'

test_expect_success 'a dependent task starts from its dependency result' '
	git --git-dir="$HUB" show refs/heads/orchestrate/p/t7:f1.txt >dep &&
	echo 1 >expect &&
	test_cmp expect dep
'

test_done
