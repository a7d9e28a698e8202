#ifndef ORCH_HOOK_H
#define ORCH_HOOK_H

#include <stddef.h>

#include <git2.h>

#include "store.h"
#include "util.h"

/*
 * The hooks of a hub (SPEC 8): what `git orchestrate hook post-receive` and
 * `hook pre-receive` decide about the ref updates git gives them on stdin,
 * and the installation of the shims that call them.
 *
 * Nothing here prints: what the hook has to say goes through a report
 * callback, one message at a time, and cmd/hook.c prints it on stderr
 * (git shows it to the pusher as "remote: ...").
 */

/* One "<old> <new> <ref>" line of a receive hook's stdin. */
typedef struct {
	git_oid old_oid; /* zero: the ref is created */
	git_oid new_oid; /* zero: the ref is deleted */
	char *ref;
} orch_hook_update;

typedef struct {
	orch_hook_update *items;
	size_t count;
} orch_hook_updates;

/*
 * Parse a receive hook's stdin (`len` bytes of `text`): one update a line,
 * blank lines skipped. ORCH_EINVALID, naming the first bad line and what is
 * wrong with it, when any line is not "<oid> <oid> <refname>": then *out is
 * left empty. Free *out with orch_hook_updates_free.
 */
int orch_hook_parse(orch_hook_updates *out, const char *text, size_t len);
void orch_hook_updates_free(orch_hook_updates *updates);

/*
 * Is `ref` a task result, refs/heads/orchestrate/<plan>/<task> with a valid
 * plan name and task id? Returns 1 with *out_plan and *out_task (malloc'd),
 * 0 when it is some other ref (both NULL).
 */
int orch_hook_task_ref(char **out_plan, char **out_task, const char *ref);

/*
 * The paths of `paths` that no glob of `files` (a task's declared files)
 * covers, appended to *out in their order. A glob naming a directory covers
 * what is below it, as for the overlap of declared files.
 */
void orch_hook_outside_files(orch_strvec *out, const orch_strvec *paths,
                             const orch_strvec *files);

/* How a message is shown: "orchestrate: ", "warning: " or "error: ". */
typedef enum {
	ORCH_HOOK_INFO = 0,
	ORCH_HOOK_WARNING,
	ORCH_HOOK_ERROR
} orch_hook_level;

/* Receives each message of a hook (borrowed for the call). */
typedef void (*orch_hook_report_fn)(orch_hook_level level, const char *message,
                                    void *payload);

/* The hub's orchestrate.declaredFiles policy. */
typedef enum {
	ORCH_DECLARED_WARN = 0, /* the default */
	ORCH_DECLARED_REFUSE
} orch_declared_policy;

/*
 * Read orchestrate.declaredFiles from the configuration of `repo` into
 * *out: unset is warn. ORCH_EINVALID naming the value for anything but
 * `warn` or `refuse`.
 */
int orch_hook_declared_policy(orch_declared_policy *out, git_repository *repo);

/*
 * pre-receive: check `updates` against the refs and objects of `repo`
 * (opened from the hook's environment, so that it sees the pushed objects
 * in the quarantine). Refused, each reported with the ref: a deletion of a
 * ref under refs/orchestrate/ other than refs/orchestrate/locks/, an update
 * there that is not a fast-forward, a plan ref whose new commit has no
 * plan.json that parses; with the `refuse` policy, a task result changing
 * paths outside the task's declared files (with `warn` these are warnings).
 * *out_refused gets the number of refused updates. Errors only when the
 * check itself could not be made.
 */
int orch_hook_pre_receive(size_t *out_refused, git_repository *repo,
                          const orch_hook_updates *updates,
                          orch_hook_report_fn report, void *payload);

/*
 * post-receive: for each pushed task result of a plan stored in `store`,
 * record the task done with the pushed commit (one store update, CAS and
 * retried), note the commit as a runner does, and with `merge = auto` merge
 * it into the plan's base branch (orch_merge_task: verify, and the base
 * kept as it was when verify fails), dependencies first. What cannot be
 * done (unknown plan or task, a task done with another commit, a failed
 * merge) is reported and changes nothing; other refs are ignored. Returns
 * 0, or an error only when the store itself could not be read.
 */
int orch_hook_post_receive(orch_store *store, const orch_hook_updates *updates,
                           orch_hook_report_fn report, void *payload);

/* ---- installation --------------------------------------------------------
 */

/* Name of the file a hook that was already installed is kept under. */
#define ORCH_HOOK_KEPT_SUFFIX ".pre-orchestrate"

/*
 * The text of the shim for hook `name` ("post-receive" or "pre-receive"),
 * the same bytes as hooks/<name> in the source tree; NULL for another
 * name. Static: do not free.
 */
const char *orch_hook_shim(const char *name);

/* What orch_hook_install did with one hook. */
typedef enum {
	ORCH_HOOK_INSTALLED = 0, /* there was none: the shim is installed */
	ORCH_HOOK_KEPT,     /* another hook was there: renamed, runs first */
	ORCH_HOOK_UPDATED,  /* an older shim of ours was replaced */
	ORCH_HOOK_UNCHANGED /* the shim is there already */
} orch_hook_install_action;

/*
 * The hooks directory of `repo`: core.hooksPath when set (relative to the
 * work tree, or to the git directory of a bare repository, as git takes
 * it), else <common git dir>/hooks. *out is malloc'd.
 */
int orch_hook_dir(char **out, git_repository *repo);

/*
 * Install the shim of hook `name` into directory `dir` (created if
 * missing). A hook already there that is not our shim is renamed to
 * <name>.pre-orchestrate, which the shim runs first with the same input;
 * ORCH_EEXISTS (nothing changed) when that name is taken already. The
 * shim is written to a temporary file and renamed into place.
 */
int orch_hook_install(orch_hook_install_action *out, const char *dir,
                      const char *name);

#endif
