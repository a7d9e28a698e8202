/*
 * git orchestrate workers [--json]: the configured workers, their slots,
 * capabilities and current load (running tasks, from the leases).
 * git orchestrate workers check [--json]: reach each one as a run would.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cmd.h"
#include "lease.h"
#include "ssh.h"
#include "util.h"

static const char workers_usage[] = "git orchestrate workers [check] [--json]";

/* Running tasks per worker, counted from the leases of every plan. */
static int worker_load(orch_cli *cli, const char *worker)
{
	orch_strvec plans = {0};
	int load = 0;

	if (orch_store_list_plans(&plans, cli->store) < 0) {
		orch_error_clear();
		return 0;
	}
	for (size_t p = 0; p < plans.count; p++) {
		orch_strvec leases = {0};
		if (orch_lease_list(&leases, cli->store, plans.items[p]) < 0) {
			orch_error_clear();
			continue;
		}
		for (size_t i = 0; i < leases.count; i++) {
			orch_lease lease = {0};
			if (strncmp(leases.items[i], "task/", 5) != 0)
				continue;
			if (orch_lease_read(&lease, NULL, cli->store,
			                    plans.items[p],
			                    leases.items[i]) == 0 &&
			    lease.worker && !strcmp(lease.worker, worker))
				load++;
			orch_lease_clear(&lease);
		}
		orch_strvec_free(&leases);
	}
	orch_strvec_free(&plans);
	return load;
}

static int local_slots(const orch_worker_config *w)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	if (w->slots > 0)
		return w->slots;
	if (orch_worker_is_local(w))
		return cpus > 0 ? (int)cpus : 1;
	return 1;
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
		int load = worker_load(cli, w->name), slots = local_slots(w);
		orch_buf host = {0}, caps = {0};

		if (orch_worker_is_local(w)) {
			orch_buf_puts(&host, "local");
		} else {
			if (w->user)
				orch_buf_printf(&host, "%s@", w->user);
			orch_buf_puts(&host, w->host);
			if (w->port > 0)
				orch_buf_printf(&host, ":%d", w->port);
		}
		if (json) {
			cJSON *o = cJSON_CreateObject(),
			      *c = cJSON_AddArrayToObject(o, "capabilities");
			cJSON_AddStringToObject(o, "name", w->name);
			cJSON_AddStringToObject(
			    o, "kind",
			    orch_worker_is_local(w) ? "local" : "ssh");
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
		orch_ssh_check_report rep;
		char message[1200] = "", hint[600] = "";
		int error = 0;

		memset(&rep, 0, sizeof(rep));
		if (orch_worker_is_local(w)) {
			if (json) {
				cJSON *o = cJSON_CreateObject();
				cJSON_AddStringToObject(o, "name", w->name);
				cJSON_AddStringToObject(o, "kind", "local");
				cJSON_AddBoolToObject(o, "ok", 1);
				cJSON_AddItemToArray(arr, o);
			} else {
				printf("%s: ok (local, %d slots)\n", w->name,
				       local_slots(w));
			}
			continue;
		}
		error = orch_ssh_check_worker(&rep, w, cli->repo);
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
			cJSON_AddStringToObject(o, "kind", "ssh");
			cJSON_AddBoolToObject(o, "ok", error == 0);
			cJSON_AddStringToObject(o, "address", rep.address);
			cJSON_AddBoolToObject(o, "reachable",
			                      rep.connected ||
			                          rep.ssh.fingerprint[0]);
			cJSON_AddBoolToObject(o, "authenticated",
			                      rep.connected);
			if (rep.ssh.fingerprint[0]) {
				cJSON_AddStringToObject(o, "host_key_type",
				                        rep.ssh.key_type);
				cJSON_AddStringToObject(o, "host_key",
				                        rep.ssh.fingerprint);
				cJSON_AddBoolToObject(o, "host_key_added",
				                      rep.ssh.key_added);
			}
			if (rep.connected)
				cJSON_AddStringToObject(o, "auth",
				                        rep.ssh.auth);
			if (rep.git_version[0])
				cJSON_AddStringToObject(o, "git",
				                        rep.git_version);
			if (rep.sh[0])
				cJSON_AddStringToObject(o, "sh", rep.sh);
			if (rep.workdir[0])
				cJSON_AddStringToObject(o, "workdir",
				                        rep.workdir);
			if (rep.free_kb >= 0)
				cJSON_AddNumberToObject(o, "free_kb",
				                        (double)rep.free_kb);
			if (error < 0)
				cJSON_AddStringToObject(o, "error", message);
			if (hint[0])
				cJSON_AddStringToObject(o, "hint", hint);
			cJSON_AddItemToArray(arr, o);
			continue;
		}
		printf("%s: %s (%s)\n", w->name, error == 0 ? "ok" : "UNUSABLE",
		       rep.address);
		if (rep.ssh.fingerprint[0])
			printf("  host key:  %s %s%s\n", rep.ssh.key_type,
			       rep.ssh.fingerprint,
			       rep.ssh.key_added ? " (new: recorded)"
			       : error == 0 || rep.connected ? " (known)"
			                                     : "");
		if (rep.connected)
			printf("  auth:      %s\n", rep.ssh.auth);
		if (rep.sh[0])
			printf("  sh:        %s\n", rep.sh);
		if (rep.git_version[0])
			printf("  git:       %s\n", rep.git_version);
		if (rep.workdir[0]) {
			printf("  workdir:   %s", rep.workdir);
			if (rep.free_kb >= 0)
				printf(" (%.1f GiB free)",
				       (double)rep.free_kb / (1024.0 * 1024.0));
			printf("\n");
		}
		if (error < 0) {
			fprintf(stderr, "error: %s\n", message);
			if (hint[0])
				fprintf(stderr, "hint: %s\n", hint);
		}
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
