#!/bin/sh
# git orchestrate merge --push: push with a lease to a bare upstream.
. "$(dirname "$0")/test-lib.sh"

test_expect_success 'setup: a repository, its upstream and a plan' '
	git init -q --bare upstream.git &&
	test_create_repo repo &&
	cd repo &&
	git remote add origin ../upstream.git &&
	git push -q -u origin main &&
	cat >p.ini <<-\PLAN
	[plan]
	name = p
	retries = 0

	[task "one"]
	run = echo one >one.txt
	PLAN
'
cd repo || test_bail_out "setup left no repository"

test_expect_success 'merge --push pushes the merged base to its upstream' '
	git orchestrate plan p.ini >/dev/null &&
	git orchestrate run p >/dev/null &&
	git orchestrate merge --push p >out &&
	test "$(git --git-dir=../upstream.git rev-parse main)" = "$(git rev-parse main)"
'

test_expect_success 'a push whose lease no longer holds is rejected; the local merge stays' '
	git clone -q ../upstream.git ../other &&
	(cd ../other && echo theirs >theirs.txt && git add theirs.txt &&
	 git commit -q -m theirs && git push -q origin main) &&
	git --git-dir=../upstream.git rev-parse main >remote.before &&
	sed -e "s/^name = p/name = q/" -e "s/one/two/g" p.ini >q.ini &&
	git orchestrate plan q.ini >/dev/null &&
	git orchestrate run q >/dev/null &&
	test_expect_code 1 git orchestrate merge --push q >out 2>err &&
	test_grep "rejected" err &&
	git --git-dir=../upstream.git rev-parse main >remote.after &&
	test_cmp remote.before remote.after &&
	test -f two.txt &&
	git orchestrate status --json q >st.json &&
	jq -e ".tasks[0].state == \"merged\"" st.json
'

test_done
