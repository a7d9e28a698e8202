#!/bin/sh
# Install the Debian packages git-orchestrate needs to build and to test,
# only those that are missing. Run by `make demo` and `make test`; with the
# argument `fuzz` (`make fuzz`), also clang and its libFuzzer runtime.
set -e
pkgs="gcc make pkg-config libgit2-dev libssh2-1-dev libcjson-dev libinih-dev
git openssh-server openssh-client coreutils procps python3 util-linux bsdutils
man-db bash prometheus systemd"
for set in "$@"; do
	case $set in
	fuzz) pkgs="$pkgs clang libclang-rt-dev" ;;
	*)
		echo "install-deps: unknown package set '$set' (known: fuzz)" >&2
		exit 1
		;;
	esac
done
missing=
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "install-deps: installing:$missing"
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1; then SUDO=sudo; else
		echo "install-deps: need root to install:$missing" >&2
		echo "hint: run 'apt-get install$missing' as root" >&2
		exit 1
	fi
fi
export DEBIAN_FRONTEND=noninteractive
${SUDO:-} apt-get update -qq
${SUDO:-} apt-get install -y -qq --no-install-recommends $missing >/dev/null
