#ifndef ORCH_TRASH_H
#define ORCH_TRASH_H

/*
 * Files and directories of ours that are done with, moved aside instead of
 * removed, then removed together when the process is done with them.
 *
 * Why: on ext4 without a journal (as /tmp often is) an inode that was
 * freed is not given out again for a minute or more, and every new file of
 * its block group is looked for past all such inodes. A run that created
 * and removed a few dozen files per task made each new file slower than
 * the one before: 7.2 ms per task at 8,000 tasks against 3 to 4 ms at 250.
 * A rename frees no inode.
 *
 * The trash is a directory of this process under
 * $GIT_COMMON_DIR/orchestrate/trash/ ("<pid>-XXXXXX"), made when first
 * used; the trash of a process that is gone is removed by the next one
 * that makes its own. What a trash holds is never read again. It is
 * emptied early once it holds 262,144 entries or 1 GiB, and a file over
 * 64 KiB (a long task log) is removed at once, not kept. Emptied early,
 * it frees all it held at once, and the files the run makes next are slow
 * for minutes: the limits are those of a run of some 30,000 tasks.
 */

typedef struct orch_trash orch_trash;

/* A trash under `common_dir` (with its trailing '/'); nothing made yet. */
orch_trash *orch_trash_new(const char *common_dir);

/*
 * Take `path` (a file or a directory tree) out of its place: into the
 * trash, or removed when it cannot go there (another file system). A
 * missing path is no error. NULL `trash`: removed. 0, or -1 with errno.
 */
int orch_trash_put(orch_trash *trash, const char *path);

/*
 * Give file `path` a second name in the trash, so that the inode is not
 * freed when `path` is replaced (a rename over it: a ref, HEAD, an index
 * written by libgit2) or removed, until the trash is emptied. Nothing
 * when there is no trash, no such regular file (or one over 64 KiB), or
 * the link fails: it only spares the file system work.
 */
void orch_trash_keep(orch_trash *trash, const char *path);

/* Remove the trash and what it holds. */
void orch_trash_free(orch_trash *trash);

#endif
