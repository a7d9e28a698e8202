#ifndef ORCH_SHARED_H
#define ORCH_SHARED_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"
#include "util.h"

/*
 * Shared discoveries (findings): what a task's attempt writes to
 * $ORCHESTRATE_SHARE_FILE (`git orchestrate share` appends to it) is stored
 * in the plan's state when the attempt ends, and every task that starts
 * later reads all of them in $ORCHESTRATE_CONTEXT_FILE.
 *
 * The share file: findings separated by blank lines (lines empty or of
 * blanks only); the lines of one finding are kept as they are. State tree:
 * shared/<task>.json (shared/<xx>/<task>.json above ORCH_STORE_FLAT_MAX
 * tasks, xx as for tasks/), one JSON object a line per finding, appended
 * to: an attempt's findings rewrite only its task's file.
 */

/* Bytes one attempt's share file may hold; a bigger one is not stored. */
#define ORCH_SHARED_MAX 65536

typedef struct {
	char *task;
	int attempt;
	char *worker;    /* where the attempt ran */
	int64_t time_ms; /* wall clock when it was stored */
	char *text;
} orch_finding;

typedef struct {
	orch_finding *items;
	size_t count;
} orch_findings;

void orch_findings_clear(orch_findings *findings);

/*
 * Split the content of a share file into the texts of its findings,
 * appended to *out. ORCH_EINVALID with a message naming `what` when it is
 * over ORCH_SHARED_MAX bytes or holds a NUL byte (nothing appended).
 */
int orch_shared_split(orch_strvec *out, const char *bytes, size_t len,
                      const char *what);

/*
 * Append finding `text` to the share file `path` (which must exist), as
 * `git orchestrate share` does: ORCH_EINVALID when the text is empty,
 * holds a blank line (it would be two findings) or would grow the file
 * over ORCH_SHARED_MAX; the file is then unchanged. Trailing newlines of
 * the text are not part of it.
 */
int orch_shared_append(const char *path, const char *text);

/*
 * In an update of the plan state: add `texts`, the findings of attempt
 * `attempt` of task `task` (run on `worker`), to shared/. Nothing when
 * there are none or that attempt's findings are stored already (an
 * attempt collected twice). *out_added (may be NULL) gets how many were
 * added.
 */
int orch_shared_put(size_t *out_added, orch_txn *txn, const char *task,
                    int attempt, const char *worker, int64_t now_ms,
                    const orch_strvec *texts);

/*
 * Every finding of plan `plan` at its head, oldest first (ties: by task,
 * then as stored). Free with orch_findings_clear.
 */
int orch_shared_read(orch_findings *out, orch_store *store, const char *plan);

/*
 * The context text of plan `plan` at its head, kept in `cache` (zero-init
 * first; orch_shared_cache_clear frees it) and made again only when the
 * shared/ tree changed: *out is borrowed from the cache.
 */
typedef struct {
	git_oid tree; /* of shared/ when `text` was made (zero: none) */
	int valid;
	char *text;
} orch_shared_cache;

int orch_shared_context(const char **out, orch_shared_cache *cache,
                        orch_store *store, const char *plan);
void orch_shared_cache_clear(orch_shared_cache *cache);

/*
 * Merge two versions of one shared/ file (sync): the lines of `first`,
 * then those of `second` that `first` lacks, into *out.
 */
void orch_shared_union(orch_buf *out, const char *first, size_t first_len,
                       const char *second, size_t second_len);

/*
 * The text of $ORCHESTRATE_CONTEXT_FILE for plan `plan`: each finding
 * under a heading naming its task and attempt; empty when there is none.
 */
void orch_shared_format_context(orch_buf *out, const char *plan,
                                const orch_findings *findings);

#endif
