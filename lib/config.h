#ifndef ORCH_CONFIG_H
#define ORCH_CONFIG_H

#include "plan.h"
#include "util.h"

/*
 * Worker configuration (SPEC 4): orchestrate.ini at the top of the work
 * tree, then $GIT_DIR/orchestrate.ini, then --config FILE; later files
 * override earlier ones key by key within the same [worker "name"].
 */

typedef enum {
	ORCH_HOSTKEY_STRICT = 0,
	ORCH_HOSTKEY_ACCEPT_NEW = 1
} orch_hostkey_check;

typedef struct {
	char *name;
	char *host;        /* "local" for this machine */
	char *user;        /* or NULL */
	int port;          /* 0: default (22 or ~/.ssh/config) */
	char *identity;    /* or NULL */
	char *known_hosts; /* or NULL: ~/.ssh/known_hosts */
	orch_hostkey_check host_key_check;
	int slots; /* when not set: orch_worker_default_slots */
	orch_strvec capabilities;
	char *workdir;   /* or NULL: ~/.cache/git-orchestrate */
	char *remote;    /* or NULL: objects over the SSH session */
	orch_strvec env; /* names of variables set for its tasks */
	char *env_file;  /* KEY=VALUE file on the worker, or NULL */
	char *source;    /* file:line where it was defined */
} orch_worker_config;

typedef struct {
	orch_worker_config *workers;
	size_t nworkers;
} orch_config;

/*
 * Read the configuration files that exist among `paths` (NULL-terminated,
 * in order; a missing file is skipped unless it is `required`, the
 * --config one). ORCH_EINVALID with "FILE:LINE: ..." on bad input. When no
 * worker is configured, one local worker named "local" with as many slots
 * as CPUs is added. Caller frees with orch_config_free.
 */
int orch_config_load(orch_config **out, const char **paths,
                     const char *required);

const orch_worker_config *orch_config_worker(const orch_config *config,
                                             const char *name);
int orch_worker_is_local(const orch_worker_config *worker);
void orch_config_free(orch_config *config);

/*
 * ORCH_EINVALID, naming the plan file, line, task and capability, when a
 * task of `plan` needs a capability no worker of `config` has.
 */
int orch_config_check_needs(const orch_config *config, const orch_plan *plan);

#endif
