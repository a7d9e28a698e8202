#!/bin/sh
# git orchestrate set: change priority, timeout, retries or needs of a task
# that has not started, in the stored plan and in a running scheduler.
. "$(dirname "$0")/test-lib.sh"

export ORCH_RETRY_BASE_MS=50
OUT="$TRASH_DIRECTORY/out"
export OUT

test_expect_success 'setup' '
	test_create_repo repo &&
	mkdir -p "$OUT"
'
cd repo || test_bail_out "setup left no repository"

test_expect_success 'set records the change as one commit of plan.json' '
	cat >p.ini <<-PLAN &&
	[task "a"]
	run = true
	[task "b"]
	run = true
	depends = a
	PLAN
	git orchestrate plan p.ini >/dev/null &&
	git orchestrate set p b priority=high timeout=90s retries=0 \
		"needs=gpu, linux" >out &&
	test_grep "^b: priority=high timeout=90s retries=0 needs=gpu, linux" out &&
	git log -1 --format=%s refs/orchestrate/plans/p >msg &&
	echo "set b priority=high timeout=90s retries=0 needs=gpu, linux" >expect &&
	test_cmp expect msg &&
	git diff --name-only refs/orchestrate/plans/p^ refs/orchestrate/plans/p >changed &&
	echo plan.json >expect &&
	test_cmp expect changed &&
	git show refs/orchestrate/plans/p:plan.json >plan.json &&
	tr -d " \n" <plan.json >flat &&
	test_grep "\"id\":\"b\"" flat &&
	test_grep "\"needs\":\\[\"gpu\",\"linux\"\\],\"priority\":\"high\"" flat &&
	test_grep "\"retries\":0,\"timeout_ms\":90000" flat
'

test_expect_success 'setting the values a task has changes nothing' '
	orch_refs >before &&
	git orchestrate set p b priority=high >out &&
	test_grep "unchanged" out &&
	orch_refs >after &&
	test_cmp before after
'

test_expect_success 'a bad key or value changes nothing and says what is accepted' '
	orch_refs >before &&
	test_expect_code 2 git orchestrate set p b color=red 2>err &&
	test_grep "cannot set .color." err &&
	test_grep "priority, timeout, retries and needs" err &&
	test_expect_code 2 git orchestrate set p b priority=urgent 2>err &&
	test_grep "bad priority .urgent." err &&
	test_grep "low, medium, high or critical" err &&
	test_expect_code 2 git orchestrate set p b timeout=soon 2>err &&
	test_grep "bad timeout .soon." err &&
	test_grep "hint: a duration is" err &&
	test_expect_code 2 git orchestrate set p b retries=-1 2>err &&
	test_grep "bad retries .-1." err &&
	test_grep "from 0 to 1000" err &&
	test_expect_code 2 git orchestrate set p b priority=low retries=x 2>err &&
	test_grep "bad retries" err &&
	test_expect_code 2 git orchestrate set p b priority 2>err &&
	test_grep "not KEY=VALUE" err &&
	test_expect_code 2 git orchestrate set p nosuch priority=low 2>err &&
	test_grep "no task .nosuch." err &&
	test_expect_code 2 git orchestrate set p b 2>err &&
	test_grep "usage: git orchestrate set PLAN TASK KEY=VALUE" err &&
	orch_refs >after &&
	test_cmp before after
'

test_expect_success 'a task that started cannot be set' '
	git orchestrate set p b needs= >/dev/null &&
	git orchestrate run p >/dev/null &&
	orch_refs >before &&
	test_expect_code 2 git orchestrate set p a priority=low 2>err &&
	test_grep "task .a. is done" err &&
	orch_refs >after &&
	test_cmp before after
'

test_expect_success 'a running scheduler takes a new priority' '
	cat >prio.ini <<-PLAN &&
	[task "gate"]
	run = touch "\$OUT/gate-started"; while ! test -f "\$OUT/go"; do sleep 0.05; done
	priority = critical
	[task "x"]
	run = echo x >>"\$OUT/order"
	[task "y"]
	run = echo y >>"\$OUT/order"
	PLAN
	git orchestrate plan prio.ini >/dev/null || exit 1
	(git orchestrate run -j 1 prio >run.out 2>&1; echo $? >run.status) &
	test_wait_for "test -f \"$OUT/gate-started\"" &&
	git orchestrate set prio y priority=critical &&
	test_wait_for "grep \"y: changed\" run.out" &&
	touch "$OUT/go" &&
	test_wait_for "test -s run.status" &&
	test "$(cat run.status)" = 0 &&
	printf "y\nx\n" >expect &&
	test_cmp expect "$OUT/order"
'

test_expect_success 'a running scheduler takes a new timeout and retries' '
	rm -f "$OUT/go" "$OUT/gate-started" run.status &&
	cat >slow.ini <<-PLAN &&
	[task "gate"]
	run = touch "\$OUT/gate-started"; while ! test -f "\$OUT/go"; do sleep 0.05; done
	[task "slow"]
	run = touch "\$OUT/slow-started"; sleep 30.$$
	depends = gate
	PLAN
	git orchestrate plan slow.ini >/dev/null || exit 1
	(git orchestrate run slow >run.out 2>&1; echo $? >run.status) &
	test_wait_for "test -f \"$OUT/gate-started\"" &&
	git orchestrate set slow slow timeout=1s retries=0 &&
	test_wait_for "grep \"slow: changed\" run.out" &&
	touch "$OUT/go" &&
	test_wait_for "test -s run.status" 20 &&
	test "$(cat run.status)" = 1 &&
	git orchestrate status slow >st &&
	test_grep "^slow *timeout *1 " st &&
	! pgrep -f "sleep 30\.$$"
'

test_done
