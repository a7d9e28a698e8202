#!/bin/sh
# run --remote: several runners, in clones of their own, run one plan stored
# on a hub, coordinating by compare-and-swap pushes alone (no hooks). Every
# task's command runs exactly once (counted in a flock-guarded log outside
# the repositories).
. "$(dirname "$0")/test-lib.sh"

HUB=$TRASH_DIRECTORY/hub.git
LOG=$TRASH_DIRECTORY/runs.log
export LOG

# hub_state PLAN TASK: the task's state on the hub
hub_state () {
	git --git-dir="$HUB" show "refs/orchestrate/plans/$1:tasks/$2.json" |
	sed -n 's/.*"state": *"\([a-z]*\)".*/\1/p'
}

test_expect_success 'setup: a 30-task plan stored on a bare hub' '
	git init -q --bare hub.git &&
	test_create_repo seed &&
	(
		cd seed &&
		{
			printf "[plan]\nname = p\nretries = 0\n"
			i=1
			while [ $i -le 30 ]; do
				printf "[task \"t%d\"]\n" $i
				printf "run = flock \"\$LOG.lock\" -c \"echo \$ORCHESTRATE_TASK >>\$LOG\" && echo %d >f%d.txt\n" $i $i
				if [ $i -gt 20 ]; then
					printf "depends = t%d\n" $((i - 20))
				fi
				i=$((i + 1))
			done
		} >p.ini &&
		git orchestrate plan p.ini >/dev/null &&
		git push -q "$HUB" main "refs/orchestrate/*:refs/orchestrate/*"
	) &&
	for c in c1 c2 c3; do
		git clone -q "$HUB" $c || return 1
	done &&
	test_path_is_missing c1/.git/refs/orchestrate/plans/p
'

test_expect_success 'three clones run the plan together: each command once, all done on the hub' '
	(cd c1 && git-orchestrate run p --remote "$HUB" -j 2 >../c1.out 2>&1; echo $? >../c1.status) &
	p1=$!
	(cd c2 && git-orchestrate run p --remote "file://$HUB" -j 2 >../c2.out 2>&1; echo $? >../c2.status) &
	p2=$!
	(cd c3 && git-orchestrate run p --remote "$HUB" -j 1 >../c3.out 2>&1; echo $? >../c3.status) &
	p3=$!
	wait $p1 $p2 $p3 &&
	cat c1.out c2.out c3.out &&
	test "$(cat c1.status c2.status c3.status)" = "$(printf "0\n0\n0")" &&
	i=1 && : >want &&
	while [ $i -le 30 ]; do echo t$i >>want; i=$((i + 1)); done &&
	sort want >want.sorted &&
	sort "$LOG" >got &&
	test_cmp want.sorted got &&
	for i in $(seq 1 30); do
		test "$(hub_state p t$i)" = done &&
		git --git-dir="$HUB" rev-parse -q --verify refs/heads/orchestrate/p/t$i >/dev/null ||
		return 1
	done &&
	test -z "$(git --git-dir="$HUB" for-each-ref refs/orchestrate/locks)"
'

test_expect_success 'the hub log reads as the progress of the whole fleet' '
	git --git-dir="$HUB" log --format=%B refs/orchestrate/plans/p >hublog &&
	test $(grep -c ": done on " hublog) = 30 &&
	test $(grep -c ": started on " hublog) = 30
'

test_expect_success 'a dependent task starts from its dependency result made elsewhere' '
	git --git-dir="$HUB" show refs/heads/orchestrate/p/t21:f1.txt >dep &&
	echo 1 >expect &&
	test_cmp expect dep
'

test_expect_success 'a plan the hub lacks is refused, naming the hub' '
	(cd c1 && test_expect_code 2 git orchestrate run nosuch --remote "$HUB" 2>../err) &&
	test_grep "has no plan .nosuch." err
'

test_expect_success 'an unreachable hub is an error that names it' '
	(cd c1 && test_expect_code 1 git orchestrate run p --remote "$TRASH_DIRECTORY/nowhere.git" 2>../err) &&
	test_grep "nowhere.git" err
'

test_expect_success 'setup: a long task on the hub' '
	(
		cd seed &&
		cat >k.ini <<-\PLAN &&
		[plan]
		name = k
		retries = 0
		[task "long"]
		run = echo $$ >"$LOG.pid.$ORCHESTRATE_ATTEMPT" && echo "$ORCHESTRATE_ATTEMPT" >>"$LOG.started" && while ! test -f "$LOG.go"; do sleep 0.1; done && flock "$LOG.lock" -c "echo long >>$LOG.k"
		PLAN
		git orchestrate plan k.ini >/dev/null &&
		git push -q "$HUB" refs/orchestrate/plans/k
	)
'

test_expect_success 'kill -9 of the runner holding a task: another finishes it after the lease expires, once' '
	(cd c1 && exec env ORCH_TEST_LEASE_TTL_MS=3000 git-orchestrate run k --remote "$HUB" >../k1.out 2>&1) &
	pa=$!
	test_wait_for "test -s \"$LOG.started\"" &&
	kill -9 $pa &&
	! wait $pa &&
	test "$(hub_state k long)" = running || return 1
	(cd c2 && ORCH_TEST_LEASE_TTL_MS=3000 git-orchestrate run k --remote "$HUB" >../k2.out 2>&1; echo $? >../k2.status) &
	pb=$!
	test_wait_for "test \$(wc -l <\"$LOG.started\") -ge 2" &&
	! kill -0 $(cat "$LOG.pid.1") 2>/dev/null &&
	touch "$LOG.go" &&
	wait $pb &&
	cat k2.out &&
	test "$(cat k2.status)" = 0 &&
	test "$(cat "$LOG.k")" = long &&
	test "$(hub_state k long)" = done &&
	test $(wc -l <"$LOG.started") = 2 &&
	git --git-dir="$HUB" show refs/orchestrate/plans/k:tasks/long.json >long.json &&
	test_grep "\"interrupted\": *1" long.json
'

test_done
