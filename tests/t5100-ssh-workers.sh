#!/bin/sh
# SSH workers: `workers`, `workers check`, host keys (strict, accept-new,
# hashed, [host]:port), authentication failures, nothing listening,
# ~/.ssh/config aliases. Real sshd servers on 127.0.0.1.
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib-sshd.sh"

test_expect_success 'setup: two workers and a repository' '
	sshd_start w1 && sshd_start w2 &&
	sshd_known_hosts "$SSHD_ROOT/known_hosts" w1 w2 &&
	test_create_repo repo
'
cd repo || test_bail_out "setup left no repository"

fp_of () {
	ssh-keygen -lf "$SSHD_ROOT/$1/host_key.pub" | cut -d" " -f2
}

test_expect_success 'workers lists each worker with slots, capabilities and load' '
	{ sshd_worker_ini w1 slots=2 capabilities=backend && sshd_worker_ini w2; } >.git/orchestrate.ini &&
	git orchestrate workers >out &&
	test_grep "^w1 .*127.0.0.1:$(sshd_port w1) *2 *0  backend" out &&
	test_grep "^w2 .*127.0.0.1:$(sshd_port w2) *1 *0  -" out &&
	git orchestrate workers --json >out.json &&
	test_grep "\"name\":.*\"w1\"" out.json &&
	test_grep "\"slots\":.*2" out.json
'

test_expect_success 'workers check reaches every worker and reports what it found' '
	git orchestrate workers check >out &&
	test_grep "^w1: ok" out &&
	test_grep "^w2: ok" out &&
	test_grep "host key:  ED25519 $(fp_of w1) (known)" out &&
	test_grep "git:       git version" out &&
	test_grep "workdir:   $SSHD_ROOT/w1/work/repo-" out &&
	test_grep "GiB free" out
'

test_expect_success 'an unknown host key is refused under strict, naming worker, key type and fingerprint' '
	: >"$SSHD_ROOT/empty_known_hosts" &&
	sshd_worker_ini w1 known-hosts="$SSHD_ROOT/empty_known_hosts" >.git/orchestrate.ini &&
	test_expect_code 1 git orchestrate workers check >out 2>err &&
	test_grep "^w1: UNUSABLE" out &&
	test_grep "worker .w1.: host key of \[127.0.0.1\]:$(sshd_port w1) is not known (ED25519 key $(fp_of w1)" err &&
	test_grep "^hint: .*ssh-keyscan -p $(sshd_port w1) 127.0.0.1" err &&
	test ! -s "$SSHD_ROOT/empty_known_hosts"
'

test_expect_success 'accept-new records a key never seen, then accepts it' '
	: >"$SSHD_ROOT/new_known_hosts" &&
	sshd_worker_ini w1 known-hosts="$SSHD_ROOT/new_known_hosts" host-key-check=accept-new >.git/orchestrate.ini &&
	git orchestrate workers check >out &&
	test_grep "(new: recorded)" out &&
	test_grep "^\[127.0.0.1\]:$(sshd_port w1) ssh-ed25519 " "$SSHD_ROOT/new_known_hosts" &&
	git orchestrate workers check >out &&
	test_grep "(known)" out &&
	test $(wc -l <"$SSHD_ROOT/new_known_hosts") = 1 &&
	ssh -o BatchMode=yes -o UserKnownHostsFile="$SSHD_ROOT/new_known_hosts" -o StrictHostKeyChecking=yes \
		-i "$SSHD_ROOT/user_key" -p $(sshd_port w1) 127.0.0.1 true
'

test_expect_success 'a changed host key is refused under strict and under accept-new' '
	sed "s/ssh-ed25519 .*/$(cut -d" " -f1,2 "$SSHD_ROOT/w2/host_key.pub" | sed "s/\//\\\\\//g")/" \
		"$SSHD_ROOT/new_known_hosts" >"$SSHD_ROOT/changed_known_hosts" &&
	cp "$SSHD_ROOT/changed_known_hosts" "$SSHD_ROOT/changed.before" &&
	for mode in strict accept-new; do
		sshd_worker_ini w1 known-hosts="$SSHD_ROOT/changed_known_hosts" host-key-check=$mode >.git/orchestrate.ini &&
		test_expect_code 1 git orchestrate workers check >out 2>err &&
		test_grep "host key of \[127.0.0.1\]:$(sshd_port w1) has CHANGED" err &&
		test_grep "ED25519 key $(fp_of w1)" err &&
		test_grep "ssh-keygen -R" err || return 1
	done &&
	test_cmp "$SSHD_ROOT/changed.before" "$SSHD_ROOT/changed_known_hosts"
'

test_expect_success 'hashed known_hosts entries are honoured' '
	cp "$SSHD_ROOT/known_hosts" "$SSHD_ROOT/hashed_known_hosts" &&
	ssh-keygen -H -f "$SSHD_ROOT/hashed_known_hosts" >/dev/null 2>&1 &&
	test_grep ! 127.0.0.1 "$SSHD_ROOT/hashed_known_hosts" &&
	sshd_worker_ini w2 known-hosts="$SSHD_ROOT/hashed_known_hosts" >.git/orchestrate.ini &&
	git orchestrate workers check >out &&
	test_grep "^w2: ok" out
'

test_expect_success 'an authentication failure names the worker, the user and the keys tried' '
	ssh-keygen -q -t ed25519 -N "" -f "$SSHD_ROOT/stranger" &&
	sshd_worker_ini w1 identity="$SSHD_ROOT/stranger" >.git/orchestrate.ini &&
	test_expect_code 1 git orchestrate workers check >out 2>err &&
	test_grep "worker .w1.: authentication as .$SSHD_USER. on 127.0.0.1 port $(sshd_port w1) failed (tried: .*stranger" err &&
	test_grep "^hint: " err
'

test_expect_success 'an encrypted key without an agent is a clear error, never a prompt' '
	ssh-keygen -q -t ed25519 -N "secret" -f "$SSHD_ROOT/locked" &&
	sshd_worker_ini w1 identity="$SSHD_ROOT/locked" >.git/orchestrate.ini &&
	(unset SSH_AUTH_SOCK; test_expect_code 1 git orchestrate workers check >out 2>err) &&
	test_grep "locked (encrypted)" err &&
	test_grep "^hint: .*ssh-add" err
'

test_expect_success 'a port with nothing listening is reported as unreachable' '
	port=$(sshd__free_port) &&
	printf "[worker \"gone\"]\nhost = 127.0.0.1\nport = %s\nidentity = %s\n" "$port" "$SSHD_ROOT/user_key" >.git/orchestrate.ini &&
	test_expect_code 1 git orchestrate workers check >out 2>err &&
	test_grep "worker .gone.: cannot connect to 127.0.0.1 port $port: Connection refused" err
'

test_expect_success 'host may be an alias of ~/.ssh/config (HostName, User, Port, IdentityFile)' '
	mkdir -p "$HOME/.ssh" &&
	printf "Host vps-*\n  User %s\nHost vps-one\n  HostName 127.0.0.1\n  Port %s\n  IdentityFile %s\n" \
		"$SSHD_USER" "$(sshd_port w2)" "$SSHD_ROOT/user_key" >"$HOME/.ssh/config" &&
	printf "[worker \"alias\"]\nhost = vps-one\nknown-hosts = %s\nworkdir = %s\n" \
		"$SSHD_ROOT/known_hosts" "$SSHD_ROOT/w2/work" >.git/orchestrate.ini &&
	git orchestrate workers check >out &&
	test_grep "^alias: ok ($SSHD_USER@127.0.0.1:$(sshd_port w2))" out &&
	rm "$HOME/.ssh/config"
'

test_done
