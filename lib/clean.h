#ifndef ORCH_CLEAN_H
#define ORCH_CLEAN_H

#include "config.h"
#include "store.h"

/*
 * Tidying up after a plan (git orchestrate clean): leases nobody renews any
 * more, worktrees kept for failed attempts, branches of merged tasks. A task
 * that is running under a live lease is left alone.
 */

typedef struct {
	int worktrees; /* kept worktrees removed */
	int branches;  /* branches of merged tasks deleted */
	int locks;     /* stale leases and locks broken */
} orch_clean_counts;

/*
 * Clean plan `plan`; *out gets what was removed. A kept worktree is removed
 * by the kind of the worker of `config` (may be NULL) that kept it; one of
 * a worker no longer configured was kept on this machine. Slots kept for
 * the plan's failed attempts, on this machine and on the configured
 * workers whose kind lists them (SSH: each is reached), are removed too
 * when the state no longer names them (the task was retried since). A
 * worker that cannot be reached is an error naming it.
 */
int orch_clean_plan(orch_clean_counts *out, orch_store *store,
                    const orch_config *config, const char *plan);

#endif
