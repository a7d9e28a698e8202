#!/bin/sh
# What a run achieved (makespan, task time, speedup) in run, status and
# their --json; status --format=prometheus checked by promtool; the
# systemd unit and the CI example of contrib/.
. "$(dirname "$0")/test-lib.sh"

export ORCH_RETRY_BASE_MS=1
MARK="$TRASH_DIRECTORY/flaky-ran"
export MARK

# json_get FILE EXPR: print EXPR of the JSON document in FILE (d is it).
json_get () {
	python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}

test_expect_success 'setup' '
	test_create_repo repo &&
	cat >repo/par.ini <<-\PLAN
	[plan]
	retries = 1
	[task "a"]
	run = sleep 1
	[task "b"]
	run = sleep 1
	[task "flaky"]
	run = test -f "$MARK" || { touch "$MARK"; sleep 0.5; exit 1; }
	PLAN
'
cd repo || test_bail_out "setup left no repository"

test_expect_success 'run ends with the achieved makespan, task time and speedup' '
	git orchestrate plan par.ini >/dev/null &&
	git orchestrate run -j 3 par >out &&
	test_grep "^plan par: 3 done; makespan [0-9.]*m*s (estimated [0-9a-z.]* on [0-9]* slots*), task time [0-9.]*m*s, speedup [0-9]*\.[0-9]x$" out
'

test_expect_success 'the task time adds up every attempt, the makespan runs from the first start' '
	git orchestrate status --json par >status.json &&
	test $(json_get status.json "d[\"achieved\"][\"attempts\"]") = 4 &&
	task_ms=$(json_get status.json "d[\"achieved\"][\"task_ms\"]") &&
	test "$task_ms" -ge 2500 &&
	test $(json_get status.json "d[\"achieved\"][\"makespan_ms\"] == d[\"achieved\"][\"ended\"] - d[\"achieved\"][\"started\"]") = True &&
	test $(json_get status.json "abs(d[\"achieved\"][\"speedup\"] - d[\"achieved\"][\"task_ms\"] / d[\"achieved\"][\"makespan_ms\"]) < 1e-9") = True &&
	git show orchestrate/plans/par:tasks/flaky.json >flaky.json &&
	test $(json_get flaky.json "d[\"first_started\"] < d[\"started\"] and d[\"attempts_ms\"] >= 500") = True &&
	test $(json_get flaky.json "d[\"first_started\"]") -ge $(json_get status.json "d[\"achieved\"][\"started\"]")
'

test_expect_success 'status shows them under the table, run --json as status --json does' '
	git orchestrate status par >out &&
	test_grep "^3 tasks: 3 done; makespan [0-9.]*m*s (estimated [0-9a-z.]* on [0-9]* slots*), task time [0-9.]*m*s, speedup [0-9]*\.[0-9]x$" out &&
	git orchestrate plan --name par2 par.ini >/dev/null &&
	git orchestrate run --json -j 3 par2 >run.json 2>/dev/null &&
	test $(json_get run.json "d[\"achieved\"][\"task_ms\"] >= 2000 and d[\"achieved\"][\"makespan_ms\"] > 0") = True
'

test_expect_success 'a plan that has not run says so' '
	git orchestrate plan --name idle par.ini >/dev/null &&
	git orchestrate status idle >out &&
	test_grep "^3 tasks: .*; nothing ran yet (estimated [0-9a-z.]* on [0-9]* slots*)$" out &&
	git orchestrate status --json idle >idle.json &&
	test $(json_get idle.json "d[\"achieved\"][\"started\"] is None and d[\"achieved\"][\"makespan_ms\"] == 0") = True
'

test_expect_success 'the estimate plan printed is stored and shown beside what was achieved' '
	cat >est.ini <<-\PLAN &&
	[task "a"]
	run = true
	duration = 2m
	[task "b"]
	run = true
	duration = 1m
	[task "c"]
	run = true
	duration = 1m
	PLAN
	cat >two.ini <<-\CONFIG &&
	[worker "here"]
	host = local
	slots = 2
	CONFIG
	git orchestrate --config two.ini plan est.ini >plan.out &&
	test_grep "^estimated makespan: 2m00s on 2 slots, against 4m00s one by one" plan.out &&
	git show orchestrate/plans/est:plan.json >est.json &&
	test $(json_get est.json "d[\"estimate\"] == {\"makespan_ms\": 120000, \"slots\": 2, \"serial_ms\": 240000}") = True &&
	git orchestrate status est >out &&
	test_grep "^3 tasks: 3 ready; nothing ran yet (estimated 2m00s on 2 slots)$" out &&
	git orchestrate --config two.ini run est >out &&
	test_grep "^plan est: 3 done; makespan [0-9.]*m*s (estimated 2m00s on 2 slots), task time [0-9.]*m*s, speedup [0-9]*\.[0-9]x$" out &&
	git orchestrate status est >out &&
	test_grep "^3 tasks: 3 done; makespan [0-9.]*m*s (estimated 2m00s on 2 slots), task time" out &&
	git orchestrate status --json est >st.json &&
	test $(json_get st.json "d[\"estimate\"] == {\"makespan_ms\": 120000, \"slots\": 2, \"serial_ms\": 240000} and d[\"achieved\"][\"attempts\"] == 3") = True
'

test_expect_success 'set keeps the stored estimate' '
	git orchestrate --config two.ini plan --name est2 est.ini >/dev/null &&
	git orchestrate set est2 a priority=high &&
	git show orchestrate/plans/est2:plan.json >est2.json &&
	test $(json_get est2.json "d[\"estimate\"] == {\"makespan_ms\": 120000, \"slots\": 2, \"serial_ms\": 240000} and d[\"tasks\"][0][\"priority\"] == \"high\"") = True
'

test_expect_success 'a plan stored without an estimate still reads: status shows none' '
	ref=refs/orchestrate/plans/est &&
	python3 -c "import json, sys; d = json.load(open(sys.argv[1])); del d[\"estimate\"]; print(json.dumps(d))" est.json >old.json &&
	blob=$(git hash-object -w old.json) &&
	git ls-tree $ref | sed "s/^\(100644 blob \)[0-9a-f]*\(	plan.json\)$/\1$blob\2/" >tree.txt &&
	test_grep "$blob	plan.json" tree.txt &&
	tree=$(git mktree <tree.txt) &&
	commit=$(git commit-tree -p $ref -m "a plan of an older version" $tree) &&
	git update-ref $ref $commit &&
	git orchestrate status est >out &&
	test_grep "^3 tasks: 3 done; makespan [0-9.]*m*s, task time [0-9.]*m*s, speedup [0-9]*\.[0-9]x$" out &&
	git orchestrate status --json est >st.json &&
	test $(json_get st.json "d[\"estimate\"] is None and d[\"achieved\"][\"attempts\"] == 3") = True
'

test_expect_success 'status --format=prometheus: every plan, every state, checked by promtool' '
	git orchestrate status --format=prometheus >all.prom &&
	promtool check metrics <all.prom >lint 2>&1 &&
	! test -s lint &&
	for plan in par par2 idle
	do
		test $(grep -c "^orchestrate_tasks{plan=\"$plan\",state=\"[a-z]*\"} [0-9]*$" all.prom) = 11 ||
		{ echo "not 11 states for $plan"; return 1; }
	done &&
	test_grep "^orchestrate_tasks{plan=\"par\",state=\"done\"} 3$" all.prom &&
	test_grep "^orchestrate_tasks{plan=\"par\",state=\"failed\"} 0$" all.prom &&
	test_grep "^orchestrate_tasks{plan=\"idle\",state=\"ready\"} 3$" all.prom &&
	test_grep "^orchestrate_attempts_total{plan=\"par\"} 4$" all.prom &&
	test_grep "^orchestrate_attempts_total{plan=\"idle\"} 0$" all.prom &&
	test_grep "^orchestrate_task_duration_seconds_bucket{plan=\"par\",le=\"+Inf\"} 3$" all.prom &&
	test_grep "^orchestrate_task_duration_seconds_bucket{plan=\"par\",le=\"60\"} 3$" all.prom &&
	test_grep "^orchestrate_task_duration_seconds_count{plan=\"par\"} 3$" all.prom &&
	test_grep "^orchestrate_task_duration_seconds_count{plan=\"idle\"} 0$" all.prom &&
	test_grep "^orchestrate_worker_up{plan=\"par\",worker=\"local\"} 1$" all.prom &&
	test_grep "^orchestrate_makespan_seconds{plan=\"idle\"} 0.000$" all.prom &&
	makespan=$(json_get status.json "\"%.3f\" % (d[\"achieved\"][\"makespan_ms\"] / 1000)") &&
	test_grep "^orchestrate_makespan_seconds{plan=\"par\"} $makespan$" all.prom &&
	test_grep "^orchestrate_paused_until_seconds{plan=\"par\"} 0.000$" all.prom &&
	test $(grep -c "^# TYPE " all.prom) = 8
'

test_expect_success 'with PLAN, only that plan; with none stored, the families alone' '
	git orchestrate status par --format=prometheus >par.prom &&
	promtool check metrics <par.prom &&
	test_grep "plan=\"par\"" par.prom &&
	test_grep ! "plan=\"par2\"" par.prom &&
	test_create_repo ../empty &&
	(cd ../empty && git orchestrate status --format=prometheus) >empty.prom &&
	promtool check metrics <empty.prom &&
	test $(grep -c "^# TYPE " empty.prom) = 8 &&
	test_grep ! "^orchestrate" empty.prom
'

test_expect_success 'a worker the run found down is 0, the one that ran is 1' '
	cat >gone.ini <<-\CONFIG &&
	[worker "gone"]
	host = 127.0.0.1
	port = 1
	slots = 1
	[worker "here"]
	host = local
	slots = 2
	CONFIG
	printf "[task \"x\"]\nrun = true\n" >w.ini &&
	git orchestrate plan w.ini >/dev/null &&
	git orchestrate --config gone.ini run w >out 2>err &&
	git orchestrate status w --format=prometheus >w.prom &&
	promtool check metrics <w.prom &&
	test_grep "^orchestrate_worker_up{plan=\"w\",worker=\"gone\"} 0$" w.prom &&
	test_grep "^orchestrate_worker_up{plan=\"w\",worker=\"here\"} 1$" w.prom
'

test_expect_success 'an unknown format or one mixed with --json or --watch is bad usage' '
	before=$(orch_refs) &&
	test_expect_code 2 git orchestrate status par --format=xml 2>err &&
	test_grep "unknown format .xml." err &&
	test_expect_code 2 git orchestrate status par --format=prometheus --json 2>err &&
	test_grep "cannot be used with --json" err &&
	test_expect_code 2 git orchestrate status --format=prometheus --watch 2>err &&
	test_expect_code 2 git orchestrate status --format=prometheus "bad name" 2>err &&
	test_grep "invalid plan name" err &&
	test "$before" = "$(orch_refs)"
'

CONTRIB="$TEST_DIRECTORY/../contrib"
UNIT="$CONTRIB/systemd/git-orchestrate-runner@.service"

test_expect_success 'the CI example runs a plan and publishes its metrics, whatever the outcome' '
	printf "[plan]\nretries = 0\n[task \"ok\"]\nrun = true\n[task \"bad\"]\nrun = exit 4\n" >nightly.ini &&
	mkdir -p pub &&
	test_expect_code 1 sh "$CONTRIB/ci/run-plan.sh" nightly.ini pub/orchestrate.prom >ci.out 2>&1 &&
	test_grep "^plan nightly: 1 done, 1 failed; makespan" ci.out &&
	promtool check metrics <pub/orchestrate.prom &&
	test_grep "^orchestrate_tasks{plan=\"nightly\",state=\"done\"} 1$" pub/orchestrate.prom &&
	test_grep "^orchestrate_tasks{plan=\"nightly\",state=\"failed\"} 1$" pub/orchestrate.prom &&
	test_path_is_missing pub/orchestrate.prom.tmp &&
	printf "[task \"ok\"]\nrun = true\n" >good.ini &&
	ORCHESTRATE_PLAN=good ORCHESTRATE_METRICS=pub/good.prom \
		sh "$CONTRIB/ci/run-plan.sh" good.ini >ci.out 2>&1 &&
	test_grep "^orchestrate_tasks{plan=\"good\",state=\"done\"} 1$" pub/good.prom &&
	test_expect_code 2 sh "$CONTRIB/ci/run-plan.sh" 2>err &&
	test_grep "usage:" err
'

test_expect_success 'the systemd unit passes systemd-analyze verify' '
	mkdir -p units xdg &&
	chmod 700 xdg &&
	cp "$UNIT" units/git-orchestrate-runner@t7200.service &&
	XDG_RUNTIME_DIR="$PWD/xdg" systemd-analyze --user --man=no verify \
		units/git-orchestrate-runner@t7200.service >verify.out 2>&1 &&
	! test -s verify.out &&
	test_grep "^Restart=on-failure$" "$UNIT" &&
	test_grep "^WorkingDirectory=%h/orchestrate/%i$" "$UNIT" &&
	test_grep "^EnvironmentFile=-%h/.config/git-orchestrate/%i.env$" "$UNIT"
'

test_expect_success 'the unit runs its ExecStart as a pull worker of a plan on a hub' '
	hub="$TRASH_DIRECTORY/hub.git" &&
	git init -q --bare "$hub" &&
	printf "[task \"one\"]\nrun = echo 1 >one.txt\n[task \"two\"]\nrun = echo 2 >two.txt\n" >pulled.ini &&
	git orchestrate plan pulled.ini >/dev/null &&
	git push -q "$hub" main "refs/orchestrate/plans/pulled:refs/orchestrate/plans/pulled" &&
	git clone -q "$hub" "$TRASH_DIRECTORY/clone" &&
	exec_start=$(sed -n "s/^ExecStart=//p" "$UNIT" | sed -e "s/%i/pulled/g" -e "s|\${REMOTE}|$hub|g") &&
	set -- $exec_start &&
	test "$*" = "/usr/bin/git orchestrate run pulled --remote $hub" &&
	(cd "$TRASH_DIRECTORY/clone" && "$@") >pull.out 2>&1 &&
	git orchestrate status --remote "$hub" pulled >hub.out &&
	test_grep "^2 tasks: 2 done; makespan" hub.out
'

test_done
