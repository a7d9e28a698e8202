/*
 * Fuzz target: the receive hooks' stdin parser (orch_hook_parse), the
 * "<old> <new> <ref>" lines git gives post-receive and pre-receive, and
 * the split of each ref into plan and task (orch_hook_task_ref).
 */
#include "fuzz.h"

#include <git2.h>

#include "error.h"
#include "hook.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int initialised;
	orch_hook_updates updates;

	if (!initialised) {
		git_libgit2_init();
		initialised = 1;
	}
	if (orch_hook_parse(&updates, (const char *)data, size) == 0) {
		FUZZ_ASSERT(updates.count <= size / 84 + 1);
		for (size_t i = 0; i < updates.count; i++) {
			char *plan = NULL, *task = NULL;
			const char *ref = updates.items[i].ref;
			FUZZ_ASSERT(ref && *ref);
			if (orch_hook_task_ref(&plan, &task, ref) == 1) {
				FUZZ_ASSERT(orch_id_valid(plan) &&
				            orch_id_valid(task));
			} else {
				FUZZ_ASSERT(!plan && !task);
			}
			free(plan);
			free(task);
		}
	} else {
		FUZZ_ASSERT(!updates.items && !updates.count);
		FUZZ_ASSERT(orch_error_message() && *orch_error_message());
	}
	orch_hook_updates_free(&updates);
	return 0;
}
