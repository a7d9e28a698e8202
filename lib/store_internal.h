#ifndef ORCH_STORE_INTERNAL_H
#define ORCH_STORE_INTERNAL_H

/*
 * What the modules that keep their refs beside the store's (leases, notes)
 * share with store.c: ref names, compare-and-swap retries, blob reading.
 * Not for the rest of lib/.
 */

#include <git2.h>

#include "store.h"
#include "trash.h"
#include "util.h"

#define ORCH_STORE_LOCKS_PREFIX "refs/orchestrate/locks/"
#define ORCH_STORE_REFNAME_MAX 512
/* A lost race is retried this many times before giving up. */
#define ORCH_STORE_CAS_TRIES 200

/* ORCH_EINVALID with a message and hint unless `plan` is a valid name. */
int orch_store_check_plan_name(const char *plan);

/* 1 when a libgit2 error means another process changed or held the ref. */
int orch_store_is_race(int git_error);

/* Sleep 1..N ms after the `tries`-th lost race, N growing up to 20. */
void orch_store_backoff(orch_store *store, int tries);

/*
 * After GIT_ELOCKED on `refname`: remove its lock file, or packed-refs.lock,
 * if it was left by a process killed while holding it. Returns 1 when a
 * stale lock was removed.
 */
int orch_store_clear_stale_lock(orch_store *store, const char *refname);

/* Before `refname` is replaced or deleted: see orch_store_keep_replaced. */
void orch_store_keep_ref(orch_store *store, const char *refname);

/* Append the content of blob `oid` to *out; errors name `what`. */
int orch_store_read_blob(orch_buf *out, git_repository *repo,
                         const git_oid *oid, const char *what);

/*
 * Append the names of the refs under `prefix` (without it), sorted; with
 * `nested`, names below subdirectories too ("task/x").
 */
int orch_store_list_refs(orch_strvec *out, orch_store *store,
                         const char *prefix, int nested);

/*
 * Objects written during a run go into packs (store_pack.c): the packer
 * records the objects written loose through the repository and packs them.
 */
typedef struct orch_packer orch_packer;
int orch_packer_new(orch_packer **out, git_repository *repo);
void orch_packer_free(orch_packer *pk);
/* Where the packer puts what it is done with (trash.h). */
orch_trash *orch_packer_trash(orch_packer *pk);
/* For tests: pack every `objects` objects, merge every `fanin` packs. */
void orch_packer_set_limits(orch_packer *pk, size_t objects, size_t fanin);
/* Pack what was recorded: always with `force`, else once there is enough. */
int orch_packer_pack(orch_packer *pk, int force);
/* Pack what was recorded, then merge this packer's first-level packs into
 * one (larger ones stay). */
int orch_packer_finish(orch_packer *pk);
/* Pack the objects written so far once there are enough (orch_packer_pack). */
void orch_store_pack_some(orch_store *store);

/*
 * The states cache (store_cache.c): the parsed states of a plan's tasks
 * tree `tasks` beside the repository, for readers of every state. A copy
 * only: used when made from the same tree and the same task ids.
 */
/* 64-bit hash of the plan's task ids in order (part of the cache's key). */
uint64_t orch_states_cache_ids_hash(const orch_plan *plan);
/*
 * 1 when the cache of `plan_name` was made from tree `tasks` for `plan`'s
 * tasks: states[i] is then each task's state and have[i] (zeroed by the
 * caller) says which tasks have a state file. 0 otherwise (have[] all 0,
 * states[] to be read again). Sets no error.
 */
int orch_states_cache_read(orch_task_state *states, unsigned char *have,
                           git_repository *repo, const char *plan_name,
                           const orch_plan *plan, const git_oid *tasks);
/*
 * Write the cache of `plan_name`: the states of tree `tasks`, states[i]
 * for each task with have[i]. A cache that cannot be written is left out
 * (no error).
 */
void orch_states_cache_write(git_repository *repo, const char *plan_name,
                             const orch_plan *plan, const git_oid *tasks,
                             const orch_task_state *states,
                             const unsigned char *have);
/* Remove the cache of `plan_name`, if any. */
void orch_states_cache_remove(git_repository *repo, const char *plan_name);

#endif
