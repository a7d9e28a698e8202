/* The worker interface: choosing a kind, shared fields, check reports. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "worker.h"

const orch_worker_kind *orch_worker_kind_of(const orch_worker_config *config)
{
	if (orch_worker_is_local(config))
		return &orch_worker_local_kind;
	return &orch_worker_ssh_kind;
}

int orch_worker_default_slots(const orch_worker_config *config)
{
	return orch_worker_kind_of(config)->default_slots();
}

int orch_worker_open(orch_worker **out, const orch_worker_config *config,
                     git_repository *repo, const char *token, int jobs)
{
	orch_worker *worker = NULL;
	int error;

	*out = NULL;
	if ((error = orch_worker_kind_of(config)->open(&worker, config, repo,
	                                               token, jobs)) < 0)
		return error;
	if (worker->ops->ready && (error = worker->ops->ready(worker)) < 0) {
		worker->ops->close(worker);
		return error;
	}
	*out = worker;
	return 0;
}

int orch_worker_open_all(orch_worker ***out,
                         const orch_worker_config *const *configs, size_t count,
                         git_repository *repo, const char *token, int jobs)
{
	orch_worker **workers = orch_calloc(count + 1, sizeof(*workers));
	int error = 0;

	*out = NULL;
	for (size_t i = 0; i < count && error == 0; i++)
		error = orch_worker_kind_of(configs[i])
		            ->open(&workers[i], configs[i], repo, token, jobs);
	for (size_t i = 0; i < count && error == 0; i++)
		if (workers[i]->ops->ready)
			error = workers[i]->ops->ready(workers[i]);
	if (error < 0) {
		for (size_t i = 0; i < count; i++)
			if (workers[i])
				workers[i]->ops->close(workers[i]);
		free(workers);
		return error;
	}
	*out = workers;
	return 0;
}

int orch_worker_set_branch(git_reference **out, git_repository *repo,
                           const char *branch, const git_oid *id,
                           const char *why)
{
	int error = git_reference_create(out, repo, branch, id, 1, why);

	if (error == GIT_ELOCKED) {
		orch_buf lock = {0};
		orch_buf_printf(&lock, "%s%s.lock",
		                git_repository_commondir(repo), branch);
		if (unlink(lock.ptr) == 0)
			error =
			    git_reference_create(out, repo, branch, id, 1, why);
		orch_buf_free(&lock);
	}
	if (error < 0)
		return orch_error_git(error, "cannot create branch '%s'",
		                      branch);
	return 0;
}

int orch_worker_start_branch(git_reference **out, git_repository *repo,
                             const char *branch, const git_oid *base)
{
	return orch_worker_set_branch(out, repo, branch, base,
	                              "orchestrate: start attempt");
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
                           const orch_worker_config *config)
{
	memset(worker, 0, sizeof(*worker));
	worker->ops = ops;
	worker->name = orch_strdup(config->name);
	worker->slots = config->slots > 0 ? config->slots
	                                  : orch_worker_default_slots(config);
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

static orch_worker_fact *add_fact(orch_worker_check_report *report,
                                  const char *key, const char *label,
                                  orch_fact_type type)
{
	orch_worker_fact *fact;

	report->facts = orch_realloc(report->facts, (report->nfacts + 1) *
	                                                sizeof(*report->facts));
	fact = &report->facts[report->nfacts++];
	memset(fact, 0, sizeof(*fact));
	fact->key = key;
	fact->label = label;
	fact->type = type;
	return fact;
}

void orch_worker_check_text(orch_worker_check_report *report, const char *key,
                            const char *label, const char *value,
                            const char *shown)
{
	orch_worker_fact *fact = add_fact(report, key, label, ORCH_FACT_TEXT);

	fact->value = orch_strdup(value ? value : "");
	fact->shown = shown ? orch_strdup(shown) : NULL;
}

void orch_worker_check_bool(orch_worker_check_report *report, const char *key,
                            int value)
{
	add_fact(report, key, NULL, ORCH_FACT_BOOL)->number = value ? 1 : 0;
}

void orch_worker_check_number(orch_worker_check_report *report, const char *key,
                              double value)
{
	add_fact(report, key, NULL, ORCH_FACT_NUMBER)->number = value;
}

void orch_worker_check_clear(orch_worker_check_report *report)
{
	if (!report)
		return;
	for (size_t i = 0; i < report->nfacts; i++) {
		free(report->facts[i].value);
		free(report->facts[i].shown);
	}
	free(report->facts);
	free(report->summary);
	memset(report, 0, sizeof(*report));
}
