#include "unit.h"
#include "trash.h"
#include "util.h"

#include <dirent.h>
#include <sys/wait.h>

/*
 * The trash (trash.c): what is put there leaves its place at once, stays
 * on disk (its inode is not freed) until the trash is freed, and the trash
 * of a process that is gone goes when another one makes its own.
 */

static void touch(const char *dir, const char *name)
{
	char path[1024];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (!(fp = fopen(path, "w")))
		abort();
	fputs("x\n", fp);
	fclose(fp);
}

static int exists(const char *dir, const char *name)
{
	char path[1024];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return lstat(path, &st) == 0;
}

/* Entries of `dir` (not . and ..); -1 when it does not exist. */
static int entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)) != NULL)
		n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	closedir(d);
	return n;
}

/* The one directory under `parent`, into `out`; 0 when there is one. */
static int only_child(char *out, size_t size, const char *parent)
{
	DIR *d = opendir(parent);
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			snprintf(out, size, "%s/%s", parent, e->d_name);
			n++;
		}
	closedir(d);
	return n == 1 ? 0 : -1;
}

/* lstat of the one entry of `dir` (not . and ..); 0 when there is one. */
static int only_entry(struct stat *out, const char *dir)
{
	char path[1024];

	if (only_child(path, sizeof(path), dir) < 0)
		return -1;
	return lstat(path, out);
}

/* The pid of a process that has exited and been waited for. */
static pid_t gone_pid(void)
{
	pid_t pid = fork();

	if (pid == 0)
		_exit(0);
	if (pid < 0 || waitpid(pid, NULL, 0) != pid)
		abort();
	return pid;
}

TEST(a_file_put_in_the_trash_leaves_its_place_and_keeps_its_inode)
{
	char common[300], parent[400], mine[800], path[1200];
	struct stat before, after;
	orch_trash *trash;

	snprintf(common, sizeof(common), "%s/", unit_tmpdir());
	snprintf(parent, sizeof(parent), "%sorchestrate/trash", common);
	touch(common, "a");
	snprintf(path, sizeof(path), "%sa", common);
	CHECK_INT(lstat(path, &before), 0);
	trash = orch_trash_new(common);
	CHECK_INT(orch_trash_put(trash, path), 0);
	CHECK(!exists(common, "a"));
	/* in a directory of this process, the same inode */
	CHECK_INT(only_child(mine, sizeof(mine), parent), 0);
	CHECK_INT(strtol(strrchr(mine, '/') + 1, NULL, 10), getpid());
	CHECK_INT(entries(mine), 1);
	CHECK_INT(only_entry(&after, mine), 0);
	CHECK_INT(after.st_ino, before.st_ino);
	orch_trash_free(trash);
	CHECK_INT(entries(mine), -1);
	CHECK_INT(entries(parent), 0);
}

/* What a rename over a kept file replaces stays on disk until the trash
 * is freed; a directory or a missing file is not kept. */
TEST(a_kept_file_keeps_its_inode_when_it_is_replaced)
{
	char common[300], parent[400], mine[800], path[1200], new_path[1200];
	struct stat before, st;
	orch_trash *trash;

	snprintf(common, sizeof(common), "%s/", unit_tmpdir());
	snprintf(parent, sizeof(parent), "%sorchestrate/trash", common);
	touch(common, "ref");
	touch(common, "ref.lock");
	CHECK_INT(mkdir(strcat(strcpy(path, common), "dir"), 0755), 0);
	snprintf(path, sizeof(path), "%sref", common);
	snprintf(new_path, sizeof(new_path), "%sref.lock", common);
	CHECK_INT(lstat(path, &before), 0);
	trash = orch_trash_new(common);
	orch_trash_keep(trash, path);
	CHECK(exists(common, "ref"));
	CHECK_INT(lstat(path, &st), 0);
	CHECK_INT(st.st_nlink, 2);
	CHECK_INT(rename(new_path, path), 0);
	/* the old file, by its second name */
	CHECK_INT(only_child(mine, sizeof(mine), parent), 0);
	CHECK_INT(entries(mine), 1);
	CHECK_INT(only_entry(&st, mine), 0);
	CHECK_INT(st.st_ino, before.st_ino);
	CHECK_INT(st.st_nlink, 1);
	snprintf(path, sizeof(path), "%sdir", common);
	orch_trash_keep(trash, path);
	snprintf(path, sizeof(path), "%sgone", common);
	orch_trash_keep(trash, path);
	CHECK_INT(entries(mine), 1);
	orch_trash_free(trash);
	CHECK_INT(entries(mine), -1);
	/* no trash: nothing */
	snprintf(path, sizeof(path), "%sref", common);
	orch_trash_keep(NULL, path);
	CHECK_INT(lstat(path, &st), 0);
	CHECK_INT(st.st_nlink, 1);
}

TEST(a_directory_goes_whole_and_a_missing_path_is_no_error)
{
	char common[300], dir[400], mine[800], parent[400];
	orch_trash *trash;

	snprintf(common, sizeof(common), "%s/", unit_tmpdir());
	snprintf(parent, sizeof(parent), "%sorchestrate/trash", common);
	snprintf(dir, sizeof(dir), "%sd.lock", common);
	CHECK_INT(mkdir(dir, 0755), 0);
	touch(dir, "owner");
	trash = orch_trash_new(common);
	CHECK_INT(orch_trash_put(trash, dir), 0);
	CHECK(!exists(common, "d.lock"));
	/* the name is free again at once, as a lock must be */
	CHECK_INT(mkdir(dir, 0755), 0);
	CHECK_INT(orch_trash_put(trash, dir), 0);
	CHECK_INT(orch_trash_put(trash, dir), 0);
	CHECK_INT(only_child(mine, sizeof(mine), parent), 0);
	CHECK_INT(entries(mine), 2);
	orch_trash_free(trash);
	CHECK_INT(entries(parent), 0);
}

TEST(without_a_trash_a_path_is_removed)
{
	char common[300], dir[400];

	snprintf(common, sizeof(common), "%s/", unit_tmpdir());
	snprintf(dir, sizeof(dir), "%sd", common);
	CHECK_INT(mkdir(dir, 0755), 0);
	touch(dir, "f");
	CHECK_INT(orch_trash_put(NULL, dir), 0);
	CHECK(!exists(common, "d"));
	CHECK(!exists(common, "orchestrate"));
}

TEST(the_trash_of_a_process_that_is_gone_goes_with_the_next)
{
	char common[300], parent[400], dead[500], alive[500], path[400];
	orch_trash *trash;

	snprintf(common, sizeof(common), "%s/", unit_tmpdir());
	snprintf(path, sizeof(path), "%sorchestrate", common);
	CHECK_INT(mkdir(path, 0755), 0);
	snprintf(parent, sizeof(parent), "%sorchestrate/trash", common);
	CHECK_INT(mkdir(parent, 0755), 0);
	snprintf(dead, sizeof(dead), "%s/%ld-AbCdEf", parent, (long)gone_pid());
	snprintf(alive, sizeof(alive), "%s/%ld-AbCdEf", parent,
	         (long)getppid());
	CHECK_INT(mkdir(dead, 0755), 0);
	CHECK_INT(mkdir(alive, 0755), 0);
	touch(dead, "0");
	touch(common, "a");
	snprintf(path, sizeof(path), "%sa", common);
	trash = orch_trash_new(common);
	/* nothing happens before the trash is first used */
	CHECK_INT(entries(parent), 2);
	CHECK_INT(orch_trash_put(trash, path), 0);
	CHECK_INT(entries(dead), -1);
	CHECK_INT(entries(alive), 0);
	orch_trash_free(trash);
	CHECK_INT(entries(parent), 1);
}

TEST(a_large_file_is_removed_at_once_not_kept_until_the_end)
{
	char common[300], parent[400], path[400];
	orch_trash *trash;
	FILE *fp;

	snprintf(common, sizeof(common), "%s/", unit_tmpdir());
	snprintf(parent, sizeof(parent), "%sorchestrate/trash", common);
	snprintf(path, sizeof(path), "%slog", common);
	if (!(fp = fopen(path, "w")))
		abort();
	for (int i = 0; i < 100 * 1024; i++)
		fputc('x', fp);
	fclose(fp);
	trash = orch_trash_new(common);
	CHECK_INT(orch_trash_put(trash, path), 0);
	CHECK(!exists(common, "log"));
	/* nothing went into the trash: no directory of ours was made */
	CHECK(entries(parent) <= 0);
	orch_trash_free(trash);
}

static const unit_test tests[] = {
    T(a_large_file_is_removed_at_once_not_kept_until_the_end),
    T(a_file_put_in_the_trash_leaves_its_place_and_keeps_its_inode),
    T(a_kept_file_keeps_its_inode_when_it_is_replaced),
    T(a_directory_goes_whole_and_a_missing_path_is_no_error),
    T(without_a_trash_a_path_is_removed),
    T(the_trash_of_a_process_that_is_gone_goes_with_the_next),
};

UNIT_MAIN(tests)
