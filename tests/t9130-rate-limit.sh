#!/bin/sh
# Rate limits pause the fleet: an attempt that exits 75 or prints what the
# plan's rate-limit pattern matches is run again without using a retry, and
# no runner of the plan starts anything until the pause (kept in the plan's
# state, growing up to rate-limit-wait) is over.
. "$(dirname "$0")/test-lib.sh"

OUT="$TRASH_DIRECTORY/out"
HUB="$TRASH_DIRECTORY/hub.git"
export OUT

# json_num FILE KEY: a whole number member of a one-line JSON object
json_num () {
	sed -n "s/.*\"$2\": *\([0-9]*\).*/\1/p" "$1"
}

# pause_at REV: pause.json of plan p at REV, into pause.json
pause_at () {
	git show "$1:pause.json" >pause.json
}

test_expect_success 'setup' '
	test_create_repo repo &&
	mkdir -p "$OUT"
'
cd repo || test_bail_out "setup left no repository"

test_expect_success 'a bad rate-limit pattern or wait is refused with its line' '
	printf "[plan]\nrate-limit = quota (exceeded\n[task \"a\"]\nrun = true\n" >bad.ini &&
	test_expect_code 2 git orchestrate plan bad.ini 2>err &&
	test_grep "bad.ini:2: bad rate-limit .quota (exceeded." err &&
	test_grep "hint: Unmatched (" err &&
	printf "[plan]\nrate-limit-wait = soon\n[task \"a\"]\nrun = true\n" >bad.ini &&
	test_expect_code 2 git orchestrate plan bad.ini 2>err &&
	test_grep "bad.ini:2: bad rate-limit-wait .soon." err &&
	printf "[plan]\nrate-limit = a\n  b\n[task \"a\"]\nrun = true\n" >bad.ini &&
	test_expect_code 2 git orchestrate plan bad.ini 2>err &&
	test_grep "bad.ini:3: .rate-limit. .*cannot continue" err &&
	test_must_fail git rev-parse -q --verify refs/orchestrate/plans/bad
'

test_expect_success 'the pattern is kept whole, ; and # included, in plan.json' '
	cat >keep.ini <<-\PLAN &&
	[plan]
	rate-limit = 429 ; retry-after|quota #1 exceeded
	rate-limit-wait = 2m
	[task "a"]
	run = true
	PLAN
	git orchestrate plan keep.ini >/dev/null &&
	git show refs/orchestrate/plans/keep:plan.json >plan.json &&
	test_grep "\"rate_limit\": *\"429 ; retry-after|quota #1 exceeded\"" plan.json &&
	test_grep "\"rate_limit_wait_ms\": *120000" plan.json
'

test_expect_success 'exit 75: run again without a retry, after the pause, nothing starts during it' '
	cat >p.ini <<-\PLAN &&
	[plan]
	retries = 0
	rate-limit-wait = 1s
	[task "a"]
	priority = high
	run = if ! test -f "$OUT/a-once"; then touch "$OUT/a-once"; exit 75; fi
	[task "b"]
	run = true
	PLAN
	git orchestrate plan p.ini >/dev/null &&
	git orchestrate run -j 1 p >run.out 2>run.err &&
	test_grep "a: attempt 1 on local failed: rate limit: exit 75; will retry" run.out &&
	test_grep "rate limit: a (attempt 1, exit 75): no task starts on any worker until" run.err &&
	git orchestrate status --json p >st.json &&
	tr -d " \t\n" <st.json >flat &&
	test_grep "\"id\":\"a\",\"state\":\"done\",\"attempts\":2" flat &&
	test_grep "\"id\":\"b\",\"state\":\"done\",\"attempts\":1" flat &&
	git log --format=%B refs/orchestrate/plans/p >log &&
	test_grep "a: attempt 1 on local hit the rate limit (exit 75); dispatch paused until" log &&
	pause_at refs/orchestrate/plans/p &&
	until=$(json_num pause.json until_ms) &&
	since=$(json_num pause.json since_ms) &&
	test $((until - since)) = 1000 &&
	git show refs/orchestrate/plans/p:tasks/b.json >b.json &&
	test "$(json_num b.json started)" -ge "$until" &&
	git show refs/orchestrate/plans/p:tasks/a.json >a.json &&
	test "$(json_num a.json started)" -ge "$until" &&
	test "$(json_num pause.json level)" = 0
'

test_expect_success 'each limit met after a pause doubles it, up to rate-limit-wait' '
	rm -f "$OUT/count" &&
	cat >grow.ini <<-\PLAN &&
	[plan]
	retries = 0
	rate-limit-wait = 1s
	[task "a"]
	run = echo x >>"$OUT/count"; test $(wc -l <"$OUT/count") -gt 3 || exit 75
	PLAN
	git orchestrate plan grow.ini >/dev/null &&
	ORCH_RATE_LIMIT_FIRST_MS=300 git orchestrate run grow >/dev/null 2>&1 &&
	test $(wc -l <"$OUT/count") = 4 &&
	git log --reverse --format=%H refs/orchestrate/plans/grow -- pause.json >revs &&
	test $(wc -l <revs) = 4 &&
	: >got &&
	for rev in $(cat revs); do
		pause_at $rev &&
		echo "$(json_num pause.json level) $(($(json_num pause.json until_ms) - $(json_num pause.json since_ms)))" >>got || return 1
	done &&
	printf "1 300\n2 600\n3 1000\n0 1000\n" >expect &&
	test_cmp expect got
'

test_expect_success 'output matching rate-limit pauses; status shows until when, a new runner waits too' '
	rm -f "$OUT/a-once" &&
	cat >out.ini <<-\PLAN &&
	[plan]
	retries = 0
	rate-limit = HTTP 429|quota exceeded
	[task "a"]
	priority = high
	run = echo "Error: HTTP 429 Too Many Requests"; exit 1
	[task "b"]
	run = touch "$OUT/b-ran"
	PLAN
	git orchestrate plan out.ini >/dev/null || exit 1
	git-orchestrate run -j 1 out >run.out 2>run.err &
	pid=$!
	test_wait_for "git log --format=%s refs/orchestrate/plans/out | grep \"hit the rate limit\"" &&
	git orchestrate status out >st &&
	test_grep "^paused until .* (rate limit: a attempt 1, output matches rate-limit: .HTTP 429.)" st &&
	git orchestrate status --json out >st.json &&
	tr -d "\t\n" <st.json >flat &&
	test_grep "\"reason\":\"output matches rate-limit: .HTTP 429.\"" flat &&
	git orchestrate status --format=prometheus out >p.prom &&
	promtool check metrics <p.prom &&
	test_grep "^orchestrate_paused_until_seconds{plan=\"out\"} [1-9][0-9]*\.[0-9]*$" p.prom &&
	git orchestrate status --format=prometheus p >p.prom &&
	test_grep "^orchestrate_paused_until_seconds{plan=\"p\"} 0.000$" p.prom &&
	kill -INT $pid &&
	{ wait $pid; test $? = 130; } &&
	test_path_is_missing "$OUT/b-ran" || exit 1
	git-orchestrate run -j 1 out >run2.out 2>run2.err &
	pid=$!
	test_wait_for "grep \"no task starts on any worker until\" run2.err" &&
	kill -INT $pid &&
	{ wait $pid; test $? = 130; } &&
	test_path_is_missing "$OUT/b-ran" &&
	git orchestrate status --json out >st.json &&
	tr -d " \t\n" <st.json >flat &&
	test_grep "\"id\":\"a\",\"state\":\"ready\",\"attempts\":1" flat &&
	test_grep "\"id\":\"b\",\"state\":\"ready\",\"attempts\":0" flat
'

test_expect_success 'a runner on another clone sees the pause through the hub' '
	git init -q --bare "$HUB" &&
	cat >hub.ini <<-\PLAN &&
	[plan]
	retries = 0
	[task "a"]
	priority = high
	run = exit 75
	[task "b"]
	run = touch "$OUT/hub-b-ran"
	PLAN
	git orchestrate plan hub.ini >/dev/null &&
	git push -q "$HUB" main "refs/orchestrate/plans/hub:refs/orchestrate/plans/hub" &&
	git clone -q "$HUB" ../other || exit 1
	git-orchestrate run -j 1 hub --remote "$HUB" >hub1.out 2>hub1.err &
	pid=$!
	test_wait_for "git --git-dir=\"$HUB\" log --format=%s refs/orchestrate/plans/hub | grep \"hit the rate limit\"" &&
	(cd ../other && exec git-orchestrate run -j 1 hub --remote "$HUB" >../hub2.out 2>../hub2.err) &
	pid2=$!
	test_wait_for "grep \"rate limit: a (attempt 1, exit 75): no task starts\" ../hub2.err" &&
	kill -INT $pid &&
	{ wait $pid; test $? = 130; } &&
	kill -INT $pid2 &&
	{ wait $pid2; test $? = 130; } &&
	test_path_is_missing "$OUT/hub-b-ran"
'

test_done
