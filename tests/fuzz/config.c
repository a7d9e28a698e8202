/*
 * Fuzz target: the worker configuration reader (orch_config_load), with
 * the layering of several files (a later file overrides an earlier one key
 * by key) and a missing file among them, which is skipped.
 *
 * The input holds the files in order: the text before any "@@ NAME" line
 * is the first, each "@@" line starts the next one (its name is not used;
 * at most 4 files). The last file is the required one, as --config is.
 */
#include "fuzz.h"

#include "config.h"
#include "error.h"

#define MAX_FILES 4

struct written {
	char paths[MAX_FILES][600];
	size_t count;
};

static void write_one(const char *name, const uint8_t *bytes, size_t len,
                      void *payload)
{
	struct written *w = payload;
	char file[32];

	(void)name;
	snprintf(file, sizeof(file), "%zu.ini", w->count);
	fuzz_path(w->paths[w->count], sizeof(w->paths[0]), file);
	fuzz_write(w->paths[w->count], bytes, len);
	w->count++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct written w;
	char missing[600];
	const char *paths[MAX_FILES + 2];
	orch_config *config = NULL;
	size_t n = 0;

	w.count = 0;
	fuzz_split(data, size, "0", MAX_FILES, write_one, &w);
	fuzz_path(missing, sizeof(missing), "missing.ini");
	paths[n++] = missing;
	for (size_t i = 0; i < w.count; i++)
		paths[n++] = w.paths[i];
	paths[n] = NULL;

	if (orch_config_load(&config, paths,
	                     w.count ? w.paths[w.count - 1] : NULL) == 0) {
		FUZZ_ASSERT(config && config->nworkers > 0);
		for (size_t i = 0; i < config->nworkers; i++) {
			const orch_worker_config *worker = &config->workers[i];
			FUZZ_ASSERT(worker->name && worker->host &&
			            worker->source);
			FUZZ_ASSERT(worker->slots >= 1);
			FUZZ_ASSERT(orch_config_worker(config, worker->name) ==
			            worker);
		}
	} else {
		FUZZ_ASSERT(!config);
		FUZZ_ASSERT(orch_error_message() && *orch_error_message());
	}

	orch_config_free(config);
	for (size_t i = 0; i < w.count; i++)
		unlink(w.paths[i]);
	return 0;
}
