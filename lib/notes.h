#ifndef ORCH_NOTES_H
#define ORCH_NOTES_H

#include <stdint.h>

#include <git2.h>

#include "plan.h"
#include "store.h"

/*
 * Notes (refs/notes/orchestrate): text of `key: value` lines (plan, task,
 * worker, attempt, duration-ms, exit). Added by CAS with retry; replaces an
 * existing note on the same commit.
 */
int orch_notes_set(orch_store *store, const git_oid *commit, const char *text);
/* The notes texts[i] on commits[i] (i < count), in one notes commit. */
int orch_notes_set_each(orch_store *store, const git_oid *commits,
                        const char *const *texts, size_t count);
/* ORCH_ENOTFOUND when the commit has no note. Caller frees *out. */
int orch_notes_read(char **out, orch_store *store, const git_oid *commit);

/*
 * Learned durations: for each task of `plan`, the median of the durations
 * recorded in notes for the same task id, or -1 when none, into
 * `durations` (plan->ntasks entries).
 */
int orch_notes_learned_durations(int64_t *durations, orch_store *store,
                                 const orch_plan *plan);

#endif
