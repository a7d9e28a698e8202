#!/bin/sh
# run -j auto: the local slots follow the machine's load and free memory,
# between 1 and the CPU count, looked at again every few seconds; status
# shows them. The figures come from ORCH_AUTOJOBS_PROBE ("LOAD MEM_KB"),
# which the test changes while the run goes on.
. "$(dirname "$0")/test-lib.sh"

OUT="$TRASH_DIRECTORY/out"
PROBE="$TRASH_DIRECTORY/probe"
export OUT
CPUS=$(nproc)

test_expect_success 'setup' '
	test_create_repo repo &&
	mkdir -p "$OUT" &&
	echo "0.00 104857600" >"$PROBE"
'
cd repo || test_bail_out "setup left no repository"

test_expect_success '-j takes a number or auto' '
	printf "[task \"a\"]\nrun = true\n" >a.ini &&
	git orchestrate plan a.ini >/dev/null &&
	test_expect_code 2 git orchestrate run -j many a 2>err &&
	test_grep "\-j needs a number of slots or .auto., got .many." err
'

test_expect_success 'an idle machine: one slot per CPU, in the run and in status' '
	ORCH_AUTOJOBS_PROBE="$PROBE" git orchestrate run -j auto a >out 2>err &&
	test_grep "worker local: $CPUS slots\{0,1\} (-j auto: load 0.00 on $CPUS CPUs\{0,1\}, 100.0 GiB available)" err &&
	git orchestrate status a >st &&
	test_grep "^worker local: $CPUS slots\{0,1\} (-j auto: load 0.00" st &&
	git orchestrate status --json a >st.json &&
	tr -d " \t\n" <st.json >flat &&
	test_grep "\"name\":\"local\",\"down\":false,\"reason\":\"\",\"slots\":$CPUS,\"auto\":\"load0.00on" flat
'

test_expect_success 'load that is not ours takes slots away during the run' '
	test "$CPUS" -ge 2 &&
	cat >gate.ini <<-\PLAN &&
	[task "g1"]
	run = touch "$OUT/g1"; while ! test -f "$OUT/go"; do sleep 0.05; done
	[task "g2"]
	run = touch "$OUT/g2"; while ! test -f "$OUT/go"; do sleep 0.05; done
	[task "g3"]
	run = touch "$OUT/g3"
	PLAN
	git orchestrate plan gate.ini >/dev/null || exit 1
	ORCH_AUTOJOBS_PROBE="$PROBE" git-orchestrate run -j auto gate >run.out 2>run.err &
	pid=$!
	test_wait_for "test -f \"$OUT/g1\" && test -f \"$OUT/g2\"" &&
	echo "40.00 104857600" >"$PROBE" &&
	test_wait_for "grep \"worker local: 1 slot (-j auto: load 40.00\" run.err" &&
	git orchestrate status gate >st &&
	test_grep "^worker local: 1 slot (-j auto: load 40.00 on $CPUS CPUs, 100.0 GiB available)" st &&
	git log --format=%s refs/orchestrate/plans/gate >log &&
	test_grep "^worker local: 1 slot (-j auto: load 40.00" log &&
	test_path_is_missing "$OUT/g3" &&
	echo "0.00 104857600" >"$PROBE" &&
	test_wait_for "grep \"worker local: $CPUS slots (-j auto: load 0.00\" run.err" &&
	touch "$OUT/go" &&
	wait $pid &&
	test -f "$OUT/g3"
'

test_expect_success 'memory: no slot beyond what fits, never fewer than one' '
	echo "0.00 0" >"$PROBE" &&
	printf "[task \"m\"]\nrun = true\n" >m.ini &&
	git orchestrate plan m.ini >/dev/null &&
	ORCH_AUTOJOBS_PROBE="$PROBE" git orchestrate run -j auto m >out 2>err &&
	test_grep "worker local: 1 slot (-j auto: load 0.00 on $CPUS CPUs\{0,1\}, 0.0 GiB available)" err
'

test_done
