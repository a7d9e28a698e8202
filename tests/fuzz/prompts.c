/*
 * Fuzz target: the `--prompts` reader (orch_plan_load_prompts), a
 * directory of Markdown files each with an optional `---` front matter
 * block; then validation and plan.json written and read back, as for the
 * INI reader.
 *
 * The input holds the files: the text before any "@@ NAME" line is
 * `task.md`, and each "@@ NAME" line starts the file NAME (at most 32
 * files; names with a '/' are skipped).
 */
#include "fuzz.h"

#include "error.h"
#include "plan.h"

#define MAX_FILES 32

struct written {
	char paths[MAX_FILES][600];
	size_t count;
	char dir[600];
};

static void write_one(const char *name, const uint8_t *bytes, size_t len,
                      void *payload)
{
	struct written *w = payload;
	char *path = w->paths[w->count];

	if (!fuzz_name_ok(name))
		return;
	if ((size_t)snprintf(path, sizeof(w->paths[0]), "%s/%s", w->dir,
	                     name) >= sizeof(w->paths[0]))
		return;
	fuzz_write(path, bytes, len);
	w->count++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct written w;
	orch_plan *plan = NULL;

	w.count = 0;
	fuzz_path(w.dir, sizeof(w.dir), "prompts");
	if (mkdir(w.dir, 0700) < 0)
		abort();
	fuzz_split(data, size, "task.md", MAX_FILES, write_one, &w);

	if (orch_plan_load_prompts(&plan, w.dir) == 0) {
		FUZZ_ASSERT(plan && plan->name && plan->source);
		for (size_t i = 0; i < plan->ntasks; i++)
			FUZZ_ASSERT(orch_id_valid(plan->tasks[i].id));
		(void)orch_plan_validate(plan);
		fuzz_plan_round_trip(plan);
	} else {
		FUZZ_ASSERT(!plan);
		FUZZ_ASSERT(orch_error_message() && *orch_error_message());
	}

	orch_plan_free(plan);
	for (size_t i = 0; i < w.count; i++)
		unlink(w.paths[i]);
	if (rmdir(w.dir) < 0) {
		perror(w.dir);
		abort();
	}
	return 0;
}
