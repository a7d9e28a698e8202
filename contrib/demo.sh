#!/bin/sh
# `make demo`: run a sample plan end to end in a throw-away repository with
# the default local worker, and show what it leaves in git.
set -e
bin=${1:?usage: demo.sh PATH/TO/git-orchestrate}
here=$(cd "$(dirname "$0")" && pwd)
demo=$(mktemp -d)  # a fresh, private directory under $TMPDIR
mkdir -p "$demo/bin"
ln -s "$bin" "$demo/bin/git-orchestrate"
PATH="$demo/bin:$PATH"
export PATH GIT_PAGER=cat

step () { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }

cd "$demo"
git init -q -b main repo
cd repo
git config user.name "Demo User"
git config user.email demo@example.com
printf '# demo project\n' >README.md
git add README.md
git commit -q -m "initial commit"
cp "$here/demo/plan.ini" plan.ini
cp "$here/demo/orchestrate.ini" orchestrate.ini
git add plan.ini orchestrate.ini
git commit -q -m "add the demo plan"

step git orchestrate plan plan.ini
step git orchestrate run demo
step git orchestrate status demo
step git orchestrate log demo
step git orchestrate merge demo
step git log --graph --oneline --decorate main
printf '\nthe demo repository is kept at %s/repo\n' "$demo"
