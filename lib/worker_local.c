/*
 * The local worker: task attempts in linked worktrees of this repository,
 * each command in a process group (session) of its own.
 *
 * Worktrees are slots, $GIT_DIR/orchestrate/slots/<n> (worktree name
 * orch-slot-<n>), re-used from task to task: a new attempt checks its start
 * commit out over what the last one left (like `git checkout -f` then
 * `git clean -ffdx`), which writes only the files that differ instead of
 * the whole tree. A slot is taken by creating slots/<n>.lock (mkdir is
 * atomic), which names its owner (the process and its attempt); the
 * worker holds it between its attempts, the owner file naming the next
 * one, and lets it go when it is closed. A slot kept for a failed task
 * stays locked until `clean`. While an attempt runs, its slot has the
 * task's branch checked out; afterwards HEAD is detached, so no branch
 * stays held. When the run ends, idle slots are removed.
 *
 * A plan's setup runs in a slot before its first task, and again when its
 * text changes: slots/<n>.setup records the hash of the setup that last
 * succeeded there (a new worktree starts without one). With a setup, a new
 * attempt's checkout keeps ignored files (the dependencies it installed).
 * It runs as a process of its own before the command, so that the
 * command's resource use is the command's alone. When it fails, the slot
 * stays locked until the worker is closed: this run uses it no more.
 *
 * The command runs under a small sh wrapper that writes its exit status to
 * a file when it ends, and the pid of the group goes to a pid file first:
 * so an attempt outlives a crashed orchestrator, and the next run can wait
 * for it and collect its result instead of running it twice (adopt).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/resource.h>
#include <sys/statvfs.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "error.h"
#include "shared.h"
#include "signature.h"
#include "store.h"
#include "trash.h"
#include "worker.h"

#define KILL_GRACE_MS 5000

typedef struct {
	orch_worker parent;
	git_repository *repo;
	char *token;
	char *root;     /* $GIT_DIR/orchestrate */
	char *env_file; /* the configured env-file, or NULL */
	int *broken;    /* slots whose setup failed, locked until close */
	size_t nbroken;
	/*
	 * Slots this worker holds between attempts: still locked, owner
	 * file naming the last attempt, HEAD detached. The next attempt takes
	 * one (no lock to make: a new directory and a new file each time were
	 * two of the few dozen files each task made, see trash.h); they are
	 * let go when the worker is closed.
	 */
	int *held;
	size_t nheld;
	orch_trash *trash; /* where an attempt's files go when it is done */
} local_worker;

struct orch_job {
	char *name;      /* "<plan>+<task>": file stem under run/ */
	int slot;        /* slot number, -1 before one is taken */
	char *worktree;  /* the slot's path */
	char *slot_path; /* run/<name>.slot: which slot it ran in, as
	                    attempts started before the pid file said so */
	char *branch;
	char *message;
	git_oid base;
	char *log_path;
	char *pid_path;
	char *status_path;
	char *prompt_path;
	char *conflicts_path; /* what ORCHESTRATE_CONFLICT_FILES names */
	int has_conflicts;    /* a re-run on conflict: it is set */
	char *share_path;     /* ORCHESTRATE_SHARE_FILE: what the task shares */
	char *context_path;   /* ORCHESTRATE_CONTEXT_FILE: what others shared */
	char *command;
	char **env; /* of the command and the setup (free_environment) */
	char
	    *env_file; /* the worker's env-file, read by the wrapper, or NULL */
	char *env_names; /* the names `env` sets: the env-file does not */
	char *setup;     /* the setup to run before the command, or NULL */
	char setup_hash[GIT_OID_HEXSZ + 1];
	int in_setup;     /* pid is the setup's wrapper */
	int setup_failed; /* its slot is out of this run */
	/* what the command used (from wait4; not known when adopted) */
	int usage_known;
	int64_t cpu_ms, max_rss_kb;
	pid_t pid; /* our child, or 0 when adopted */
	pid_t pgid;
	int exited;
	int exit_status;
	off_t log_offset;
	int64_t term_sent_ms; /* when SIGTERM went out, 0 if not */
	int finished_poll;
	orch_job_result result;
	/*
	 * The slot's worktree, opened by the checkout and used again by the
	 * result commit and the detach: a repository opened once per attempt
	 * instead of three times (reading its config files each time). The
	 * slot is ours meanwhile; NULL when adopted (opened when needed).
	 */
	git_repository *wtrepo;
};

static int mkdirs(const char *path)
{
	char buf[4096];
	size_t len = strlen(path);

	if (len >= sizeof(buf))
		return orch_error_set("path too long: '%s'", path);
	memcpy(buf, path, len + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return orch_error_os("cannot create '%s'", buf);
		*p = '/';
	}
	if (mkdir(buf, 0755) < 0 && errno != EEXIST)
		return orch_error_os("cannot create '%s'", buf);
	return 0;
}

/* rm -rf, for our own directories only. */
static int remove_tree(const char *path)
{
	if (orch_remove_tree(path) < 0)
		return orch_error_os("cannot remove '%s'", path);
	return 0;
}

static char *pathf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *pathf(const char *fmt, ...)
{
	va_list ap;
	orch_buf buf = {0};
	char tmp[4096];

	va_start(ap, fmt);
	vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	orch_buf_puts(&buf, tmp);
	return orch_buf_detach(&buf);
}

static void free_environment(char **env);

static void job_free(orch_job *job)
{
	if (!job)
		return;
	free(job->name);
	free(job->worktree);
	free(job->slot_path);
	free(job->branch);
	free(job->message);
	free(job->log_path);
	free(job->pid_path);
	free(job->status_path);
	free(job->prompt_path);
	free(job->conflicts_path);
	free(job->share_path);
	free(job->context_path);
	free(job->setup);
	free(job->command);
	free(job->env_file);
	free(job->env_names);
	free_environment(job->env);
	git_repository_free(job->wtrepo);
	free(job);
}

static orch_job *job_new(local_worker *lw, const orch_job_spec *spec)
{
	orch_job *job = orch_calloc(1, sizeof(*job));

	job->name = pathf("%s+%s", spec->plan, spec->task);
	job->slot = -1;
	job->slot_path = pathf("%s/run/%s.slot", lw->root, job->name);
	job->branch = orch_strdup(spec->branch);
	job->message = orch_strdup(spec->message);
	job->log_path = pathf("%s/run/%s.log", lw->root, job->name);
	job->pid_path = pathf("%s/run/%s.pid", lw->root, job->name);
	job->status_path = pathf("%s/run/%s.status", lw->root, job->name);
	job->prompt_path = pathf("%s/run/%s.prompt", lw->root, job->name);
	job->conflicts_path = pathf("%s/run/%s.conflicts", lw->root, job->name);
	job->share_path = pathf("%s/run/%s.share", lw->root, job->name);
	job->context_path = pathf("%s/run/%s.context", lw->root, job->name);
	git_oid_fromstr(&job->base, spec->base);
	return job;
}

/* Remove a worktree of ours (admin files and directory), if there is one. */
static int drop_worktree(local_worker *lw, const char *name, const char *path)
{
	git_worktree *wt = NULL;
	git_worktree_prune_options opts;
	int error;

	git_worktree_prune_options_init(&opts,
	                                GIT_WORKTREE_PRUNE_OPTIONS_VERSION);

	opts.flags = GIT_WORKTREE_PRUNE_VALID | GIT_WORKTREE_PRUNE_LOCKED |
	             GIT_WORKTREE_PRUNE_WORKING_TREE;
	if (git_worktree_lookup(&wt, lw->repo, name) == 0) {
		error = git_worktree_prune(wt, &opts);
		git_worktree_free(wt);
		if (error < 0)
			return orch_error_git(
			    error, "cannot remove worktree '%s'", path);
	}
	return remove_tree(path);
}

static int write_file(const char *path, const char *text, size_t len);
static int read_status_file(const char *path, int *out);
static int group_alive(pid_t pgid);

static char *slot_dir(local_worker *lw, int n)
{
	return pathf("%s/slots/%d", lw->root, n);
}

static char *slot_lock(local_worker *lw, int n)
{
	return pathf("%s/slots/%d.lock", lw->root, n);
}

static char *slot_name(int n)
{
	return pathf("orch-slot-%d", n);
}

/* Where the hash of the setup that last succeeded in slot `n` is kept. */
static char *slot_setup_record(local_worker *lw, int n)
{
	return pathf("%s/slots/%d.setup", lw->root, n);
}

/* The owner file of a slot lock: "<pid> <plan>+<task>". */
static int slot_write_owner(local_worker *lw, int n, const char *job_name)
{
	char *lock = slot_lock(lw, n), *owner = pathf("%s/owner", lock);
	char text[512];
	int error;

	snprintf(text, sizeof(text), "%d %s\n", (int)getpid(), job_name);
	error = write_file(owner, text, strlen(text));
	free(owner);
	free(lock);
	return error;
}

/*
 * A slot lock nobody will release: not kept, its owner process is gone,
 * and so is its task, which left no result still to be collected (a
 * status file means a resumed run will commit from this worktree).
 */
static int slot_is_stale(local_worker *lw, const char *lock)
{
	char *kept = pathf("%s/kept", lock), *owner = pathf("%s/owner", lock);
	char *pid_path = NULL, *status_path = NULL, name[400] = "";
	int pid = 0, pgid = 0, status, stale = 0;
	struct stat st;
	FILE *fp;

	if (stat(kept, &st) == 0)
		goto done;
	if ((fp = fopen(owner, "r")) != NULL) {
		if (fscanf(fp, "%d %399s", &pid, name) != 2)
			pid = 0;
		fclose(fp);
	}
	if (pid <= 0) {
		/* a lock being created right now has no owner yet: wait for it
		 */
		stale = stat(lock, &st) == 0 && st.st_mtime + 10 < time(NULL);
		goto done;
	}
	if (kill(pid, 0) == 0 || errno == EPERM)
		goto done;
	pid_path = pathf("%s/run/%s.pid", lw->root, name);
	status_path = pathf("%s/run/%s.status", lw->root, name);
	if (read_status_file(pid_path, &pgid) == 0 && group_alive(pgid))
		goto done;
	if (read_status_file(status_path, &status) == 0)
		goto done;
	stale = 1;
done:
	free(kept);
	free(owner);
	free(pid_path);
	free(status_path);
	return stale;
}

/* Take a slot this worker holds, else the first free one; *out gets its
 * number. */
static int slot_claim(int *out, local_worker *lw, const char *job_name)
{
	char *dir = NULL;
	int error = 0;

	while (lw->nheld) {
		int n = lw->held[--lw->nheld];
		char *lock = slot_lock(lw, n);
		struct stat st;
		int ours = stat(lock, &st) == 0;
		free(lock);
		/* gone: removed by hand, say; the next one */
		if (ours && slot_write_owner(lw, n, job_name) == 0) {
			*out = n;
			return 0;
		}
	}
	dir = pathf("%s/slots", lw->root);
	if ((error = mkdirs(dir)) < 0)
		goto done;
	for (int n = 0; n < 4096; n++) {
		char *lock = slot_lock(lw, n);
		int taken = mkdir(lock, 0755) == 0, why = taken ? 0 : errno;
		if (why == EEXIST && slot_is_stale(lw, lock) &&
		    remove_tree(lock) == 0) {
			taken = mkdir(lock, 0755) == 0;
			why = taken ? 0 : errno;
		}
		if (!taken && why != EEXIST) {
			errno = why;
			error = orch_error_os("cannot take worktree slot '%s'",
			                      lock);
		}
		free(lock);
		if (error < 0)
			goto done;
		if (taken) {
			*out = n;
			error = slot_write_owner(lw, n, job_name);
			goto done;
		}
	}
	error = orch_error_set("no free worktree slot under '%s'", dir);
	orch_error_hint("'git orchestrate clean' removes the worktrees kept "
	                "for failed tasks");
done:
	free(dir);
	return error;
}

static void slot_release(local_worker *lw, int n)
{
	char *lock = slot_lock(lw, n);

	orch_trash_put(lw->trash, lock);
	free(lock);
}

static void slot_keep(local_worker *lw, int n)
{
	char *lock = slot_lock(lw, n), *kept = pathf("%s/kept", lock);

	write_file(kept, "", 0);
	free(kept);
	free(lock);
}

/* The worktree of `job`'s slot, opened once (job->wtrepo). */
static int job_worktree(git_repository **out, orch_job *job)
{
	int error;

	if (!job->wtrepo &&
	    (error = git_repository_open(&job->wtrepo, job->worktree)) < 0)
		return orch_error_git(error, "cannot open the worktree '%s'",
		                      job->worktree);
	*out = job->wtrepo;
	return 0;
}

/*
 * Before libgit2 replaces file `name` of the git dir of worktree `wtrepo`
 * (HEAD, index), a name for it in the trash: the old file's inode is not
 * freed until the run ends (see trash.h).
 */
static void keep_wt_file(local_worker *lw, git_repository *wtrepo,
                         const char *name)
{
	char *path = pathf("%s%s", git_repository_path(wtrepo), name);

	orch_trash_keep(lw->trash, path);
	free(path);
}

/*
 * Detach HEAD of `job`'s slot, so that it holds no branch between
 * attempts; the worker holds the slot or lets it go after this. Sets no
 * error: it runs after a failed start too, whose message stays.
 */
static void slot_detach(local_worker *lw, orch_job *job)
{
	if (job->wtrepo ||
	    git_repository_open(&job->wtrepo, job->worktree) == 0) {
		keep_wt_file(lw, job->wtrepo, "HEAD");
		git_repository_detach_head(job->wtrepo);
	}
	git_repository_free(job->wtrepo);
	job->wtrepo = NULL;
}

static int write_file(const char *path, const char *text, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	if (fd < 0)
		return orch_error_os("cannot write '%s'", path);
	if (orch_write_all(fd, text, len) < 0) {
		orch_error_os("cannot write '%s'", path);
		close(fd);
		return ORCH_ERROR;
	}
	if (close(fd) < 0)
		return orch_error_os("cannot write '%s'", path);
	return 0;
}

/*
 * The wrapper: reads the worker's env-file ($3, may be empty; the names
 * in $4 are set by `env` and keep their values), runs the task's command
 * with sh -c, then records its exit status atomically. Fixed text; the
 * command and paths are arguments.
 */
static const char wrapper[] =
    ORCH_ENV_FILE_SH "orch_env_file \"$3\" \"$4\" && /bin/sh -c \"$1\"\n"
                     "s=$?\n"
                     "echo $s >\"$2\"\n"
                     "exit $s\n";

extern char **environ;

/* Is the variable of NAME=VALUE `var` one of the NAME=VALUE in `env`? */
static int named_in(const orch_strvec *env, const char *var)
{
	size_t len = strcspn(var, "=");

	for (size_t i = 0; env && i < env->count; i++)
		if (!strncmp(env->items[i], var, len) &&
		    env->items[i][len] == '=')
			return 1;
	return 0;
}

/* The names of `env` (NAME=VALUE...), blank-separated, for the wrapper. */
static char *env_names(const orch_strvec *env)
{
	orch_buf names = {0};

	orch_buf_puts(&names, "");
	for (size_t i = 0; env && i < env->count; i++)
		orch_buf_printf(&names, "%s%.*s", i ? " " : "",
		                (int)strcspn(env->items[i], "="),
		                env->items[i]);
	return orch_buf_detach(&names);
}

/*
 * The environment of a task: ours without an inherited repository (git in
 * the task must see its worktree) and without stale ORCHESTRATE_*, plus the
 * variables of SPEC 3. Built before fork: after it, in a process that may
 * have other threads (SSH workers), only async-signal-safe calls are made.
 */
static char **task_environment(const orch_job *job, const orch_job_spec *spec,
                               const char *worker_name)
{
	orch_strvec env = {0};
	char *var;
	orch_buf buf = {0};

	for (char **e = environ; e && *e; e++)
		if (strncmp(*e, "GIT_DIR=", 8) &&
		    strncmp(*e, "GIT_WORK_TREE=", 14) &&
		    strncmp(*e, "GIT_INDEX_FILE=", 15) &&
		    strncmp(*e, "ORCHESTRATE_", 12) && !named_in(spec->env, *e))
			orch_strvec_push(&env, *e);
	/* what `env` names (ours anyway, but set as they were resolved) */
	for (size_t i = 0; spec->env && i < spec->env->count; i++)
		orch_strvec_push(&env, spec->env->items[i]);
#define PUSH_VAR(fmt, value)                                                   \
	do {                                                                   \
		orch_buf_printf(&buf, fmt, value);                             \
		var = orch_buf_detach(&buf);                                   \
		orch_strvec_push_take(&env, var);                              \
	} while (0)
	PUSH_VAR("ORCHESTRATE_PLAN=%s", spec->plan);
	PUSH_VAR("ORCHESTRATE_TASK=%s", spec->task);
	PUSH_VAR("ORCHESTRATE_ATTEMPT=%d", spec->attempt);
	PUSH_VAR("ORCHESTRATE_WORKER=%s", worker_name);
	PUSH_VAR("ORCHESTRATE_BASE=%s", spec->base);
	if (spec->prompt)
		PUSH_VAR("ORCHESTRATE_PROMPT_FILE=%s", job->prompt_path);
	if (job->has_conflicts)
		PUSH_VAR("ORCHESTRATE_CONFLICT_FILES=%s", job->conflicts_path);
	PUSH_VAR("ORCHESTRATE_SHARE_FILE=%s", job->share_path);
	PUSH_VAR("ORCHESTRATE_CONTEXT_FILE=%s", job->context_path);
#undef PUSH_VAR
	return env.items; /* NULL-terminated; freed with free_environment */
}

static void free_environment(char **env)
{
	for (char **e = env; e && *e; e++)
		free(*e);
	free(env);
}

/*
 * Write this process's pid and the attempt's slot, "<pid> <slot>\n", to
 * `path` atomically (through `tmp`), with async-signal-safe calls only: it
 * runs between fork and exec.
 */
static int write_own_pid(const char *tmp, const char *path, int slot)
{
	char digits[48], *p = digits + sizeof(digits);
	long pid = (long)getpid(), n = slot;
	int fd;

	*--p = '\n';
	do
		*--p = (char)('0' + n % 10);
	while ((n /= 10) > 0);
	*--p = ' ';
	do
		*--p = (char)('0' + pid % 10);
	while ((pid /= 10) > 0);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600)) < 0)
		return -1;
	if (write(fd, p, (size_t)(digits + sizeof(digits) - p)) < 0) {
		close(fd);
		return -1;
	}
	if (close(fd) < 0)
		return -1;
	return rename(tmp, path);
}

/*
 * Start `command` (the task's, or the setup) under the wrapper, which
 * writes its exit status to `status_path`; its output goes to the log,
 * emptied first when `fresh`.
 */
static int spawn(orch_job *job, const char *command, const char *status_path,
                 int fresh)
{
	char **env = job->env;
	char *pid_tmp = pathf("%s.tmp", job->pid_path);
	char *argv[] = {"sh",
	                "-c",
	                (char *)wrapper,
	                "orchestrate-task",
	                (char *)command,
	                (char *)status_path,
	                (char *)(job->env_file ? job->env_file : ""),
	                job->env_names ? job->env_names : "",
	                NULL};
	sigset_t all, old;
	pid_t pid;
	int logfd, devnull, error = 0;

	logfd =
	    open(job->log_path,
	         O_WRONLY | O_CREAT | O_APPEND | (fresh ? O_TRUNC : 0), 0600);
	devnull = open("/dev/null", O_RDONLY);
	if (logfd < 0 || devnull < 0) {
		error = orch_error_os("cannot create '%s'", job->log_path);
		goto done;
	}
	/*
	 * vfork: a fork copies the page tables of the whole orchestrator,
	 * which grow with the plan (at 5,000 tasks that was a fifth of the
	 * time per task). The child shares our memory until it execs, so it
	 * only makes system calls (write_own_pid included) on what was made
	 * before, and runs no handler of ours: every signal is blocked
	 * until it has set them back to their defaults.
	 */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	pid = vfork();
	if (pid == 0) {
		/* a session of its own: its whole group can be stopped */
		setsid();
		dup2(devnull, 0);
		dup2(logfd, 1);
		dup2(logfd, 2);
		if (chdir(job->worktree) < 0 ||
		    write_own_pid(pid_tmp, job->pid_path, job->slot) < 0)
			_exit(125);
		signal(SIGPIPE, SIG_DFL);
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		sigprocmask(SIG_SETMASK, &old, NULL);
		execve("/bin/sh", argv, env);
		_exit(127);
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (pid < 0) {
		error = orch_error_os("cannot start '%s'", job->name);
		goto done;
	}
	job->pid = pid;
	job->pgid = pid;
done:
	if (logfd >= 0)
		close(logfd);
	if (devnull >= 0)
		close(devnull);
	free(pid_tmp);
	return error;
}

static int find_attributes(const char *root, const git_tree_entry *entry,
                           void *payload)
{
	(void)root;
	if (!strcmp(git_tree_entry_name(entry), ".gitattributes")) {
		*(int *)payload = 1;
		return -1; /* stop the walk */
	}
	return 0;
}

/*
 * Could a checkout filter (end-of-line conversion, ident, a filter driver)
 * change a file of `commit`? Only through attributes (a .gitattributes in
 * the tree, info/attributes, core.attributesFile or its default) or the
 * core.autocrlf / core.eol settings. When none of these exists, checking
 * out without filters gives the same files, much faster.
 */
static int filters_can_apply(git_repository *repo, const git_oid *commit_id)
{
	git_commit *commit = NULL;
	git_tree *tree = NULL;
	git_config *config = NULL;
	git_buf value = {0};
	char path[4096];
	const char *home = getenv("HOME"), *xdg = getenv("XDG_CONFIG_HOME");
	int found = 0, flag = 0;
	struct stat st;

	snprintf(path, sizeof(path), "%sinfo/attributes",
	         git_repository_commondir(repo));
	if (stat(path, &st) == 0)
		return 1;
	if (xdg && *xdg)
		snprintf(path, sizeof(path), "%s/git/attributes", xdg);
	else
		snprintf(path, sizeof(path), "%s/.config/git/attributes",
		         home ? home : "");
	if (stat(path, &st) == 0)
		return 1;
	if (git_repository_config_snapshot(&config, repo) < 0)
		return 1;
	if (git_config_get_string_buf(&value, config, "core.attributesfile") ==
	        0 ||
	    git_config_get_string_buf(&value, config, "core.eol") == 0 ||
	    (git_config_get_string_buf(&value, config, "core.autocrlf") == 0 &&
	     (git_config_get_bool(&flag, config, "core.autocrlf") < 0 || flag)))
		found = 1;
	git_buf_dispose(&value);
	git_config_free(config);
	if (found)
		return 1;
	if (git_commit_lookup(&commit, repo, commit_id) < 0 ||
	    git_commit_tree(&tree, commit) < 0) {
		found = 1;
	} else {
		git_tree_walk(tree, GIT_TREEWALK_PRE, find_attributes, &found);
	}
	git_tree_free(tree);
	git_commit_free(commit);
	return found;
}

/*
 * Check `branch` (at the attempt's start commit) out in slot `n`: over the
 * slot's last worktree when it has one, else in a new linked worktree.
 * *out gets the worktree's repository when it was opened here (else NULL).
 */
static int slot_prepare(git_repository **out, local_worker *lw, int n,
                        git_reference *branch, const git_oid *base,
                        int keep_ignored)
{
	char *path = slot_dir(lw, n), *name = slot_name(n);
	git_worktree *wt = NULL;
	git_repository *wtrepo = NULL;
	git_worktree_add_options add;
	git_checkout_options co;
	int filters = filters_can_apply(lw->repo, base), error = 0;
	struct stat st;

	if (git_worktree_lookup(&wt, lw->repo, name) == 0 &&
	    stat(path, &st) == 0 && git_repository_open(&wtrepo, path) == 0) {
		/*
		 * The slot is ours (claimed): a HEAD.lock or index.lock in its
		 * worktree's git dir was left by a process killed while
		 * writing there (an earlier run, or a task's own git), and
		 * would fail every task that gets this slot.
		 */
		static const char *const stale[] = {"HEAD.lock", "index.lock"};
		for (size_t i = 0; i < sizeof(stale) / sizeof(*stale); i++) {
			char *lock = pathf("%s%s", git_repository_path(wtrepo),
			                   stale[i]);
			unlink(lock);
			free(lock);
		}
		git_checkout_options_init(&co, GIT_CHECKOUT_OPTIONS_VERSION);
		co.checkout_strategy =
		    GIT_CHECKOUT_FORCE | GIT_CHECKOUT_REMOVE_UNTRACKED;
		if (!keep_ignored)
			co.checkout_strategy |= GIT_CHECKOUT_REMOVE_IGNORED;
		co.disable_filters = !filters;
		keep_wt_file(lw, wtrepo, "HEAD");
		keep_wt_file(lw, wtrepo, "index");
		if ((error = git_repository_set_head(
		         wtrepo, git_reference_name(branch))) < 0 ||
		    (error = git_checkout_head(wtrepo, &co)) < 0)
			error = orch_error_git(
			    error, "cannot check out the start commit in '%s'",
			    path);
		if (error == 0) {
			*out = wtrepo;
			wtrepo = NULL;
		}
		goto done;
	}
	git_worktree_free(wt);
	wt = NULL;
	if ((error = drop_worktree(lw, name, path)) < 0)
		goto done;
	{
		/* a new worktree has run no setup yet */
		char *record = slot_setup_record(lw, n);
		unlink(record);
		free(record);
	}
	git_worktree_add_options_init(&add, GIT_WORKTREE_ADD_OPTIONS_VERSION);
	add.ref = branch;
	/* the checkout is most of the cost of a new worktree: skip the
	 * per-file attribute look-ups when no filter can apply */
	add.checkout_options.disable_filters = !filters;
	if ((error = git_worktree_add(&wt, lw->repo, name, path, &add)) < 0)
		error =
		    orch_error_git(error, "cannot create worktree '%s'", path);
done:
	git_repository_free(wtrepo);
	git_worktree_free(wt);
	free(path);
	free(name);
	return error;
}

static char *setup_status_path(const orch_job *job)
{
	return pathf("%s.setup", job->status_path);
}

/*
 * Does the slot of `job` need `setup` run (never run there, or another
 * text)? Then job->setup gets it, and the slot's record is removed until
 * it succeeds.
 */
static int setup_needed(local_worker *lw, orch_job *job, const char *setup)
{
	char *record;
	orch_buf was = {0};
	git_oid hash;
	int error = 0;

	if (!setup)
		return 0;
	if (git_odb_hash(&hash, setup, strlen(setup), GIT_OBJECT_BLOB) < 0)
		return orch_error_git(-1, "cannot hash the setup command");
	git_oid_tostr(job->setup_hash, sizeof(job->setup_hash), &hash);
	record = slot_setup_record(lw, job->slot);
	if (orch_read_file(&was, record) == 0 && was.len >= GIT_OID_HEXSZ &&
	    !memcmp(was.ptr, job->setup_hash, GIT_OID_HEXSZ))
		goto done;
	if (unlink(record) < 0 && errno != ENOENT) {
		error = orch_error_os("cannot remove '%s'", record);
		goto done;
	}
	job->setup = orch_strdup(setup);
done:
	orch_buf_free(&was);
	free(record);
	return error;
}

static int local_start(orch_job **out, orch_worker *worker,
                       const orch_job_spec *spec)
{
	local_worker *lw = (local_worker *)worker;
	orch_job *job = job_new(lw, spec);
	git_reference *branch = NULL;
	char *run_dir = NULL;
	int error;

	*out = NULL;
	run_dir = pathf("%s/run", lw->root);
	if ((error = mkdirs(run_dir)) < 0)
		goto done;
	unlink(job->status_path);
	unlink(job->pid_path);
	{
		char *status = setup_status_path(job);
		unlink(status);
		free(status);
	}
	if ((error = slot_claim(&job->slot, lw, job->name)) < 0)
		goto done;
	job->worktree = slot_dir(lw, job->slot);
	if ((error = orch_worker_start_branch(&branch, lw->repo, spec->branch,
	                                      &job->base)) < 0)
		goto done;
	if ((error = slot_prepare(&job->wtrepo, lw, job->slot, branch,
	                          &job->base, spec->setup != NULL)) < 0)
		goto done;
	if (spec->prompt && (error = write_file(job->prompt_path, spec->prompt,
	                                        strlen(spec->prompt))) < 0)
		goto done;
	if (spec->conflicts) {
		job->has_conflicts = 1;
		if ((error = write_file(job->conflicts_path, spec->conflicts,
		                        strlen(spec->conflicts))) < 0)
			goto done;
	}
	/* a fresh share file: nothing of an earlier attempt is shared again */
	if ((error = write_file(job->share_path, "", 0)) < 0 ||
	    (error = write_file(job->context_path,
	                        spec->context ? spec->context : "",
	                        spec->context ? strlen(spec->context) : 0)) < 0)
		goto done;
	job->command = orch_strdup(spec->command);
	job->env = task_environment(job, spec, worker->name);
	job->env_file = lw->env_file ? orch_strdup(lw->env_file) : NULL;
	job->env_names = env_names(spec->env);
	if ((error = setup_needed(lw, job, spec->setup)) < 0)
		goto done;
	if (job->setup) {
		char *status = setup_status_path(job);
		job->in_setup = 1;
		error = spawn(job, job->setup, status, 1);
		free(status);
	} else {
		error = spawn(job, job->command, job->status_path, 1);
	}
	if (error < 0)
		goto done;
	*out = job;
	job = NULL;
done:
	if (job && job->slot >= 0) {
		slot_detach(lw, job);
		slot_release(lw, job->slot);
	}
	git_reference_free(branch);
	free(run_dir);
	job_free(job);
	return error;
}

/*
 * Commit everything in the worktree (new, changed, deleted; .gitignore
 * respected) on its branch, on top of the attempt's start commit. The
 * index is not written back: the slot's next checkout writes its own, and
 * each write replaces a file (see trash.h for what that costs).
 */
static int commit_result(git_oid *out, local_worker *lw, orch_job *job)
{
	git_repository *repo = lw->repo;
	git_repository *wtrepo = NULL;
	git_index *index = NULL;
	git_tree *tree = NULL;
	git_commit *parent = NULL;
	git_signature *sig = NULL;
	git_oid tree_id;
	char *all[] = {"*"};
	git_strarray spec = {all, 1};
	int error;

	if ((error = job_worktree(&wtrepo, job)) < 0)
		goto done;
	/* its objects are packed with the run's */
	if ((error = orch_store_record_objects_of(wtrepo, repo)) < 0)
		goto done;
	/* the index as the command left it (its own git may have written
	 * it since the checkout): read again when the file changed */
	if ((error = git_repository_index(&index, wtrepo)) < 0 ||
	    (error = git_index_read(index, 0)) < 0 ||
	    (error = git_index_add_all(index, &spec, GIT_INDEX_ADD_DEFAULT,
	                               NULL, NULL)) < 0 ||
	    (error = git_index_update_all(index, &spec, NULL, NULL)) < 0 ||
	    (error = git_index_write_tree(&tree_id, index)) < 0 ||
	    (error = git_tree_lookup(&tree, wtrepo, &tree_id)) < 0 ||
	    (error = git_commit_lookup(&parent, wtrepo, &job->base)) < 0) {
		error = orch_error_git(
		    error, "cannot commit the result in '%s'", job->worktree);
		goto done;
	}
	if ((error = orch_signature_default(&sig, wtrepo)) < 0)
		goto done;
	/* through HEAD, which is the task branch: fails if it moved; the
	 * branch's file replaced keeps its inode for the run (trash.h) */
	{
		char *ref =
		    pathf("%s%s", git_repository_commondir(repo), job->branch);
		orch_trash_keep(lw->trash, ref);
		free(ref);
	}
	if ((error = git_commit_create(out, wtrepo, "HEAD", sig, sig, NULL,
	                               job->message, tree, 1,
	                               (const git_commit **)&parent)) < 0)
		error = orch_error_git(
		    error, "cannot commit the result on '%s'", job->branch);
done:
	git_signature_free(sig);
	git_commit_free(parent);
	git_tree_free(tree);
	git_index_free(index);
	return error;
}

static int read_status_file(const char *path, int *out)
{
	FILE *fp = fopen(path, "r");
	int status;

	if (!fp)
		return ORCH_ENOTFOUND;
	if (fscanf(fp, "%d", &status) != 1) {
		fclose(fp);
		return ORCH_ENOTFOUND;
	}
	fclose(fp);
	*out = status;
	return 0;
}

static int group_alive(pid_t pgid)
{
	return pgid > 0 && (kill(-pgid, 0) == 0 || errno == EPERM);
}

static void escalate(orch_job *job)
{
	if (job->term_sent_ms &&
	    orch_monotonic_ms() - job->term_sent_ms > KILL_GRACE_MS &&
	    group_alive(job->pgid))
		kill(-job->pgid, SIGKILL);
}

/*
 * Append to `error` (of `size` bytes) that the file system holding `path`
 * is full, when it is: a command that fails there most likely failed for
 * it, and its own message may not say which disk.
 */
static void note_full_disk(char *error, size_t size, const char *path)
{
	struct statvfs fs;
	unsigned long long free_bytes;
	size_t len = strlen(error);

	if (!path || statvfs(path, &fs) < 0)
		return;
	free_bytes = (unsigned long long)fs.f_bavail * fs.f_frsize;
	if (free_bytes >= 64 * 1024 || len + 1 >= size)
		return;
	snprintf(error + len, size - len,
	         "; no space left on the file system of '%s' (%llu KiB "
	         "free)",
	         path, free_bytes / 1024);
}

/*
 * The setup of `job` runs: 0 while it does, or when the job ended with it
 * (*out filled: it failed, was cancelled, or the command could not start);
 * 1 when it succeeded and the command now runs.
 */
static int poll_setup(orch_job_result *out, orch_worker *worker, orch_job *job)
{
	local_worker *lw = (local_worker *)worker;
	char *record;
	int status, code, error;
	pid_t r = waitpid(job->pid, &status, WNOHANG);

	if (r == 0)
		return 0;
	if (r < 0)
		return orch_error_os("cannot wait for the setup process %d",
		                     (int)job->pid);
	code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	if (group_alive(job->pgid))
		kill(-job->pgid, SIGKILL);
	job->in_setup = 0;
	out->exit_status = code;
	if (job->term_sent_ms) {
		snprintf(out->error, sizeof(out->error),
		         "terminated during the setup (exit status %d)", code);
	} else if (code != 0) {
		job->setup_failed = out->setup_failed = 1;
		snprintf(out->error, sizeof(out->error),
		         "setup failed on slot %d of worker %s: exit status %d",
		         job->slot, worker->name, code);
	} else {
		record = slot_setup_record(lw, job->slot);
		error = write_file(record, job->setup_hash,
		                   strlen(job->setup_hash));
		free(record);
		if (error == 0 && (error = spawn(job, job->command,
		                                 job->status_path, 0)) == 0) {
			out->exit_status = 0;
			return 1;
		}
		out->exit_status = -1;
		snprintf(out->error, sizeof(out->error), "%s",
		         orch_error_message());
	}
	out->phase = ORCH_JOB_EXITED;
	job->exited = 1;
	job->exit_status = out->exit_status;
	job->result = *out;
	job->finished_poll = 1;
	return 0;
}

static int local_poll(orch_job_result *out, orch_worker *worker, orch_job *job)
{
	local_worker *lw = (local_worker *)worker;
	int status, error;

	if (job->finished_poll) {
		*out = job->result;
		return 0;
	}
	memset(out, 0, sizeof(*out));
	out->phase = ORCH_JOB_RUNNING;
	escalate(job);
	if (job->in_setup && (error = poll_setup(out, worker, job)) <= 0)
		return error;
	if (!job->exited) {
		if (job->pid > 0) {
			struct rusage usage;
			pid_t r = wait4(job->pid, &status, WNOHANG, &usage);
			if (r == 0)
				return 0;
			if (r < 0)
				return orch_error_os(
				    "cannot wait for task process %d",
				    (int)job->pid);
			/*
			 * Our child is the wrapper; its usage includes the
			 * command's, which it waited for (and what that one
			 * waited for): CPU time of all of them, peak RSS of
			 * the largest one. Processes left running in the
			 * background, killed below, are not counted.
			 */
			job->cpu_ms =
			    (int64_t)(usage.ru_utime.tv_sec +
			              usage.ru_stime.tv_sec) *
			        1000 +
			    (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) /
			        1000;
			job->max_rss_kb = usage.ru_maxrss; /* Linux: in kB */
			job->usage_known = 1;
			job->exit_status = WIFEXITED(status)
			                       ? WEXITSTATUS(status)
			                       : 128 + WTERMSIG(status);
		} else {
			/* adopted: not our child; its wrapper leaves the status
			 */
			if (group_alive(job->pgid))
				return 0;
			if (read_status_file(job->status_path,
			                     &job->exit_status) < 0)
				job->exit_status = 128 + SIGKILL;
		}
		job->exited = 1;
		/* nothing of the task may outlive it and touch the worktree */
		if (group_alive(job->pgid))
			kill(-job->pgid, SIGKILL);
	}
	out->phase = ORCH_JOB_EXITED;
	out->exit_status = job->exit_status;
	if (job->usage_known) {
		out->cpu_ms = job->cpu_ms;
		out->max_rss_kb = job->max_rss_kb;
		out->cpu_known = out->rss_known = 1;
	}
	if (job->exit_status == 0 && !job->term_sent_ms) {
		if ((error = commit_result(&out->result, lw, job)) < 0) {
			snprintf(out->error, sizeof(out->error), "%s",
			         orch_error_message());
			note_full_disk(out->error, sizeof(out->error),
			               job->worktree);
			out->exit_status = -1;
		} else {
			out->has_result = 1;
		}
	} else if (job->term_sent_ms) {
		snprintf(out->error, sizeof(out->error),
		         "terminated (exit status %d)", job->exit_status);
	} else {
		snprintf(out->error, sizeof(out->error), "exit status %d",
		         job->exit_status);
		note_full_disk(out->error, sizeof(out->error), job->worktree);
	}
	job->result = *out;
	job->finished_poll = 1;
	return 0;
}

static int local_read_output(orch_buf *out, orch_worker *worker, orch_job *job)
{
	int fd = open(job->log_path, O_RDONLY);
	char chunk[65536];
	ssize_t n;
	(void)worker;

	if (fd < 0)
		return errno == ENOENT
		           ? 0
		           : orch_error_os("cannot read '%s'", job->log_path);
	if (lseek(fd, job->log_offset, SEEK_SET) < 0) {
		close(fd);
		return orch_error_os("cannot read '%s'", job->log_path);
	}
	while ((n = read(fd, chunk, sizeof(chunk))) > 0) {
		orch_buf_put(out, chunk, (size_t)n);
		job->log_offset += n;
	}
	close(fd);
	return 0;
}

static int local_read_shared(orch_buf *out, orch_worker *worker, orch_job *job)
{
	orch_buf bytes = {0};
	struct stat st;
	int error;
	(void)worker;

	if (stat(job->share_path, &st) < 0)
		return errno == ENOENT
		           ? 0
		           : orch_error_os("cannot read '%s'", job->share_path);
	if (st.st_size > ORCH_SHARED_MAX) {
		orch_error_set("the share file holds %lld bytes, more than the "
		               "%d an attempt may share; none of it is stored",
		               (long long)st.st_size, ORCH_SHARED_MAX);
		return ORCH_EINVALID;
	}
	if ((error = orch_read_file(&bytes, job->share_path)) < 0)
		goto done;
	if (bytes.len > ORCH_SHARED_MAX) {
		/* grew since: still a task's process writing to it */
		orch_error_set("the share file holds %zu bytes, more than the "
		               "%d an attempt may share; none of it is stored",
		               bytes.len, ORCH_SHARED_MAX);
		error = ORCH_EINVALID;
		goto done;
	}
	orch_buf_put(out, bytes.ptr, bytes.len);
done:
	orch_buf_free(&bytes);
	return error;
}

static int local_cancel(orch_worker *worker, orch_job *job)
{
	(void)worker;
	if (!job->exited && !job->term_sent_ms) {
		job->term_sent_ms = orch_monotonic_ms();
		if (job->term_sent_ms == 0)
			job->term_sent_ms = 1;
		if (group_alive(job->pgid))
			kill(-job->pgid, SIGTERM);
	}
	return 0;
}

static int local_finish(orch_worker *worker, orch_job *job, int keep,
                        char **out_worktree)
{
	local_worker *lw = (local_worker *)worker;
	int error = 0;

	if (out_worktree)
		*out_worktree = NULL;
	if (!job)
		return 0;
	if (!job->exited && job->pid > 0) {
		/* never leave a child behind */
		kill(-job->pgid, SIGKILL);
		waitpid(job->pid, NULL, 0);
	}
	if (job->slot >= 0) {
		slot_detach(lw, job);
		if (job->setup_failed) {
			/* out of this run: locked until local_close */
			lw->broken = orch_realloc(
			    lw->broken, (lw->nbroken + 1) * sizeof(int));
			lw->broken[lw->nbroken++] = job->slot;
		} else if (keep) {
			slot_keep(lw, job->slot);
			if (out_worktree)
				*out_worktree = orch_strdup(job->worktree);
		} else {
			lw->held = orch_realloc(lw->held,
			                        (lw->nheld + 1) * sizeof(int));
			lw->held[lw->nheld++] = job->slot;
		}
	}
	{
		char *status = setup_status_path(job);
		const char *done[] = {
		    job->slot_path,   job->log_path,     job->pid_path,
		    job->status_path, job->prompt_path,  job->conflicts_path,
		    job->share_path,  job->context_path, status};
		for (size_t i = 0; i < sizeof(done) / sizeof(*done); i++)
			orch_trash_put(lw->trash, done[i]);
		free(status);
	}
	job_free(job);
	return error;
}

static int read_pid_file(const char *path, pid_t *out)
{
	int pid;
	int error = read_status_file(path, &pid);

	if (error == 0)
		*out = (pid_t)pid;
	return error;
}

/*
 * The slot of `job`'s attempt: from its pid file ("<pid> <slot>"), or
 * from the .slot file an attempt started by an earlier version wrote.
 */
static int read_job_slot(orch_job *job)
{
	FILE *fp = fopen(job->pid_path, "r");
	int pid, slot, n = 0;

	if (fp) {
		n = fscanf(fp, "%d %d", &pid, &slot);
		fclose(fp);
	}
	if (n == 2 && slot >= 0) {
		job->slot = slot;
		return 0;
	}
	return read_status_file(job->slot_path, &job->slot);
}

/*
 * A local attempt's locator: "<host>:<pid file>". Only an attempt of this
 * host can be reaped or adopted here.
 */
static char *local_locator(orch_worker *worker, const orch_job_spec *spec)
{
	local_worker *lw = (local_worker *)worker;
	char host[256] = "";

	gethostname(host, sizeof(host) - 1);
	return pathf("%s:%s/run/%s+%s.pid", host, lw->root, spec->plan,
	             spec->task);
}

/* The pid file of `locator` when it names an attempt of this host. */
static const char *locator_pid_path(const char *locator, char *host,
                                    size_t hostlen)
{
	const char *colon = locator ? strchr(locator, ':') : NULL;
	char here[256] = "";

	snprintf(host, hostlen, "%.*s", colon ? (int)(colon - locator) : 1,
	         colon ? locator : "?");
	gethostname(here, sizeof(here) - 1);
	if (!colon || strcmp(host, here))
		return NULL;
	return colon + 1;
}

static int local_reap(orch_worker *worker, const char *locator)
{
	const char *pid_path;
	char host[256];
	pid_t pgid = 0;

	if (!(pid_path = locator_pid_path(locator, host, sizeof(host)))) {
		orch_error_set("an attempt on '%s' was started on host '%s'; "
		               "it cannot be stopped from here",
		               worker->name, host);
		return ORCH_ELOCKED;
	}
	if (read_pid_file(pid_path, &pgid) < 0)
		return 0; /* the wrapper never started */
	if (!group_alive(pgid))
		return 0;
	kill(-pgid, SIGTERM);
	for (int i = 0; i < KILL_GRACE_MS / 50 && group_alive(pgid); i++)
		usleep(50 * 1000);
	if (group_alive(pgid))
		kill(-pgid, SIGKILL);
	for (int i = 0; i < 100 && group_alive(pgid); i++)
		usleep(10 * 1000);
	return group_alive(pgid)
	           ? orch_error_set("cannot stop process group %d", (int)pgid)
	           : 0;
}

static int local_adopt(orch_job **out, orch_worker *worker,
                       const orch_job_spec *spec, const char *locator)
{
	local_worker *lw = (local_worker *)worker;
	orch_job *job;
	pid_t pgid = 0;
	int status;
	struct stat st;
	char host[256];

	*out = NULL;
	if (!locator_pid_path(locator, host, sizeof(host)))
		return ORCH_ENOTFOUND;
	job = job_new(lw, spec);
	if (read_job_slot(job) < 0 || job->slot < 0 ||
	    !(job->worktree = slot_dir(lw, job->slot)) ||
	    stat(job->worktree, &st) < 0 ||
	    read_pid_file(job->pid_path, &pgid) < 0) {
		job->slot = -1;
		job_free(job);
		return ORCH_ENOTFOUND;
	}
	job->pgid = pgid;
	if (!group_alive(pgid) &&
	    read_status_file(job->status_path, &status) < 0) {
		/* killed before it could say how it ended: run it again */
		job_free(job);
		return ORCH_ENOTFOUND;
	}
	/* the slot is ours now; the log is read again from its start */
	slot_write_owner(lw, job->slot, job->name);
	*out = job;
	return 0;
}

/*
 * At the end of a run, remove the slots nobody uses (taking each one's
 * lock first, so that a concurrent run never loses a slot under it):
 * after success no worktree is left behind; kept ones stay until `clean`.
 */
static void remove_idle_slots(local_worker *lw)
{
	for (int n = 0; n < 4096; n++) {
		char *path = slot_dir(lw, n), *lock = slot_lock(lw, n),
		     *name = slot_name(n);
		struct stat st;
		int exists = stat(path, &st) == 0,
		    locked = stat(lock, &st) == 0;
		if (exists && !locked && mkdir(lock, 0755) == 0) {
			char *record = slot_setup_record(lw, n);
			drop_worktree(lw, name, path);
			unlink(record);
			free(record);
			rmdir(lock);
		}
		free(path);
		free(lock);
		free(name);
		if (!exists && !locked)
			break;
	}
}

static void local_close(orch_worker *worker)
{
	local_worker *lw = (local_worker *)worker;

	if (!lw)
		return;
	for (size_t i = 0; i < lw->nbroken; i++)
		slot_release(lw, lw->broken[i]);
	free(lw->broken);
	for (size_t i = 0; i < lw->nheld; i++)
		slot_release(lw, lw->held[i]);
	free(lw->held);
	remove_idle_slots(lw);
	orch_trash_free(lw->trash);
	orch_worker_base_clear(worker);
	free(lw->token);
	free(lw->root);
	free(lw->env_file);
	free(lw);
}

static const orch_worker_ops local_ops = {
    .start = local_start,
    .poll = local_poll,
    .read_output = local_read_output,
    .read_shared = local_read_shared,
    .cancel = local_cancel,
    .finish = local_finish,
    .locator = local_locator,
    .reap = local_reap,
    .adopt = local_adopt,
    .close = local_close,
};

static int local_open(orch_worker **out, const orch_worker_config *config,
                      git_repository *repo, const char *token, int jobs)
{
	local_worker *lw = orch_calloc(1, sizeof(*lw));
	const char *common = git_repository_commondir(repo);

	orch_worker_base_init(&lw->parent, &local_ops, config);
	if (jobs > 0)
		lw->parent.slots = jobs; /* -j N: this machine's slots */
	lw->repo = repo;
	lw->token = orch_strdup(token);
	lw->root = pathf("%sorchestrate", common);
	lw->trash = orch_trash_new(common);
	lw->env_file = config->env_file ? orch_strdup(config->env_file) : NULL;
	*out = &lw->parent;
	return 0;
}

/* As many slots as CPUs online (at most 4096, the most a config sets). */
static int local_default_slots(void)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	return cpus < 1 ? 1 : cpus > 4096 ? 4096 : (int)cpus;
}

static void local_address(orch_buf *out, const orch_worker_config *config)
{
	(void)config;
	orch_buf_puts(out, "local");
}

static int local_check(orch_worker_check_report *out,
                       const orch_worker_config *config, git_repository *repo)
{
	orch_buf summary = {0};
	int slots = config->slots > 0 ? config->slots : local_default_slots();

	(void)repo;
	memset(out, 0, sizeof(*out));
	orch_buf_printf(&summary, "local, %d slots", slots);
	out->summary = orch_buf_detach(&summary);
	return 0;
}

/*
 * Remove a slot kept for a failed task, given its path; a slot no longer
 * kept is left alone (0).
 */
static int local_remove_kept(const orch_worker_config *config,
                             git_repository *repo, const char *path)
{
	local_worker lw = {0};
	char *root =
	    pathf("%sorchestrate/slots/", git_repository_commondir(repo));
	char *name = NULL, *end, *kept = NULL;
	size_t len = strlen(root);
	struct stat st;
	long n;
	int error = 0;

	(void)config;
	lw.repo = repo;
	lw.root = pathf("%sorchestrate", git_repository_commondir(repo));
	if (strncmp(path, root, len) ||
	    (n = strtol(path + len, &end, 10)) < 0 || *end) {
		error = orch_error_set(
		    "'%s' is not a worktree of git orchestrate", path);
		goto done;
	}
	/* a slot no longer kept was removed already, and may be another
	 * attempt's now */
	kept = pathf("%s/slots/%ld.lock/kept", lw.root, n);
	if (stat(kept, &st) < 0)
		goto done;
	name = slot_name((int)n);
	if ((error = drop_worktree(&lw, name, path)) == 0)
		slot_release(&lw, (int)n);
done:
	free(kept);
	free(name);
	free(root);
	free(lw.root);
	return error;
}

/*
 * The slots kept for failed tasks of `plan`: their lock has a `kept` file
 * and its owner names "<plan>+<task>". Read from the slots directory
 * itself, so a slot the plan's state forgot is found too.
 */
static int local_list_kept(orch_strvec *out, const orch_worker_config *config,
                           git_repository *repo, const char *plan)
{
	char *slots =
	    pathf("%sorchestrate/slots", git_repository_commondir(repo));
	size_t plan_len = strlen(plan);
	struct dirent *entry;
	DIR *dir;

	(void)config;
	if (!(dir = opendir(slots))) {
		int error = errno == ENOENT
		                ? 0
		                : orch_error_os("cannot read '%s'", slots);
		free(slots);
		return error;
	}
	while ((entry = readdir(dir)) != NULL) {
		char *kept, *owner, name[400] = "", *end;
		long n = strtol(entry->d_name, &end, 10);
		struct stat st;
		FILE *fp;
		int pid = 0, is_kept;
		if (end == entry->d_name || strcmp(end, ".lock") || n < 0)
			continue;
		kept = pathf("%s/%ld.lock/kept", slots, n);
		owner = pathf("%s/%ld.lock/owner", slots, n);
		is_kept = stat(kept, &st) == 0;
		if (is_kept && (fp = fopen(owner, "r")) != NULL) {
			if (fscanf(fp, "%d %399s", &pid, name) != 2)
				name[0] = '\0';
			fclose(fp);
		}
		/* ids never hold '+': "<plan>+" names the plan exactly */
		if (is_kept && !strncmp(name, plan, plan_len) &&
		    name[plan_len] == '+')
			orch_strvec_push_take(out, pathf("%s/%ld", slots, n));
		free(kept);
		free(owner);
	}
	closedir(dir);
	free(slots);
	return 0;
}

const orch_worker_kind orch_worker_local_kind = {
    .name = "local",
    .open = local_open,
    .default_slots = local_default_slots,
    .address = local_address,
    .check = local_check,
    .remove_kept = local_remove_kept,
    .list_kept = local_list_kept,
};
