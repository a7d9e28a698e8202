#ifndef ORCH_REMOTE_LOCAL_H
#define ORCH_REMOTE_LOCAL_H

#include <git2.h>

#include "remote.h"
#include "util.h"

/*
 * The shared remote as a repository on this machine, read and updated
 * in-process (used by remote.c; see remote_local.c). Nothing here runs
 * hooks: a remote with receive hooks is never opened.
 */

/*
 * Open `remote` (a path, a file:// URL, or a configured remote whose URL is
 * one of those) when it is a repository on this machine without receive
 * hooks (nor core.hooksPath). ORCH_ENOTFOUND, with no message, otherwise:
 * then talk to it through git.
 */
int orch_remote_local_open(git_repository **out, git_repository *repo,
                           const char *remote);

/* orch_remote_push on an opened hub: same contract. */
int orch_remote_local_push(git_repository *hub, git_repository *repo,
                           const char *remote,
                           const orch_remote_update *updates, size_t count);

/*
 * orch_remote_fetch on an opened hub: `refspecs` as git fetch takes them
 * ("+" forces; a source without a destination fetches objects only). With
 * `prune_prefix`, local refs under it that the fetch did not write are
 * deleted (git fetch --prune for those refspecs).
 */
int orch_remote_local_fetch(git_repository *hub, git_repository *repo,
                            const char *remote, const orch_strvec *refspecs,
                            const char *prune_prefix);

/* orch_remote_list on an opened hub: same contract. */
int orch_remote_local_list(orch_remote_ref **out, size_t *count,
                           git_repository *hub, const orch_strvec *patterns);

#endif
