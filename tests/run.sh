#!/bin/bash
# Run every unit test binary and every end-to-end script against each build
# directory given (e.g. build build-asan); print one line "N passed, N failed"
# at the end and exit non-zero on any failure.
cd "$(dirname "$0")/.." || exit 1
top=$(pwd)
logdir=$(mktemp -d)
export ORCH_TEST_TMP="$logdir"
jobs=${ORCH_TEST_JOBS:-2}

run_one () {
	# $1 build dir, $2 test (unit binary or script), $3 log file
	if [ "${2%.sh}" != "$2" ]; then
		ORCH_BUILD="$top/$1" timeout 900 sh "$2" >"$3" 2>&1
	else
		timeout 300 "$2" >"$3" 2>&1
	fi
	status=$?
	# a crash or a non-zero exit without a "not ok" line still counts
	if [ $status -ne 0 ] && ! grep -q '^not ok' "$3"; then
		echo "not ok - $2 ($1): exited with status $status" >>"$3"
	fi
}

n=0
list="$logdir/list"
: >"$list"
for build in "$@"; do
	for t in "$build"/tests/unit-*; do
		[ -x "$t" ] && echo "$build $t" >>"$list"
	done
	for t in tests/t[0-9]*.sh; do
		[ -f "$t" ] && echo "$build $t" >>"$list"
	done
done

# run at most $jobs at once
running=0
while read -r build t; do
	n=$((n + 1))
	log="$logdir/$n.log"
	echo "$build $t" >"$log.name"
	run_one "$build" "$t" "$log" &
	running=$((running + 1))
	if [ $running -ge "$jobs" ]; then
		wait -n 2>/dev/null || wait
		running=$((running - 1))
	fi
done <"$list"
wait

passed=0
failed=0
i=1
while [ $i -le $n ]; do
	log="$logdir/$i.log"
	name=$(cat "$log.name")
	p=$(grep -c '^ok ' "$log")
	f=$(grep -c '^not ok' "$log")
	passed=$((passed + p))
	failed=$((failed + f))
	if [ "$f" -gt 0 ]; then
		echo "--- $name"
		cat "$log"
	else
		echo "$name: $p passed"
	fi
	i=$((i + 1))
done
rm -rf "$logdir"
echo "$passed passed, $failed failed"
[ $failed -eq 0 ] && [ $passed -gt 0 ]
