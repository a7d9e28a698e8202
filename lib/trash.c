#include "trash.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

/*
 * Entries a trash holds at most before it is emptied: of loose objects,
 * 1 GiB of 4 KiB blocks, the objects of some 30,000 no-op tasks (8 each).
 * Emptied in the middle of a 10,000-task run (at 65,536 entries, as it
 * was), it made the rest of the run slower: 6.1 ms per task against 4.9
 * on a fresh ext4 without a journal.
 */
#define TRASH_ENTRIES 262144
/* The disk space it holds at most (st_blocks) before it is emptied. */
#define TRASH_BYTES (1024LL * 1024 * 1024)
/*
 * A file larger than this is removed at once: the trash is for the many
 * small files of a run, not for a run's worth of large task logs.
 */
#define TRASH_FILE_MAX (64 * 1024)

struct orch_trash {
	char *parent; /* .../orchestrate/trash/ */
	char *dir;    /* ours, with '/', once made */
	size_t count; /* entries in it */
	off_t bytes;  /* the disk space they hold */
	size_t next;  /* the name of the next one */
	int none;     /* it cannot be made or used: remove instead */
};

orch_trash *orch_trash_new(const char *common_dir)
{
	orch_trash *trash = orch_calloc(1, sizeof(*trash));
	orch_buf path = {0};

	orch_buf_printf(&path, "%sorchestrate/trash/", common_dir);
	trash->parent = orch_buf_detach(&path);
	return trash;
}

/* Remove the trash directories of processes that are gone. */
static void sweep(const char *parent)
{
	DIR *dir = opendir(parent);
	struct dirent *entry;
	orch_buf path = {0};

	if (!dir)
		return;
	while ((entry = readdir(dir)) != NULL) {
		char *end;
		long pid = strtol(entry->d_name, &end, 10);
		if (end == entry->d_name || *end != '-' || pid <= 0 ||
		    pid == (long)getpid() ||
		    !(kill((pid_t)pid, 0) < 0 && errno == ESRCH))
			continue;
		orch_buf_clear(&path);
		orch_buf_printf(&path, "%s%s", parent, entry->d_name);
		orch_remove_tree(path.ptr);
	}
	closedir(dir);
	orch_buf_free(&path);
}

static int make_dir(orch_trash *trash)
{
	orch_buf path = {0};
	size_t len = strlen(trash->parent);

	if (trash->dir || trash->none)
		return trash->dir ? 0 : -1;
	/* .../orchestrate, then .../orchestrate/trash */
	orch_buf_put(&path, trash->parent, len - sizeof("trash/") + 1);
	mkdir(path.ptr, 0755);
	mkdir(trash->parent, 0755);
	sweep(trash->parent);
	orch_buf_clear(&path);
	orch_buf_printf(&path, "%s%ld-XXXXXX", trash->parent, (long)getpid());
	if (!mkdtemp(path.ptr)) {
		orch_buf_free(&path);
		trash->none = 1;
		return -1;
	}
	orch_buf_puts(&path, "/");
	trash->dir = orch_buf_detach(&path);
	return 0;
}

static void empty(orch_trash *trash)
{
	if (!trash->dir)
		return;
	orch_remove_tree(trash->dir);
	free(trash->dir);
	trash->dir = NULL;
	trash->count = 0;
	trash->bytes = 0;
}

/*
 * Give `path` (lstat() said `st`) a name in the trash by `op`: rename
 * moves it there, link gives it a second name. 0 when done, else -1.
 */
static int set_aside(orch_trash *trash, const char *path, const struct stat *st,
                     int (*op)(const char *, const char *))
{
	char aside[4096];
	int e;

	if (trash->count >= TRASH_ENTRIES || trash->bytes >= TRASH_BYTES)
		empty(trash);
	if (make_dir(trash) < 0)
		return -1;
	snprintf(aside, sizeof(aside), "%s%zx", trash->dir, trash->next++);
	if (op(path, aside) == 0) {
		trash->count++;
		trash->bytes += (off_t)st->st_blocks * 512;
		return 0;
	}
	e = errno;
	if (e == ENOENT && access(trash->dir, F_OK) < 0) {
		/* our directory went: made again next time */
		free(trash->dir);
		trash->dir = NULL;
	} else if (e == EXDEV) {
		/* on another file system: removed from now on */
		trash->none = 1;
	}
	return -1;
}

int orch_trash_put(orch_trash *trash, const char *path)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -1;
	if (trash && !trash->none &&
	    (S_ISDIR(st.st_mode) || st.st_size <= TRASH_FILE_MAX) &&
	    set_aside(trash, path, &st, rename) == 0)
		return 0;
	/* not into the trash (or gone meanwhile): removed */
	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -1;
	if (S_ISDIR(st.st_mode))
		return orch_remove_tree(path);
	return unlink(path);
}

void orch_trash_keep(orch_trash *trash, const char *path)
{
	struct stat st;

	if (!trash || trash->none || lstat(path, &st) < 0 ||
	    !S_ISREG(st.st_mode) || st.st_size > TRASH_FILE_MAX)
		return;
	set_aside(trash, path, &st, link);
}

void orch_trash_free(orch_trash *trash)
{
	if (!trash)
		return;
	empty(trash);
	free(trash->parent);
	free(trash);
}
