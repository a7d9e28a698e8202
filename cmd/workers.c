/*
 * git orchestrate workers [--json]: the configured workers, their slots,
 * capabilities and current load (running tasks, from the leases).
 * git orchestrate workers check [--json]: reach each one as a run would.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cmd.h"
#include "lease.h"
#include "util.h"
#include "worker.h"
#include "synopsis.h"

static const char workers_usage[] = SYNOPSIS_WORKERS;

/* Running tasks per worker, counted from the leases of every plan. */
static int worker_load(orch_cli *cli, const char *worker)
{
	int load = 0;
	if (orch_lease_count_worker(&load, cli->store, worker) < 0)
		orch_error_clear();
	return load;
}

static void join_caps(orch_buf *out, const orch_strvec *caps)
{
	for (size_t i = 0; i < caps->count; i++)
		orch_buf_printf(out, "%s%s", i ? "," : "", caps->items[i]);
	if (!caps->count)
		orch_buf_puts(out, "-");
}

static int list_workers(orch_cli *cli, const orch_config *config, int json)
{
	cJSON *root = NULL, *arr = NULL;

	if (json) {
		root = cJSON_CreateObject();
		arr = cJSON_AddArrayToObject(root, "workers");
	} else {
		printf("%-16s %-28s %5s %4s  %s\n", "WORKER", "HOST", "SLOTS",
		       "LOAD", "CAPABILITIES");
	}
	for (size_t i = 0; i < config->nworkers; i++) {
		const orch_worker_config *w = &config->workers[i];
		const orch_worker_kind *kind = orch_worker_kind_of(w);
		int load = worker_load(cli, w->name), slots = w->slots;
		orch_buf host = {0}, caps = {0};

		kind->address(&host, w);
		if (json) {
			cJSON *o = cJSON_CreateObject(),
			      *c = cJSON_AddArrayToObject(o, "capabilities");
			cJSON_AddStringToObject(o, "name", w->name);
			cJSON_AddStringToObject(o, "kind", kind->name);
			cJSON_AddStringToObject(o, "host", host.ptr);
			cJSON_AddNumberToObject(o, "slots", slots);
			cJSON_AddNumberToObject(o, "running", load);
			for (size_t k = 0; k < w->capabilities.count; k++)
				cJSON_AddItemToArray(
				    c, cJSON_CreateString(
				           w->capabilities.items[k]));
			if (w->workdir)
				cJSON_AddStringToObject(o, "workdir",
				                        w->workdir);
			if (w->remote)
				cJSON_AddStringToObject(o, "remote", w->remote);
			cJSON_AddItemToArray(arr, o);
		} else {
			join_caps(&caps, &w->capabilities);
			printf("%-16s %-28s %5d %4d  %s\n", w->name, host.ptr,
			       slots, load, caps.ptr);
		}
		orch_buf_free(&host);
		orch_buf_free(&caps);
	}
	if (json) {
		char *text = cJSON_Print(root);
		printf("%s\n", text);
		cJSON_free(text);
		cJSON_Delete(root);
	}
	return ORCH_EXIT_OK;
}

/* The facts of a check report, as JSON members of `o`. */
static void facts_to_json(cJSON *o, const orch_worker_check_report *rep)
{
	for (size_t k = 0; k < rep->nfacts; k++) {
		const orch_worker_fact *f = &rep->facts[k];
		if (!f->key)
			continue;
		if (f->type == ORCH_FACT_BOOL)
			cJSON_AddBoolToObject(o, f->key, f->number != 0);
		else if (f->type == ORCH_FACT_NUMBER)
			cJSON_AddNumberToObject(o, f->key, f->number);
		else
			cJSON_AddStringToObject(o, f->key, f->value);
	}
}

static int check_workers(orch_cli *cli, const orch_config *config, int json)
{
	cJSON *root = NULL, *arr = NULL;
	int unusable = 0;

	if (json) {
		root = cJSON_CreateObject();
		arr = cJSON_AddArrayToObject(root, "workers");
	}
	for (size_t i = 0; i < config->nworkers; i++) {
		const orch_worker_config *w = &config->workers[i];
		const orch_worker_kind *kind = orch_worker_kind_of(w);
		orch_worker_check_report rep;
		char message[1200] = "", hint[600] = "";
		int error;

		error = kind->check(&rep, w, cli->repo);
		if (error < 0) {
			unusable++;
			snprintf(message, sizeof(message), "%s",
			         orch_error_message());
			if (orch_error_hint_text())
				snprintf(hint, sizeof(hint), "%s",
				         orch_error_hint_text());
			orch_error_clear();
		}
		if (json) {
			cJSON *o = cJSON_CreateObject();
			cJSON_AddStringToObject(o, "name", w->name);
			cJSON_AddStringToObject(o, "kind", kind->name);
			cJSON_AddBoolToObject(o, "ok", error == 0);
			facts_to_json(o, &rep);
			if (error < 0)
				cJSON_AddStringToObject(o, "error", message);
			if (hint[0])
				cJSON_AddStringToObject(o, "hint", hint);
			cJSON_AddItemToArray(arr, o);
			orch_worker_check_clear(&rep);
			continue;
		}
		printf("%s: %s (%s)\n", w->name, error == 0 ? "ok" : "UNUSABLE",
		       rep.summary ? rep.summary : "");
		for (size_t k = 0; k < rep.nfacts; k++) {
			const orch_worker_fact *f = &rep.facts[k];
			char label[64];
			if (!f->label)
				continue;
			snprintf(label, sizeof(label), "%s:", f->label);
			printf("  %-11s%s\n", label,
			       f->shown ? f->shown : f->value);
		}
		if (error < 0) {
			fprintf(stderr, "error: %s\n", message);
			if (hint[0])
				fprintf(stderr, "hint: %s\n", hint);
		}
		orch_worker_check_clear(&rep);
	}
	if (json) {
		char *text;
		cJSON_AddBoolToObject(root, "ok", unusable == 0);
		text = cJSON_Print(root);
		printf("%s\n", text);
		cJSON_free(text);
		cJSON_Delete(root);
	}
	return unusable ? ORCH_EXIT_FAILED : ORCH_EXIT_OK;
}

int cmd_workers(int argc, char **argv, orch_cli *cli)
{
	orch_config *config = NULL;
	int json = 0, check = 0, error, status;

	if (cli_wants_help(argc, argv, workers_usage))
		return ORCH_EXIT_OK;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			json = 1;
		else if (!strcmp(argv[i], "check") && !check)
			check = 1;
		else
			return cli_usage_error(
			    workers_usage, "unknown argument '%s'", argv[i]);
	}
	if ((error = cli_open(cli)) < 0)
		return cli_fail(error);
	if ((error = cli_load_config(&config, cli)) < 0)
		return cli_fail(error);
	status = check ? check_workers(cli, config, json)
	               : list_workers(cli, config, json);
	orch_config_free(config);
	return status;
}
