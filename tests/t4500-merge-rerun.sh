#!/bin/sh
# Re-run on conflict: merge --rerun and merge = auto-rerun run a task that
# conflicts again from the base as it is now, with ORCHESTRATE_CONFLICT_FILES
# naming the paths, at most rerun-limit times, then merge it.
. "$(dirname "$0")/test-lib.sh"

# Two tasks that edit the first line of the same file (its name has a
# space). Run again with ORCHESTRATE_CONFLICT_FILES, "second" keeps what is
# on the base and adds its own, and saves what it was given.
write_plan () {
	printf "one\ntwo\nthree\n" >"shared file.txt" &&
	git add "shared file.txt" &&
	{ git diff --cached --quiet || git commit -q -m "the file afresh"; } &&
	cat >"$1.ini" <<-PLAN
	[plan]
	name = $1
	retries = 0
	$2

	[task "first"]
	run = sed -e 1s/one/ONE-first/ "shared file.txt" >s && mv s "shared file.txt"
	priority = high

	[task "second"]
	run = sh "\$TRASH_DIRECTORY/second.sh"
	PLAN
}

cat >"$TRASH_DIRECTORY/second.sh" <<-\SCRIPT
	if test -n "${ORCHESTRATE_CONFLICT_FILES-}"
	then
		cp "$ORCHESTRATE_CONFLICT_FILES" "$TRASH_DIRECTORY/seen.$ORCHESTRATE_PLAN" &&
		echo "$ORCHESTRATE_BASE" >"$TRASH_DIRECTORY/base.$ORCHESTRATE_PLAN" &&
		sed -e "1s/\$/+second/" "shared file.txt" >s
	else
		sed -e 1s/one/ONE-second/ "shared file.txt" >s
	fi &&
	mv s "shared file.txt"
SCRIPT

cat >"$TRASH_DIRECTORY/moving.sh" <<-\SCRIPT
	if test -n "${ORCHESTRATE_CONFLICT_FILES-}"
	then
		echo run >>"$TRASH_DIRECTORY/reruns.r" &&
		(cd "$TRASH_DIRECTORY/repo" && echo main-again >r.txt &&
		 git add r.txt && git commit -q -m "main moves during the re-run")
	fi &&
	echo second >r.txt
SCRIPT

test_expect_success 'setup: a repository' '
	test_create_repo repo &&
	cd repo &&
	printf "one\ntwo\nthree\n" >"shared file.txt" &&
	git add "shared file.txt" && git commit -q -m "a file to edit" &&
	printf "p*.ini\nq*.ini\nr*.ini\na*.ini\n" >.git/info/exclude
'
cd repo || test_bail_out "setup left no repository"

test_expect_success 'the two tasks run and the second conflicts with the first' '
	write_plan p "" &&
	git orchestrate plan p.ini >/dev/null &&
	git orchestrate run p >/dev/null &&
	test_expect_code 1 git orchestrate merge p --analyze >out &&
	test_grep "first with second: shared file.txt" out
'

test_expect_success 'merge --rerun merges the first, re-runs the second on the new base, merges it' '
	git orchestrate merge p --rerun >out 2>err &&
	test_grep "conflict: second (left unmerged): shared file.txt" out &&
	test_grep "re-run: second from main at" out &&
	test_grep "second: done on local" out &&
	git show main:"shared file.txt" >merged &&
	printf "ONE-first+second\ntwo\nthree\n" >expect &&
	test_cmp expect merged &&
	git orchestrate status p --json >st.json &&
	jq -e "[.tasks[] | select(.state == \"merged\")] | length == 2" st.json &&
	jq -e ".tasks[] | select(.id == \"second\") | .reruns == 1 and .rerun_paths == [\"shared file.txt\"] and .attempts == 2" st.json &&
	git orchestrate status p >st &&
	test_grep "^second .*merged .*(re-run 1 on conflict)" st
'

test_expect_success 'the re-run got the conflicting paths and started from the base with the first merged' '
	printf "shared file.txt\n" >expect &&
	test_cmp expect "$TRASH_DIRECTORY/seen.p" &&
	git log --format=%H --grep="task .first." main >first-merge &&
	test_cmp first-merge "$TRASH_DIRECTORY/base.p"
'

test_expect_success 'the re-run is in the task history of the plan ref' '
	git log --format=%s refs/orchestrate/plans/p >log &&
	test_grep "^second: re-run on conflict (1 of 1) from main at [0-9a-f]*: shared file.txt$" log &&
	git log -p refs/orchestrate/plans/p -- tasks/second.json >history &&
	test_grep "\"reruns\":1" history &&
	test_grep "\"rerun_paths\":\[\"shared file.txt\"\]" history &&
	test_grep "\"state\":\"merged\"" history
'

test_expect_success 'rerun-limit = 0: the task stays in conflict and the message says what to do' '
	write_plan q "rerun-limit = 0" &&
	git orchestrate plan q.ini >/dev/null &&
	git orchestrate run q >/dev/null &&
	git rev-parse main >main.before &&
	test_expect_code 1 git orchestrate merge q --rerun >out 2>err &&
	test_grep "task .second. still conflicts with .main. after 0 re-runs (rerun-limit = 0)" err &&
	test_grep "hint: .*retry q second" err &&
	git orchestrate status q --json >st.json &&
	jq -e ".tasks[] | select(.id == \"second\") | .state == \"conflict\"" st.json &&
	test_path_is_missing "$TRASH_DIRECTORY/seen.q"
'

test_expect_success 'a re-run that conflicts again is not run again past rerun-limit' '
	cat >r.ini <<-\PLAN &&
	[plan]
	name = r
	retries = 0

	[task "first"]
	run = echo first >r.txt

	[task "second"]
	run = sh "$TRASH_DIRECTORY/moving.sh"
	PLAN
	git orchestrate plan r.ini >/dev/null &&
	git orchestrate run r >/dev/null &&
	test_expect_code 1 git orchestrate merge r --rerun >out 2>err &&
	test_grep "re-run: second" out &&
	test_grep "task .second. still conflicts with .main. after 1 re-run (rerun-limit = 1)" err &&
	test $(wc -l <"$TRASH_DIRECTORY/reruns.r") = 1 &&
	git orchestrate status r --json >st.json &&
	jq -e ".tasks[] | select(.id == \"second\") | .state == \"conflict\"" st.json
'

test_expect_success 'merge = auto-rerun: during run, a task that conflicts runs again and is merged' '
	write_plan a "merge = auto-rerun" &&
	git orchestrate plan a.ini >/dev/null &&
	git orchestrate run a -j 1 >out 2>err &&
	test_grep "second: conflicts with the base branch; re-run 1 of 1 from main" err &&
	test_grep "second: merged into main" err &&
	git show main:"shared file.txt" >merged &&
	head -n 1 merged >line &&
	echo "ONE-first+second" >expect &&
	test_cmp expect line &&
	printf "shared file.txt\n" >expect &&
	test_cmp expect "$TRASH_DIRECTORY/seen.a"
'

test_expect_success 'rerun-limit and merge = auto-rerun are checked, and kept in plan.json' '
	printf "[plan]\nrerun-limit = many\n[task \"t\"]\nrun = true\n" >bad1.ini &&
	test_expect_code 2 git orchestrate plan bad1.ini 2>err &&
	test_grep "bad1.ini:2: .*rerun-limit" err &&
	printf "[plan]\nmerge = sometimes\n[task \"t\"]\nrun = true\n" >bad2.ini &&
	test_expect_code 2 git orchestrate plan bad2.ini 2>err &&
	test_grep "auto-rerun" err &&
	echo "{\"name\": \"j\", \"merge\": \"auto-rerun\", \"rerun-limit\": 3, \"tasks\": [{\"id\": \"t\", \"run\": \"true\"}]}" >j.json &&
	git orchestrate plan --from-json j.json >/dev/null &&
	git show refs/orchestrate/plans/j:plan.json >plan.json &&
	jq -e ".merge == \"auto-rerun\" and .rerun_limit == 3" plan.json
'

test_expect_success 'merge --rerun takes no --json, --into, --analyze' '
	test_expect_code 2 git orchestrate merge p --rerun --json 2>err &&
	test_grep "rerun" err &&
	test_expect_code 2 git orchestrate merge p --rerun --into other 2>err &&
	test_expect_code 2 git orchestrate merge p --rerun --analyze 2>err
'

test_done
