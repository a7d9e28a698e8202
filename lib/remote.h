#ifndef ORCH_REMOTE_H
#define ORCH_REMOTE_H

#include <stddef.h>

#include <git2.h>

#include "util.h"

/*
 * Talking to a shared remote (SPEC 8): fetching refs and updating refs by
 * compare-and-swap. REMOTE is what `git fetch` takes: a configured remote's
 * name, a path or a URL (file://, ssh://).
 *
 * They run `git` (argv, never a shell): libgit2 has no push with an
 * expected old value (--force-with-lease), and fetching through the same git
 * keeps one transport, with the user's SSH configuration (aliases, keys,
 * known_hosts) for ssh:// remotes, for both directions. A remote that is a
 * repository on this machine without receive hooks is read and updated
 * in-process instead (remote_local.c), under the ref locks git takes: the
 * same compare-and-swap, without two processes per state change.
 */

/* One ref update of an atomic push. */
typedef struct {
	const char *refname;    /* on the remote */
	const git_oid *expect;  /* its value there now; NULL: must not exist */
	const git_oid *new_oid; /* object to set (local); NULL: delete */
	int force;              /* set whatever it is now (expect unused) */
} orch_remote_update;

/*
 * Push `updates` to `remote` atomically: all of them, each only if the
 * remote's value is still the expected one, or none. ORCH_EMODIFIED when
 * some expectation did not hold (nothing changed on the remote; the message
 * names the ref); ORCH_ERROR with git's words for anything else (remote
 * unreachable, object missing...).
 */
int orch_remote_push(git_repository *repo, const char *remote,
                     const orch_remote_update *updates, size_t count);

/*
 * Fetch `refspecs` (as git fetch takes them; "+" forces) from `remote`
 * into `repo`. ORCH_ERROR with git's words when it fails (a refspec whose
 * source the remote lacks fails: use globs for what may be absent).
 */
int orch_remote_fetch(git_repository *repo, const char *remote,
                      const orch_strvec *refspecs);

/*
 * Make the local refs under `prefix` (e.g. "refs/orchestrate/locks/p/") a
 * copy of the remote's: fetched by force, pruned where the remote has none.
 * `also` (may be NULL) is one more ref fetched by force in the same fetch,
 * so both come from one snapshot of the remote's refs.
 */
int orch_remote_mirror(git_repository *repo, const char *remote,
                       const char *prefix, const char *also);

/* A ref as the remote advertises it. */
typedef struct {
	char *name;
	git_oid oid;
} orch_remote_ref;

/*
 * The remote's refs matching `patterns` (as git ls-remote takes them, e.g.
 * "refs/orchestrate/locks/p/" followed by a star), into *out (*count; free with
 * orch_remote_refs_free).
 */
int orch_remote_list(orch_remote_ref **out, size_t *count, git_repository *repo,
                     const char *remote, const orch_strvec *patterns);
void orch_remote_refs_free(orch_remote_ref *refs, size_t count);

/*
 * Run `git --git-dir=<repo's common dir> ARGS...` with no stdin; *out gets
 * what it printed (stdout and stderr), *out_status its exit status.
 * ORCH_ERROR only when git could not be run.
 */
int orch_remote_git(orch_buf *out, int *out_status, git_repository *repo,
                    const char *const *args);

#endif
