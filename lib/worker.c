/* The worker interface: choosing an implementation, and shared fields. */
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "worker.h"

int orch_worker_open(orch_worker **out, const orch_worker_config *config,
                     git_repository *repo, const char *token)
{
	*out = NULL;
	if (orch_worker_is_local(config))
		return orch_worker_local_new(out, config, repo, token);
	return orch_worker_ssh_new(out, config, repo, token);
}

int orch_worker_can_run(const orch_worker *worker, const orch_strvec *needs)
{
	for (size_t i = 0; i < needs->count; i++)
		if (!orch_strvec_contains(&worker->capabilities,
		                          needs->items[i]))
			return 0;
	return 1;
}

void orch_worker_base_init(orch_worker *worker, const orch_worker_ops *ops,
                           const orch_worker_config *config, int default_slots)
{
	memset(worker, 0, sizeof(*worker));
	worker->ops = ops;
	worker->name = orch_strdup(config->name);
	worker->slots = config->slots > 0 ? config->slots : default_slots;
	for (size_t i = 0; i < config->capabilities.count; i++)
		orch_strvec_push(&worker->capabilities,
		                 config->capabilities.items[i]);
}

void orch_worker_base_clear(orch_worker *worker)
{
	free(worker->name);
	worker->name = NULL;
	orch_strvec_free(&worker->capabilities);
}
