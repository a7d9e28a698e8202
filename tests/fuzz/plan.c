/*
 * Fuzz target: the plan INI reader (orch_plan_load_ini), then what `plan`
 * does with a plan that loads: validate it, write plan.json, and read that
 * back, which must give the same plan.json (what is stored can be read).
 *
 * The input is the plan file. A prompt file `p.md` lies beside it, for
 * `prompt-file = p.md`; inputs naming another path in a prompt-file line
 * (a '/' in that line) are skipped, so that the fuzzer reads nothing else
 * of the machine (a FIFO or /dev/zero would hang it).
 */
#include "fuzz.h"

#include "error.h"
#include "plan.h"

static int prompt_file_elsewhere(const uint8_t *data, size_t size)
{
	static const char key[] = "prompt-file";
	size_t start = 0;

	while (start < size) {
		const uint8_t *nl = memchr(data + start, '\n', size - start);
		size_t end = nl ? (size_t)(nl - data) : size;
		int has_key = 0, has_slash = 0;
		for (size_t i = start; i < end; i++) {
			if (data[i] == '/')
				has_slash = 1;
			if (i + sizeof(key) - 1 <= end &&
			    !memcmp(data + i, key, sizeof(key) - 1))
				has_key = 1;
		}
		if (has_key && has_slash)
			return 1;
		start = end + 1;
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char prompt[] = "Write the tests first.\n";
	char path[600], prompt_path[600];
	orch_plan *plan = NULL;

	if (prompt_file_elsewhere(data, size))
		return 0;
	fuzz_path(path, sizeof(path), "plan.ini");
	fuzz_path(prompt_path, sizeof(prompt_path), "p.md");
	fuzz_write(path, data, size);
	fuzz_write(prompt_path, prompt, sizeof(prompt) - 1);

	if (orch_plan_load_ini(&plan, path) == 0) {
		FUZZ_ASSERT(plan && plan->name && plan->source);
		(void)orch_plan_validate(plan);
		fuzz_plan_round_trip(plan);
	} else {
		FUZZ_ASSERT(!plan);
		FUZZ_ASSERT(orch_error_message() && *orch_error_message());
	}

	orch_plan_free(plan);
	unlink(path);
	unlink(prompt_path);
	return 0;
}
