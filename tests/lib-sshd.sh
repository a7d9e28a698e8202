# lib-sshd.sh: real sshd servers on 127.0.0.1 for the SSH tests. Source it
# after test-lib.sh, then:
#
#   sshd_start NAME          start an sshd "worker" NAME on a free port, as
#                            this test's own user (call it inside a test:
#                            what it records lives in files, not variables)
#   sshd_port NAME           print the port worker NAME listens on
#   sshd_stop NAME           stop it (its listener and its sessions), by pid
#
# Every worker started is stopped by pid when the script ends.
#   sshd_known_hosts FILE NAME...   write the workers' host keys to FILE
#   sshd_worker_ini NAME [key=value...]   print a [worker] section for NAME
#
# Keys are generated per test: $SSHD_ROOT/user_key (the user's, ed25519,
# no passphrase) and a host key per worker. Every session starts with a
# clean environment (SetEnv): its own git config, SHLVL=1, a short PATH.
# Only 127.0.0.1 is used. openssh-server is installed with apt-get when
# /usr/sbin/sshd is missing.

SSHD_ROOT=$TRASH_DIRECTORY/sshd
SSHD_USER=$(id -un)
test_when_finished sshd__stop_all

sshd__install () {
	[ -x /usr/sbin/sshd ] && return 0
	if command -v apt-get >/dev/null 2>&1; then
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q openssh-server >/dev/null 2>&1 ||
		{ apt-get update -q >/dev/null 2>&1 &&
		  DEBIAN_FRONTEND=noninteractive apt-get install -y -q openssh-server >/dev/null 2>&1; }
	fi
	[ -x /usr/sbin/sshd ]
}

sshd__free_port () {
	python3 -c '
import random, socket, sys
for _ in range(500):
    p = random.randint(20000, 32000)
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
    except OSError:
        continue
    finally:
        s.close()
    print(p); sys.exit(0)
sys.exit(1)'
}

sshd__port_open () {
	python3 -c 'import socket,sys
s=socket.socket(); s.settimeout(0.2)
sys.exit(0 if s.connect_ex(("127.0.0.1", int(sys.argv[1]))) == 0 else 1)' "$1"
}

sshd__setup () {
	[ -f "$SSHD_ROOT/user_key" ] && return 0
	sshd__install || { echo "sshd not available (apt-get install openssh-server failed)" >&2; return 1; }
	mkdir -p "$SSHD_ROOT" /run/sshd &&
	ssh-keygen -q -t ed25519 -N '' -C test-user -f "$SSHD_ROOT/user_key" &&
	cp "$SSHD_ROOT/user_key.pub" "$SSHD_ROOT/authorized_keys" &&
	chmod 600 "$SSHD_ROOT/user_key" "$SSHD_ROOT/authorized_keys"
}

sshd_start () {
	name=$1
	sshd__setup || return 1
	dir=$SSHD_ROOT/$name
	mkdir -p "$dir/work"
	[ -f "$dir/host_key" ] ||
		ssh-keygen -q -t ed25519 -N '' -C "$name" -f "$dir/host_key" || return 1
	printf '[user]\n\tname = Worker %s\n\temail = %s@worker.invalid\n' "$name" "$name" >"$dir/gitconfig"
	for try in 1 2 3 4 5; do
		port=$(sshd__free_port) || return 1
		cat >"$dir/sshd_config" <<CFG
Port $port
ListenAddress 127.0.0.1
HostKey $dir/host_key
AuthorizedKeysFile $SSHD_ROOT/authorized_keys
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
StrictModes no
UsePAM no
PidFile $dir/sshd.pid
PrintMotd no
UseDNS no
MaxStartups 100
MaxSessions 100
SetEnv SSHD_WORKER=$name GIT_CONFIG_GLOBAL=$dir/gitconfig GIT_CONFIG_NOSYSTEM=1 SHLVL=1 PATH=/usr/local/bin:/usr/bin:/bin
CFG
		rm -f "$dir/sshd.pid"
		/usr/sbin/sshd -f "$dir/sshd_config" -E "$dir/sshd.log" || continue
		if test_wait_for "[ -s \"$dir/sshd.pid\" ] && sshd__port_open $port" 5; then
			echo "$port" >"$dir/port"
			return 0
		fi
		[ -s "$dir/sshd.pid" ] && kill "$(cat "$dir/sshd.pid")" 2>/dev/null
	done
	echo "could not start sshd $name (see $dir/sshd.log)" >&2
	return 1
}

# Stop worker NAME: its listener, then the sessions it forked (by parent
# pid). The listener is stopped (SIGSTOP) first, so that it forks no
# session between the listing and the kill (a client reconnecting at once
# would otherwise find a session that outlives the stop).
sshd_stop () {
	dir=$SSHD_ROOT/$1
	[ -s "$dir/sshd.pid" ] || return 0
	pid=$(cat "$dir/sshd.pid")
	kill -STOP "$pid" 2>/dev/null
	kids=$(ps -o pid= --ppid "$pid" 2>/dev/null)
	kill -9 "$pid" 2>/dev/null
	for kid in $kids; do
		grandkids=$(ps -o pid= --ppid "$kid" 2>/dev/null)
		kill -9 "$kid" $grandkids 2>/dev/null
	done
	test_wait_for "! kill -0 $pid 2>/dev/null" 10 &&
	rm -f "$dir/sshd.pid"
}

sshd__stop_all () {
	for pidfile in "$SSHD_ROOT"/*/sshd.pid; do
		[ -f "$pidfile" ] && sshd_stop "$(basename "$(dirname "$pidfile")")"
	done
}

# sshd_port NAME: the port worker NAME listens on.
sshd_port () {
	cat "$SSHD_ROOT/$1/port"
}

# sshd_known_hosts FILE NAME...: the [127.0.0.1]:PORT lines of these workers.
sshd_known_hosts () {
	file=$1
	shift
	: >"$file"
	for name in "$@"; do
		port=$(sshd_port "$name") || return 1
		printf '[127.0.0.1]:%s %s\n' "$port" "$(cut -d' ' -f1,2 "$SSHD_ROOT/$name/host_key.pub")" >>"$file"
	done
}

# sshd_worker_ini NAME [key=value...]: a [worker "NAME"] section using the
# generated user key and $SSHD_ROOT/known_hosts; key=value arguments add
# keys or replace these defaults.
sshd_worker_ini () {
	name=$1
	shift
	port=$(sshd_port "$name") || return 1
	printf '[worker "%s"]\n' "$name"
	for kv in "host=127.0.0.1" "port=$port" "user=$SSHD_USER" "identity=$SSHD_ROOT/user_key" \
		"known-hosts=$SSHD_ROOT/known_hosts" "workdir=$SSHD_ROOT/$name/work"; do
		given=
		for extra in "$@"; do
			[ "${extra%%=*}" = "${kv%%=*}" ] && given=1
		done
		[ -n "$given" ] || printf '%s = %s\n' "${kv%%=*}" "${kv#*=}"
	done
	for kv in "$@"; do
		printf '%s = %s\n' "${kv%%=*}" "${kv#*=}"
	done
	printf '\n'
}
