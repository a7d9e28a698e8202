/*
 * Fuzz target: the JSON the store keeps on a plan ref: a task's state
 * (tasks/<id>.json, orch_task_state_from_json), plan.json
 * (orch_plan_from_json) and a lease (orch_lease_from_json). The same input
 * goes to the three readers. What one of them reads must write back to JSON
 * that reads again to the same JSON.
 */
#include "fuzz.h"

#include "error.h"
#include "lease.h"
#include "plan.h"
#include "store.h"

static void task_state(const uint8_t *data, size_t size)
{
	orch_task_state state, again;
	char *json = NULL, *json_again = NULL;

	orch_task_state_init(&state);
	orch_task_state_init(&again);
	if (orch_task_state_from_json(&state, (const char *)data, size) == 0) {
		json = orch_task_state_to_json(&state);
		if (orch_task_state_from_json(&again, json, strlen(json)) < 0) {
			fprintf(stderr,
			        "a task state does not read back: %s\n%s",
			        orch_error_message(), json);
			abort();
		}
		json_again = orch_task_state_to_json(&again);
		FUZZ_ASSERT(!strcmp(json, json_again));
	}
	orch_task_state_clear(&state);
	orch_task_state_clear(&again);
	free(json);
	free(json_again);
}

static void plan_json(const uint8_t *data, size_t size)
{
	orch_plan *plan = NULL;

	if (orch_plan_from_json(&plan, (const char *)data, size) == 0) {
		(void)orch_plan_validate(plan);
		fuzz_plan_round_trip(plan);
	} else {
		FUZZ_ASSERT(!plan);
	}
	orch_plan_free(plan);
}

static void lease(const uint8_t *data, size_t size)
{
	orch_lease lease, again;
	char *json = NULL, *json_again = NULL;

	memset(&again, 0, sizeof(again));
	if (orch_lease_from_json(&lease, (const char *)data, size) == 0) {
		json = orch_lease_to_json(&lease);
		if (orch_lease_from_json(&again, json, strlen(json)) < 0) {
			fprintf(stderr, "a lease does not read back: %s\n%s",
			        orch_error_message(), json);
			abort();
		}
		json_again = orch_lease_to_json(&again);
		FUZZ_ASSERT(!strcmp(json, json_again));
	}
	orch_lease_clear(&lease);
	orch_lease_clear(&again);
	free(json);
	free(json_again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	task_state(data, size);
	plan_json(data, size);
	lease(data, size);
	return 0;
}
