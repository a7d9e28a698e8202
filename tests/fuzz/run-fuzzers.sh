#!/bin/sh
# Run the libFuzzer builds of the fuzz targets (make fuzz).
# Usage: run-fuzzers.sh BUILD SECONDS TARGET...
# Each target runs SECONDS from its seed corpus tests/fuzz/TARGET/ (read
# only) and its scratch corpus BUILD/corpus/TARGET/ (where new entries go,
# kept from one run to the next). A crash, leak, timeout or out-of-memory
# input is written to tests/fuzz/TARGET/regressions/, which `make test`
# replays: fix what it shows and commit the input. One line per target;
# exits non-zero when any fuzzer found something.
cd "$(dirname "$0")/../.." || exit 1
build=$1
seconds=$2
shift 2
found=0
for t in "$@"; do
	bin=$build/fuzz-$t
	work=$build/corpus/$t
	log=$build/fuzz-$t.log
	regressions=tests/fuzz/$t/regressions
	mkdir -p "$work" "$regressions"
	set --
	[ -f "tests/fuzz/$t.dict" ] && set -- "-dict=tests/fuzz/$t.dict"
	before=$(ls "$regressions" | wc -l)
	UBSAN_OPTIONS=print_stacktrace=1 "$bin" "$@" \
		-max_total_time="$seconds" -timeout=30 -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix="$regressions/" \
		"$work" "tests/fuzz/$t" >"$log" 2>&1
	status=$?
	after=$(ls "$regressions" | wc -l)
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	cov=$(grep -E '^#[0-9]+' "$log" | tail -1 |
		sed -n 's/.* cov: \([0-9]*\) ft: \([0-9]*\) corp: \([0-9]*\).*/\1 edges, \2 features, corpus \3/p')
	if [ $status -ne 0 ] || [ "$after" -ne "$before" ]; then
		found=1
		echo "fuzz $t: FOUND something (exit $status), see $log:"
		grep -E '^(==[0-9]+==ERROR|SUMMARY|artifact_prefix|Test unit written)' \
			"$log" | head -5
	else
		echo "fuzz $t: ${runs:-?} runs in ${seconds}s, ${cov:-?}, no finding"
	fi
done
if [ $found -ne 0 ]; then
	echo "hint: 'make test' now replays the inputs above from" \
		"tests/fuzz/*/regressions/; fix the bug and commit them" >&2
fi
exit $found
