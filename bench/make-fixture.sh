#!/bin/sh
# bench/make-fixture.sh REPO OUT.bundle [K]: a conflict-matrix fixture from
# the real history of any git repository, for bench/conflicts.
#
# On the first-parent history of REPO's HEAD: base = the commit a third of
# the way along; main = one commit on base holding the tree 20 commits later
# (squashed); K task branches task/NN (default 32), each base plus the files
# of one later non-merge commit that touches 1 to 5 files, at that commit's
# version (deleted where it deletes them), the commits whose files change
# most often in that stretch first, so that branches overlap the way
# parallel work on one code base does; plus task/c1..c3 editing one line of
# the most often changed text file three different ways (they conflict with
# each other) and task/c4 editing a line main changed (it conflicts with
# main). The bundle holds base, main and task/*. REPO is only read.
set -eu
[ $# -ge 2 ] || { echo "usage: bench/make-fixture.sh REPO OUT.bundle [K]" >&2; exit 2; }
src=$1
out=$2
k=${3:-32}
case $out in /*) ;; *) out=$(pwd)/$out ;; esac
git -C "$src" rev-parse --verify -q HEAD >/dev/null ||
	{ echo "bench/make-fixture.sh: '$src' is not a git repository with commits" >&2; exit 2; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null LC_ALL=C
export GIT_AUTHOR_NAME=fixture GIT_AUTHOR_EMAIL=fixture@example.com
export GIT_COMMITTER_NAME=fixture GIT_COMMITTER_EMAIL=fixture@example.com
export GIT_AUTHOR_DATE='2000-01-01T00:00:00Z' GIT_COMMITTER_DATE='2000-01-01T00:00:00Z'
git init -q --bare "$work/repo.git"
export GIT_DIR="$work/repo.git"
git fetch -q "$(cd "$src" && pwd)" HEAD
git rev-list --first-parent --reverse FETCH_HEAD >"$work/commits"
n=$(wc -l <"$work/commits")
b=$((n / 3 + 1))
[ $((n - b)) -gt 21 ] ||
	{ echo "bench/make-fixture.sh: '$src' has $n commits on its first-parent line; need at least 35" >&2; exit 2; }
base=$(sed -n "${b}p" "$work/commits")
later=$(sed -n "$((b + 20))p" "$work/commits")
git update-ref refs/heads/base "$base"
main=$(git commit-tree -p "$base" -m "main: 20 commits after base, squashed" "$later^{tree}")
git update-ref refs/heads/main "$main"

# the later non-merge commits touching 1-5 files, and how often each file
# changes among them
tail -n +$((b + 1)) "$work/commits" | while read -r c; do
	[ "$(git rev-list --parents -n 1 "$c" | wc -w)" -eq 2 ] || continue
	git diff-tree --no-commit-id --name-only -r "$c" >"$work/files"
	m=$(wc -l <"$work/files")
	[ "$m" -ge 1 ] && [ "$m" -le 5 ] || continue
	printf '%s ' "$c"
	tr '\n' ' ' <"$work/files"
	echo
done >"$work/candidates"
awk '{ for (i = 2; i <= NF; i++) n[$i]++ } END { for (f in n) print n[f], f }' \
	"$work/candidates" | sort -k1,1nr -k2 >"$work/hot"
# score each commit by the popularity of its most changed file
awk 'NR == FNR { n[$2] = $1; next }
	{ s = 0; for (i = 2; i <= NF; i++) if (n[$i] > s) s = n[$i]; print s, NR, $1 }' \
	"$work/hot" "$work/candidates" | sort -k1,1nr -k2,2n | head -n "$k" |
	awk '{ print $3 }' >"$work/chosen"

# branch_from BRANCH: base's tree with the index edits made by the caller
# (GIT_INDEX_FILE is set), committed on base
branch_from() {
	tree=$(git write-tree)
	commit=$(git commit-tree -p "$base" -m "$1" "$tree")
	git update-ref "refs/heads/$1" "$commit"
}

export GIT_INDEX_FILE="$work/index"
i=0
while read -r c; do
	i=$((i + 1))
	git read-tree "$base"
	ok=1
	for f in $(git diff-tree --no-commit-id --name-only -r "$c"); do
		entry=$(git ls-tree "$c" -- "$f")
		if [ -n "$entry" ]; then
			mode=${entry%% *}
			oid=$(echo "$entry" | awk '{ print $3 }')
			git update-index --add --cacheinfo "$mode,$oid,$f" 2>/dev/null || ok=0
		else
			git update-index --force-remove -- "$f"
		fi
	done
	[ $ok = 1 ] || continue
	branch_from "$(printf 'task/%02d' $i)"
done <"$work/chosen"

# the made conflicts: one line of the hottest text file, three ways
hot=
for f in $(awk '{ print $2 }' "$work/hot"); do
	if git cat-file -e "$base:$f" 2>/dev/null &&
		[ "$(git cat-file -p "$base:$f" | wc -l)" -ge 10 ] &&
		! git cat-file -p "$base:$f" | grep -q "$(printf '\001\002\003')"; then
		hot=$f
		break
	fi
done
if [ -n "$hot" ]; then
	lines=$(git cat-file -p "$base:$hot" | wc -l)
	line=$((lines / 2))
	for c in 1 2 3; do
		git read-tree "$base"
		blob=$(git cat-file -p "$base:$hot" |
			awk -v l="$line" -v c="$c" 'NR == l { print "conflicting edit " c; next } { print }' |
			git hash-object -w --stdin)
		git update-index --cacheinfo "100644,$blob,$hot"
		branch_from "task/c$c"
	done
fi
# ... and a line main changed, changed differently
g=$(git diff --name-only --diff-filter=M "$base" "$main" | head -n 1)
if [ -n "$g" ]; then
	at=$(git diff -U0 "$base" "$main" -- "$g" | sed -n 's/^@@ -\([0-9]*\).*/\1/p' | head -n 1)
	[ "${at:-0}" -ge 1 ] || at=1
	git read-tree "$base"
	blob=$(git cat-file -p "$base:$g" |
		awk -v l="$at" 'NR == l { print "conflicting edit against main"; next } { print }' |
		git hash-object -w --stdin)
	git update-index --cacheinfo "100644,$blob,$g"
	branch_from task/c4
fi
unset GIT_INDEX_FILE
git bundle create -q "$out" --branches
echo "bench/make-fixture.sh: $out: base ${base%"${base#???????????}"}, main, $(git for-each-ref 'refs/heads/task/' | wc -l) task branches"
