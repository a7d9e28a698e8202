/* Unit tests of lib/autojobs.c: run -j auto's slots. */
#include "unit.h"

#include "autojobs.h"

#define GIB (1024 * 1024)

static int slots(int cpus, double load, int64_t mem_kb, int running,
                 int64_t task_kb)
{
	orch_autojobs_input in = {cpus, load, mem_kb, running, task_kb};
	return orch_autojobs_slots(&in);
}

TEST(an_idle_machine_gets_one_slot_per_cpu)
{
	CHECK_INT(slots(8, 0.0, 64 * GIB, 0, 0), 8);
	CHECK_INT(slots(8, -1, -1, 0, 0), 8); /* nothing known */
}

TEST(load_that_is_not_ours_takes_slots_away)
{
	/* 6 of load, 2 of it our tasks: 4 others, 4 CPUs left */
	CHECK_INT(slots(8, 6.0, 64 * GIB, 2, 0), 4);
	/* our own tasks' load does not shrink us */
	CHECK_INT(slots(8, 8.0, 64 * GIB, 8, 0), 8);
	/* rounded down, never below 1 */
	CHECK_INT(slots(8, 4.5, 64 * GIB, 0, 0), 3);
	CHECK_INT(slots(8, 50.0, 64 * GIB, 0, 0), 1);
}

TEST(memory_counts_each_task_at_the_largest_peak_seen)
{
	/* 2 GiB available, 256 MiB kept back, 512 MiB a task: 3 more */
	CHECK_INT(slots(8, 0.0, 2 * GIB, 1, 512 * 1024), 4);
	/* unknown task size: 256 MiB each */
	CHECK_INT(slots(8, 0.0, 1 * GIB, 0, 0), 3);
	/* no memory to spare: what runs keeps running, at least 1 */
	CHECK_INT(slots(8, 0.0, 100 * 1024, 3, 0), 3);
	CHECK_INT(slots(8, 0.0, 0, 0, 0), 1);
}

TEST(never_more_than_the_cpus)
{
	CHECK_INT(slots(2, 0.0, 64 * GIB, 5, 0), 2);
	CHECK_INT(slots(0, 0.0, 64 * GIB, 0, 0), 1);
}

TEST(the_description_names_load_cpus_and_memory)
{
	orch_autojobs_input in = {2, 0.5, 3 * GIB / 2, 0, 0};
	char text[160];

	orch_autojobs_describe(text, sizeof(text), &in);
	CHECK_STR(text, "load 0.50 on 2 CPUs, 1.5 GiB available");
	in.load1 = -1;
	in.mem_available_kb = -1;
	in.cpus = 1;
	orch_autojobs_describe(text, sizeof(text), &in);
	CHECK_STR(text, "load unknown on 1 CPU, free memory unknown");
}

static const unit_test tests[] = {
    T(an_idle_machine_gets_one_slot_per_cpu),
    T(load_that_is_not_ours_takes_slots_away),
    T(memory_counts_each_task_at_the_largest_peak_seen),
    T(never_more_than_the_cpus),
    T(the_description_names_load_cpus_and_memory),
};

UNIT_MAIN(tests)
