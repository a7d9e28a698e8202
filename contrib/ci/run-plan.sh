#!/bin/sh
# Run a plan in a CI job and publish its metrics for node_exporter's
# textfile collector (or as a build artifact).
#
#   contrib/ci/run-plan.sh PLAN_FILE [METRICS_FILE]
#
# Stores PLAN_FILE (its name: $ORCHESTRATE_PLAN, else what the file says),
# runs it with the workers of orchestrate.ini, then writes
# `git orchestrate status PLAN --format=prometheus` to METRICS_FILE
# (default: $ORCHESTRATE_METRICS, else orchestrate.prom) whatever the run's
# outcome, by a rename so that a collector never reads half a file. Exits
# with the run's status: 0 every task done, 1 a task failed, 2 a bad plan.
# With $ORCHESTRATE_MERGE set, the run also merges the done tasks.
#
# In a GitHub Actions job, after actions/checkout and installing
# git-orchestrate (`make install`):
#   - run: contrib/ci/run-plan.sh plans/nightly.ini orchestrate.prom
#   - uses: actions/upload-artifact@v4
#     if: always()
#     with: { name: metrics, path: orchestrate.prom }
set -u

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
	echo "usage: $0 PLAN_FILE [METRICS_FILE]" >&2
	exit 2
fi
plan_file=$1
metrics=${2:-${ORCHESTRATE_METRICS:-orchestrate.prom}}

# the name the plan is stored under: the one `plan` reports
if [ -n "${ORCHESTRATE_PLAN:-}" ]; then
	report=$(git orchestrate plan --name "$ORCHESTRATE_PLAN" "$plan_file") ||
		exit
else
	report=$(git orchestrate plan "$plan_file") || exit
fi
printf '%s\n' "$report"
name=$(printf '%s\n' "$report" | sed -n "1s/^plan '\([^']*\)'.*/\1/p")
if [ -z "$name" ]; then
	echo "$0: cannot tell the name of the plan stored from $plan_file" >&2
	exit 2
fi

if [ -n "${ORCHESTRATE_MERGE:-}" ]; then
	git orchestrate run "$name" --merge
else
	git orchestrate run "$name"
fi
status=$?

if git orchestrate status "$name" --format=prometheus >"$metrics.tmp"; then
	mv "$metrics.tmp" "$metrics"
	echo "$0: metrics of plan '$name' in $metrics"
else
	rm -f "$metrics.tmp"
	echo "$0: could not write the metrics of plan '$name'" >&2
	[ $status -ne 0 ] || status=1
fi
exit $status
