/*
 * Worker configuration: [worker "NAME"] sections from several files, read
 * through ini_reader; a later file overrides an earlier one key by key.
 * No worker key is free text: host, user and host-key-check are names, port
 * and slots numbers, capabilities and env lists, and identity, known-hosts,
 * workdir, remote and env-file paths or URLs, which the documented example
 * follows with a comment. So every value may end in an inline comment
 * (whitespace, then ';' or '#'); a path with " ;" or " #" in it cannot be
 * written here.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "ini_reader.h"
#include "worker.h"

#define MAX_SLOTS 4096

enum worker_key {
	KEY_HOST,
	KEY_USER,
	KEY_PORT,
	KEY_IDENTITY,
	KEY_KNOWN_HOSTS,
	KEY_HOST_KEY_CHECK,
	KEY_SLOTS,
	KEY_CAPABILITIES,
	KEY_WORKDIR,
	KEY_REMOTE,
	KEY_ENV,
	KEY_ENV_FILE,
	KEY_COUNT
};

static const char *worker_keys[KEY_COUNT] = {
    [KEY_HOST] = "host",
    [KEY_USER] = "user",
    [KEY_PORT] = "port",
    [KEY_IDENTITY] = "identity",
    [KEY_KNOWN_HOSTS] = "known-hosts",
    [KEY_HOST_KEY_CHECK] = "host-key-check",
    [KEY_SLOTS] = "slots",
    [KEY_CAPABILITIES] = "capabilities",
    [KEY_WORKDIR] = "workdir",
    [KEY_REMOTE] = "remote",
    [KEY_ENV] = "env",
    [KEY_ENV_FILE] = "env-file",
};

struct config_loader {
	orch_config *config;
	size_t alloc;
	const char *path;
	long worker;         /* position of the current worker, -1 before */
	int seen[KEY_COUNT]; /* line of each key in the current section */
	int *slots_set;      /* per worker: slots given in some file */
};

static void worker_clear(orch_worker_config *worker)
{
	free(worker->name);
	free(worker->host);
	free(worker->user);
	free(worker->identity);
	free(worker->known_hosts);
	orch_strvec_free(&worker->capabilities);
	free(worker->workdir);
	free(worker->remote);
	orch_strvec_free(&worker->env);
	free(worker->env_file);
	free(worker->source);
}

void orch_config_free(orch_config *config)
{
	if (!config)
		return;
	for (size_t i = 0; i < config->nworkers; i++)
		worker_clear(&config->workers[i]);
	free(config->workers);
	free(config);
}

const orch_worker_config *orch_config_worker(const orch_config *config,
                                             const char *name)
{
	for (size_t i = 0; i < config->nworkers; i++)
		if (!strcmp(config->workers[i].name, name))
			return &config->workers[i];
	return NULL;
}

int orch_worker_is_local(const orch_worker_config *worker)
{
	return worker->host && !strcmp(worker->host, "local");
}

static orch_worker_config *add_worker(struct config_loader *ld,
                                      const char *name, char *source)
{
	orch_config *config = ld->config;
	orch_worker_config *worker;

	if (config->nworkers == ld->alloc) {
		ld->alloc = ld->alloc ? ld->alloc * 2 : 4;
		config->workers = orch_realloc(
		    config->workers, ld->alloc * sizeof(*config->workers));
		ld->slots_set =
		    orch_realloc(ld->slots_set, ld->alloc * sizeof(int));
	}
	ld->slots_set[config->nworkers] = 0;
	worker = &config->workers[config->nworkers++];
	memset(worker, 0, sizeof(*worker));
	worker->name = orch_strdup(name);
	worker->host_key_check = ORCH_HOSTKEY_STRICT;
	worker->slots = 1;
	worker->source = source;
	return worker;
}

static int loader_section(const char *section, int line, void *payload)
{
	struct config_loader *ld = payload;
	char *name = NULL, *source = NULL;
	int error;

	error = orch_ini_section_name(&name, section, "worker", "worker name",
	                              ld->path, line);
	if (error == 1) {
		orch_error_set("%s:%d: unknown section '[%s]'", ld->path, line,
		               section);
		orch_error_hint(
		    "worker configuration has [worker \"NAME\"] sections");
		return ORCH_EINVALID;
	}
	if (error < 0)
		return error;
	ld->worker = -1;
	for (size_t i = 0; i < ld->config->nworkers; i++)
		if (!strcmp(ld->config->workers[i].name, name))
			ld->worker = (long)i;
	if (ld->worker < 0) {
		orch_buf where = {0};
		orch_buf_printf(&where, "%s:%d", ld->path, line);
		source = orch_buf_detach(&where);
		add_worker(ld, name, source);
		ld->worker = (long)ld->config->nworkers - 1;
	}
	memset(ld->seen, 0, sizeof(ld->seen));
	free(name);
	return 0;
}

static int bad_value(const struct config_loader *ld, int line, const char *key,
                     const char *value, const char *hint)
{
	orch_error_set("%s:%d: bad %s '%s' for worker '%s'", ld->path, line,
	               key, value, ld->config->workers[ld->worker].name);
	orch_error_hint("%s", hint);
	return ORCH_EINVALID;
}

static int parse_number(long *out, const char *str, long min, long max)
{
	char *end;
	long value;

	if (!isdigit((unsigned char)*str))
		return -1;
	errno = 0;
	value = strtol(str, &end, 10);
	if (errno || *end || value < min || value > max)
		return -1;
	*out = value;
	return 0;
}

/* Add the names of an `env` value to the worker's, each checked. */
static int add_env_names(struct config_loader *ld, const char *value, int line)
{
	orch_worker_config *worker = &ld->config->workers[ld->worker];
	const char *problem;
	char hint[256], *bad;
	int error;

	if (orch_env_names_add(&worker->env, value, &bad, &problem) == 0)
		return 0;
	snprintf(hint, sizeof(hint), "%s; " ORCH_ENV_HINT, problem);
	error = bad_value(ld, line, "env name", bad, hint);
	free(bad);
	return error;
}

static void set_string(char **field, const char *value)
{
	free(*field);
	*field = orch_strdup(value);
}

static int set_value(struct config_loader *ld, enum worker_key key,
                     const char *value, int line)
{
	orch_worker_config *worker = &ld->config->workers[ld->worker];
	long number;

	if (!*value && key != KEY_CAPABILITIES && key != KEY_ENV)
		return bad_value(ld, line, worker_keys[key], value,
		                 "give a value, or leave the key out");
	switch (key) {
	case KEY_HOST:
		set_string(&worker->host, value);
		break;
	case KEY_USER:
		set_string(&worker->user, value);
		break;
	case KEY_PORT:
		if (parse_number(&number, value, 1, 65535) < 0)
			return bad_value(ld, line, "port", value,
			                 "port is a number from 1 to 65535");
		worker->port = (int)number;
		break;
	case KEY_IDENTITY:
		set_string(&worker->identity, value);
		break;
	case KEY_KNOWN_HOSTS:
		set_string(&worker->known_hosts, value);
		break;
	case KEY_HOST_KEY_CHECK:
		if (!strcmp(value, "strict")) {
			worker->host_key_check = ORCH_HOSTKEY_STRICT;
		} else if (!strcmp(value, "accept-new")) {
			worker->host_key_check = ORCH_HOSTKEY_ACCEPT_NEW;
		} else {
			return bad_value(ld, line, "host-key-check", value,
			                 "host-key-check is strict or "
			                 "accept-new (which records the key "
			                 "of a host never seen); host key "
			                 "checking cannot be turned off");
		}
		break;
	case KEY_SLOTS:
		if (parse_number(&number, value, 1, MAX_SLOTS) < 0)
			return bad_value(ld, line, "slots", value,
			                 "slots is how many tasks the worker "
			                 "runs at once: a number from 1 to "
			                 "4096");
		worker->slots = (int)number;
		ld->slots_set[ld->worker] = 1;
		break;
	case KEY_CAPABILITIES:
		orch_strvec_free(&worker->capabilities);
		orch_strvec_split(&worker->capabilities, value, ", \t");
		break;
	case KEY_WORKDIR:
		set_string(&worker->workdir, value);
		break;
	case KEY_REMOTE:
		set_string(&worker->remote, value);
		break;
	case KEY_ENV:
		/* a later file's env replaces an earlier one's */
		orch_strvec_free(&worker->env);
		return add_env_names(ld, value, line);
	case KEY_ENV_FILE:
		set_string(&worker->env_file, value);
		break;
	case KEY_COUNT:
		break;
	}
	return 0;
}

static int loader_value(const char *section, const char *name,
                        const char *value, int line, int continuation,
                        void *payload)
{
	struct config_loader *ld = payload;
	int key;

	(void)section;
	if (ld->worker < 0) {
		orch_error_set("%s:%d: key '%s' is outside any section",
		               ld->path, line, name);
		orch_error_hint("put worker settings under [worker \"NAME\"]");
		return ORCH_EINVALID;
	}
	for (key = 0; key < KEY_COUNT; key++)
		if (!strcmp(name, worker_keys[key]))
			break;
	if (key == KEY_COUNT) {
		orch_error_set("%s:%d: unknown key '%s' in worker '%s'",
		               ld->path, line, name,
		               ld->config->workers[ld->worker].name);
		orch_error_hint("a worker takes host, user, port, identity, "
		                "known-hosts, host-key-check, slots, "
		                "capabilities, workdir, remote, env, "
		                "env-file");
		return ORCH_EINVALID;
	}
	if (continuation) {
		if (key == KEY_CAPABILITIES) {
			orch_strvec_split(
			    &ld->config->workers[ld->worker].capabilities,
			    value, ", \t");
			return 0;
		}
		if (key == KEY_ENV)
			return add_env_names(ld, value, line);
		orch_error_set("%s:%d: '%s' of worker '%s' cannot continue on "
		               "an indented line",
		               ld->path, line, name,
		               ld->config->workers[ld->worker].name);
		orch_error_hint("only capabilities and env continue on "
		                "indented lines; unindent a new key");
		return ORCH_EINVALID;
	}
	if (ld->seen[key]) {
		orch_error_set("%s:%d: '%s' given twice for worker '%s' (first "
		               "on line %d)",
		               ld->path, line, name,
		               ld->config->workers[ld->worker].name,
		               ld->seen[key]);
		orch_error_hint("give each key once per section");
		return ORCH_EINVALID;
	}
	ld->seen[key] = line;
	return set_value(ld, (enum worker_key)key, value, line);
}

int orch_config_load(orch_config **out, const char **paths,
                     const char *required)
{
	struct config_loader ld = {0};
	int error = 0;

	*out = NULL;
	ld.config = orch_calloc(1, sizeof(*ld.config));
	for (size_t i = 0; paths && paths[i]; i++) {
		ld.path = paths[i];
		ld.worker = -1;
		/* no verbatim key: every value may end in an inline comment */
		error = orch_ini_parse(paths[i], loader_section, NULL,
		                       loader_value, &ld);
		if (error == ORCH_ENOTFOUND &&
		    !(required && !strcmp(required, paths[i]))) {
			error = 0;
			continue;
		}
		if (error == ORCH_ENOTFOUND) {
			orch_error_hint("--config names a worker configuration "
			                "file that must exist");
			error = ORCH_EINVALID;
		}
		if (error < 0)
			goto done;
	}
	for (size_t i = 0; i < ld.config->nworkers; i++) {
		orch_worker_config *worker = &ld.config->workers[i];
		if (!worker->host) {
			orch_error_set("%s: worker '%s' has no host",
			               worker->source, worker->name);
			orch_error_hint("set 'host = NAME' (an SSH host or "
			                "alias), or 'host = local' for this "
			                "machine");
			error = ORCH_EINVALID;
			goto done;
		}
		if (!ld.slots_set[i])
			worker->slots = orch_worker_default_slots(worker);
	}
	if (!ld.config->nworkers) {
		orch_worker_config *worker =
		    add_worker(&ld, "local", orch_strdup("(default)"));
		worker->host = orch_strdup("local");
		worker->slots = orch_worker_default_slots(worker);
	}
	*out = ld.config;
	ld.config = NULL;
done:
	orch_config_free(ld.config);
	free(ld.slots_set);
	return error;
}

/* Every `needs` must be offered by some configured worker. */
int orch_config_check_needs(const orch_config *config, const orch_plan *plan)
{
	for (size_t i = 0; i < plan->ntasks; i++) {
		const orch_task *task = &plan->tasks[i];
		for (size_t k = 0; k < task->needs.count; k++) {
			int found = 0;
			for (size_t w = 0; w < config->nworkers && !found; w++)
				found = orch_strvec_contains(
				    &config->workers[w].capabilities,
				    task->needs.items[k]);
			if (!found) {
				char where[512];
				orch_plan_task_where(where, sizeof(where), plan,
				                     task, "needs");
				orch_error_set(
				    "%s: task '%s' needs capability '%s', "
				    "which no configured worker has",
				    where, task->id, task->needs.items[k]);
				orch_error_hint(
				    "add it to a worker's 'capabilities' in "
				    "orchestrate.ini, or drop it from 'needs'");
				return ORCH_EINVALID;
			}
		}
	}
	return 0;
}
