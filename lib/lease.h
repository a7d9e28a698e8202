#ifndef ORCH_LEASE_H
#define ORCH_LEASE_H

#include <stdint.h>

#include <git2.h>

#include "store.h"
#include "util.h"

/*
 * Leases and locks: refs/orchestrate/locks/<plan>/<name> pointing to a blob
 * that says who holds it and until when. Created atomically (fails if it
 * exists), renewed and released by compare-and-swap.
 */
typedef struct {
	char *host;  /* hostname of the owner */
	int pid;     /* owner process */
	char *token; /* random id of the owning orchestrator run */
	int64_t expires_ms;
	char *task;   /* task id, or NULL for a file lock */
	char *worker; /* where the task runs, or NULL */
	int attempt;
	char *locator; /* where the worker finds the attempt (opaque), or NULL;
	                  leases of older versions have none */
} orch_lease;

#define ORCH_LEASE_TTL_MS 60000
#define ORCH_LEASE_RENEW_MS 20000

void orch_lease_clear(orch_lease *lease);
/* JSON of a lease (the blob its ref points to). free() the result. */
char *orch_lease_to_json(const orch_lease *lease);
/* Parse a lease; *out is overwritten (not freed): pass it zeroed or cleared. */
int orch_lease_from_json(orch_lease *out, const char *json, size_t len);

/*
 * Take lease `name` (e.g. "task/auth-api") of `plan`. ORCH_ELOCKED when
 * held: the message says by whom (host, pid) and until when. *out_oid gets
 * the lease's object, needed to renew and release.
 */
int orch_lease_acquire(git_oid *out_oid, orch_store *store, const char *plan,
                       const char *name, const orch_lease *lease);
/* Replace our lease (held as `held`) with `lease`; ORCH_EMODIFIED if lost. */
int orch_lease_renew(git_oid *held, orch_store *store, const char *plan,
                     const char *name, const orch_lease *lease);
/* Delete our lease if it is still `held`; ORCH_EMODIFIED if not. */
int orch_lease_release(orch_store *store, const char *plan, const char *name,
                       const git_oid *held);
/* Read a lease; ORCH_ENOTFOUND if none. *out_oid (may be NULL) its object. */
int orch_lease_read(orch_lease *out, git_oid *out_oid, orch_store *store,
                    const char *plan, const char *name);
/*
 * Break a lease seen as `seen` (expired, or owner dead): take it over with
 * `lease` by CAS, or delete it when `lease` is NULL. ORCH_EMODIFIED if it
 * changed since it was read.
 */
int orch_lease_break(git_oid *out_oid, orch_store *store, const char *plan,
                     const char *name, const git_oid *seen,
                     const orch_lease *lease);
/* Names (relative to the plan's lock dir, e.g. "task/x") of held leases. */
int orch_lease_list(orch_strvec *out, orch_store *store, const char *plan);

/* *out = the running tasks of `worker`, counted from every plan's leases. */
int orch_lease_count_worker(int *out, orch_store *store, const char *worker);

#endif
