/*
 * git orchestrate log: the state log of a plan, a git log of its ref; with
 * a task, that task's transitions and its stored output.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cmd.h"
#include "plans.h"
#include "shared.h"
#include "util.h"
#include "synopsis.h"

static const char log_usage[] = SYNOPSIS_LOG;

/*
 * A task's transitions are listed from commits marked so (RS, the line,
 * US, the body, US) that the line of a commit of several changes can be
 * the task's own (see task_lines).
 */
#define TASK_FORMAT "--format=%x1e%h %ad %s%x1f%b%x1f"

/* argv of `git log` over `refname` (-- `path` when not NULL). free() it. */
static char **git_log_argv(char **extra, int nextra, const char *refname,
                           const char *path)
{
	char **args = orch_calloc((size_t)nextra + 10, sizeof(char *));
	int n = 0;

	args[n++] = "git";
	/* we page ourselves, around git log and the task's output */
	if (path)
		args[n++] = "--no-pager";
	args[n++] = "log";
	args[n++] = path ? TASK_FORMAT : "--format=%h %ad %s";
	args[n++] = "--date=format:%Y-%m-%d %H:%M:%S";
	for (int i = 0; i < nextra; i++)
		args[n++] = extra[i];
	args[n++] = (char *)refname;
	args[n++] = "--";
	if (path)
		args[n++] = (char *)path;
	args[n] = NULL;
	return args;
}

/* Run `git log` as a child, its output into `out`; 0 when it succeeded. */
static int run_git_log(orch_buf *out, char **args)
{
	int fds[2], status, error = 0;
	char chunk[65536];
	ssize_t got;
	pid_t pid;

	fflush(stdout);
	if (pipe(fds) < 0)
		return orch_error_os("cannot run git log");
	if ((pid = fork()) < 0) {
		close(fds[0]);
		close(fds[1]);
		return orch_error_os("cannot run git log");
	}
	if (pid == 0) {
		close(fds[0]);
		if (dup2(fds[1], 1) < 0)
			_exit(127);
		close(fds[1]);
		execvp("git", args);
		fprintf(stderr, "error: cannot run git: %s\n", strerror(errno));
		_exit(127);
	}
	close(fds[1]);
	while ((got = read(fds[0], chunk, sizeof(chunk))) != 0) {
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			error = orch_error_os("cannot read what git log said");
			break;
		}
		orch_buf_put(out, chunk, (size_t)got);
	}
	close(fds[0]);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return orch_error_os("cannot wait for git log");
	if (error == 0 && (!WIFEXITED(status) || WEXITSTATUS(status))) {
		orch_error_set("git log failed");
		return ORCH_ERROR;
	}
	return error;
}

/* Is `subject` that of a commit of several changes ("N changes")? */
static int several_changes(const char *subject, size_t len)
{
	size_t digits = 0;

	while (digits < len && subject[digits] >= '0' && subject[digits] <= '9')
		digits++;
	return digits > 0 && len - digits == strlen(" changes") &&
	       !memcmp(subject + digits, " changes", len - digits);
}

/*
 * Write git log's output of TASK_FORMAT as "hash date line" per commit,
 * the line being the subject, or for a commit of several changes the
 * task's own lines of its body (joined by "; "); what git adds after each
 * commit (a diff, a stat) follows as git wrote it. Output in another
 * format (a --format of the user's) is written as it is.
 */
static void task_lines(const orch_buf *log, const char *task)
{
	const char *p = log->ptr, *end = log->ptr + log->len;
	size_t tlen = strlen(task);

	if (!log->len || *p != '\x1e') {
		fwrite(log->ptr, 1, log->len, stdout);
		return;
	}
	while (p < end) {
		const char *head = p + 1, *us1, *us2, *next, *subject;
		int shown = 0;
		us1 = memchr(head, '\x1f', (size_t)(end - head));
		us2 = us1 ? memchr(us1 + 1, '\x1f', (size_t)(end - us1 - 1))
		          : NULL;
		if (!us2) {
			fwrite(p, 1, (size_t)(end - p), stdout);
			return;
		}
		next = memchr(us2, '\x1e', (size_t)(end - us2));
		if (!next)
			next = end;
		/* "hash date time subject" */
		subject = head;
		for (int spaces = 0; subject < us1 && spaces < 3; subject++)
			if (*subject == ' ')
				spaces++;
		fwrite(head, 1, (size_t)(subject - head), stdout);
		if (several_changes(subject, (size_t)(us1 - subject))) {
			for (const char *l = us1 + 1; l < us2;) {
				const char *nl =
				    memchr(l, '\n', (size_t)(us2 - l));
				size_t len = (size_t)((nl ? nl : us2) - l);
				if (len > tlen + 2 && !memcmp(l, task, tlen) &&
				    l[tlen] == ':' && l[tlen + 1] == ' ') {
					if (shown++)
						fputs("; ", stdout);
					fwrite(l, 1, len, stdout);
				}
				l += len + (nl != NULL);
			}
		}
		if (!shown)
			fwrite(subject, 1, (size_t)(us1 - subject), stdout);
		/* git ends the format with a newline, then what follows */
		fwrite(us2 + 1, 1, (size_t)(next - us2 - 1), stdout);
		p = next;
	}
}

static int task_log(orch_cli *cli, const char *plan, const char *task,
                    const char *refname, char **extra, int nextra)
{
	orch_task_record record;
	orch_buf out = {0};
	char **args = NULL;
	int error;

	if ((error = orch_plans_read_task(&record, cli->store, plan, task)) < 0)
		goto done;
	/*
	 * The transitions are the commits of the plan ref that touch the
	 * task's file: `git log` shows them, with every option the user adds
	 * (there is no libgit2 API for its formatting), run with an argv.
	 */
	args = git_log_argv(extra, nextra, refname, record.state_path);
	cli_start_pager(cli);
	if ((error = run_git_log(&out, args)) < 0)
		goto done;
	task_lines(&out, task);
	printf("\n");
	if (!record.has_log) {
		printf("no output recorded for %s (%s)\n", task,
		       record.log_path);
	} else {
		printf("output of %s, attempt %d (%s%s):\n", task,
		       record.state.attempts, record.log_path,
		       record.log.len >= ORCH_LOG_MAX ? ", its last 1 MiB"
		                                      : "");
		fwrite(record.log.ptr, 1, record.log.len, stdout);
		if (record.log.len &&
		    record.log.ptr[record.log.len - 1] != '\n')
			printf("\n");
	}
done:
	cli_end_pager();
	orch_buf_free(&out);
	free(args);
	orch_task_record_clear(&record);
	return error;
}

/*
 * log --shared: the findings of `plan` (of `task` only, when not NULL),
 * oldest first, each under a line naming who found it, its text indented.
 */
static int shared_log(orch_cli *cli, const char *plan, const char *task)
{
	orch_findings findings;
	int error;

	if ((error = orch_shared_read(&findings, cli->store, plan)) < 0)
		return error;
	cli_start_pager(cli);
	for (size_t i = 0; i < findings.count; i++) {
		const orch_finding *f = &findings.items[i];
		time_t when = (time_t)(f->time_ms / 1000);
		char date[64] = "";
		struct tm tm;
		const char *p = f->text;

		if (task && strcmp(task, f->task))
			continue;
		if (localtime_r(&when, &tm))
			strftime(date, sizeof(date), "%Y-%m-%d %H:%M:%S", &tm);
		printf("%s %s (attempt %d, on %s)\n", date, f->task, f->attempt,
		       f->worker ? f->worker : "?");
		while (*p) {
			size_t len = strcspn(p, "\n");
			printf("    %.*s\n", (int)len, p);
			p += len;
			if (*p)
				p++;
		}
		printf("\n");
	}
	cli_end_pager();
	orch_findings_clear(&findings);
	return 0;
}

int cmd_log(int argc, char **argv, orch_cli *cli)
{
	char *name = NULL, refname[256];
	const char *plan_arg = NULL, *task = NULL;
	int error, first_extra = argc, shared = 0;
	char **args;

	if (cli_wants_help(argc, argv, log_usage))
		return 0;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--")) {
			first_extra = i + 1;
			break;
		}
		if (!strcmp(argv[i], "--shared")) {
			shared = 1;
			continue;
		}
		if (argv[i][0] == '-')
			return cli_usage_error(
			    log_usage,
			    "unknown option '%s' (git log options go after "
			    "'--')",
			    argv[i]);
		if (task)
			return cli_usage_error(
			    log_usage, "unexpected argument '%s'", argv[i]);
		if (plan_arg)
			task = argv[i];
		else
			plan_arg = argv[i];
	}
	if (task && !orch_id_valid(task))
		return cli_usage_error(log_usage, "invalid task id '%s'", task);
	if (shared && first_extra < argc)
		return cli_usage_error(log_usage,
		                       "--shared takes no git log options");
	if ((error = cli_open(cli)) < 0 ||
	    (error = cli_resolve_plan(&name, cli, plan_arg)) < 0)
		return cli_fail(error);
	if ((error = orch_store_plan_ref(refname, sizeof(refname), cli->store,
	                                 name)) < 0) {
		free(name);
		return cli_fail(error);
	}
	if (shared) {
		orch_task_record record;
		/* an unknown task is an error, not an empty list */
		error =
		    task ? orch_plans_read_task(&record, cli->store, name, task)
		         : 0;
		if (task)
			orch_task_record_clear(&record);
		if (error == 0)
			error = shared_log(cli, name, task);
		free(name);
		return error < 0 ? cli_fail(error) : 0;
	}
	if (task) {
		error = task_log(cli, name, task, refname, argv + first_extra,
		                 argc - first_extra);
		free(name);
		return error < 0 ? cli_fail(error) : 0;
	}
	/*
	 * Formatting, paging and every `git log` option are git's own: there is
	 * no libgit2 API for them, so hand over to git log (argv, no shell),
	 * which pages on a terminal as git does.
	 */
	args =
	    git_log_argv(argv + first_extra, argc - first_extra, refname, NULL);
	fflush(stdout);
	cli_close(cli);
	execvp("git", args);
	orch_error_os("cannot run git log");
	free(args);
	free(name);
	return cli_fail(ORCH_ERROR);
}
