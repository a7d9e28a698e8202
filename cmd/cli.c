/* Helpers shared by the subcommands: repository, config, errors, signals. */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cmd.h"
#include "lease.h"
#include "util.h"

volatile int cli_interrupted;

int cli_open(orch_cli *cli)
{
	int error;

	if (cli->repo)
		return 0;
	if ((error = git_repository_open_ext(&cli->repo, ".", 0, NULL)) < 0) {
		orch_error_git(error, "not in a git repository");
		orch_error_hint("run git orchestrate inside a repository, or "
		                "'git init' one");
		return ORCH_EINVALID;
	}
	cli->workdir = git_repository_workdir(cli->repo);
	cli->gitdir = git_repository_commondir(cli->repo);
	if ((error = orch_store_open(&cli->store, cli->repo)) < 0)
		return error;
	return 0;
}

void cli_close(orch_cli *cli)
{
	orch_store_free(cli->store);
	cli->store = NULL;
	git_repository_free(cli->repo);
	cli->repo = NULL;
}

int cli_load_config(orch_config **out, orch_cli *cli)
{
	char *top = NULL, *local = NULL;
	const char *paths[4];
	size_t n = 0;
	int error;

	if (cli->workdir) {
		top = malloc(strlen(cli->workdir) + 20);
		sprintf(top, "%sorchestrate.ini", cli->workdir);
		paths[n++] = top;
	}
	if (cli->gitdir) {
		local = malloc(strlen(cli->gitdir) + 20);
		sprintf(local, "%sorchestrate.ini", cli->gitdir);
		paths[n++] = local;
	}
	if (cli->config_path)
		paths[n++] = cli->config_path;
	paths[n] = NULL;
	error = orch_config_load(out, paths, cli->config_path);
	free(top);
	free(local);
	return error;
}

/* The one plan of `plans` that holds leases (is running), or NULL. */
static char *only_running_plan(orch_cli *cli, const orch_strvec *plans)
{
	const char *running = NULL;

	for (size_t i = 0; i < plans->count; i++) {
		orch_strvec leases = {0};
		int held = orch_lease_list(&leases, cli->store,
		                           plans->items[i]) == 0 &&
		           leases.count > 0;
		orch_strvec_free(&leases);
		if (held && running)
			return NULL;
		if (held)
			running = plans->items[i];
	}
	return running ? orch_strdup(running) : NULL;
}

int cli_resolve_plan(char **out, orch_cli *cli, const char *arg)
{
	orch_strvec plans = {0};
	int error = 0;

	*out = NULL;
	if (arg) {
		if (!orch_id_valid(arg)) {
			orch_error_set("invalid plan name '%s'", arg);
			orch_error_hint("plan names are 1-100 characters of "
			                "A-Z a-z 0-9 . _ -");
			return ORCH_EINVALID;
		}
		*out = orch_strdup(arg);
		return 0;
	}
	if ((error = orch_store_list_plans(&plans, cli->store)) < 0)
		goto done;
	if (plans.count == 1) {
		*out = orch_strdup(plans.items[0]);
	} else if (plans.count > 1 &&
	           (*out = only_running_plan(cli, &plans)) != NULL) {
		/* several plans, but exactly one is running: that one */
	} else if (plans.count == 0) {
		orch_error_set("no plan is stored in this repository");
		orch_error_hint("store one with 'git orchestrate plan FILE'");
		error = ORCH_EINVALID;
	} else {
		orch_buf names = {0};
		for (size_t i = 0; i < plans.count; i++)
			orch_buf_printf(&names, "%s%s", i ? ", " : "",
			                plans.items[i]);
		orch_error_set("%zu plans are stored (%s): say which",
		               plans.count, names.ptr);
		orch_error_hint("give the plan name, e.g. 'git orchestrate "
		                "status %s'; 'git orchestrate plans' lists "
		                "them with their states",
		                plans.items[0]);
		orch_buf_free(&names);
		error = ORCH_EINVALID;
	}
done:
	orch_strvec_free(&plans);
	return error;
}

void cli_print_error(void)
{
	const char *msg = orch_error_message();
	const char *hint = orch_error_hint_text();

	fprintf(stderr, "error: %s\n", *msg ? msg : "unknown error");
	if (hint)
		fprintf(stderr, "hint: %s\n", hint);
}

int cli_fail(int code)
{
	cli_print_error();
	switch (code) {
	case ORCH_EINVALID:
	case ORCH_ECYCLE:
	case ORCH_ENOTFOUND:
	case ORCH_EEXISTS:
		return ORCH_EXIT_USAGE;
	case ORCH_EINTR:
		return ORCH_EXIT_INTERRUPTED;
	default:
		return ORCH_EXIT_FAILED;
	}
}

int cli_usage_error(const char *usage, const char *fmt, ...)
{
	va_list ap;

	fputs("error: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nusage: %s\n", usage);
	return ORCH_EXIT_USAGE;
}

int cli_wants_help(int argc, char **argv, const char *usage)
{
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--"))
			break;
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			printf("usage: %s\n", usage);
			return 1;
		}
	}
	return 0;
}

int cli_is_tty(int fd)
{
	return isatty(fd);
}

void cli_format_achieved(char *out, size_t outlen, const orch_metrics *m,
                         const orch_plan_estimate *est)
{
	char span[32], task[32], estimated[96] = "";

	if (est && est->slots > 0) {
		orch_format_duration(span, sizeof(span), est->makespan_ms);
		snprintf(estimated, sizeof(estimated),
		         " (estimated %s on %d slot%s)", span, est->slots,
		         est->slots == 1 ? "" : "s");
	}
	if (!m->started_ms) {
		snprintf(out, outlen, "nothing ran yet%s", estimated);
		return;
	}
	orch_format_duration(span, sizeof(span), m->makespan_ms);
	orch_format_duration(task, sizeof(task), m->task_ms);
	snprintf(out, outlen, "makespan %s%s, task time %s, speedup %.1fx",
	         span, estimated, task, m->speedup);
}

static void on_signal(int sig)
{
	(void)sig;
	cli_interrupted = 1;
}

void cli_catch_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static pid_t pager_pid;

/* The pager git would use, or NULL for none. malloc'd. */
static char *pager_command(orch_cli *cli)
{
	const char *env = getenv("GIT_PAGER");
	char *pager = NULL;

	if (env) {
		pager = orch_strdup(env);
	} else {
		git_config *config = NULL;
		git_buf value = {0};
		if (cli->repo &&
		    git_repository_config_snapshot(&config, cli->repo) == 0 &&
		    git_config_get_string_buf(&value, config, "core.pager") ==
		        0)
			pager = orch_strdup(value.ptr);
		git_buf_dispose(&value);
		git_config_free(config);
		if (!pager && (env = getenv("PAGER")) != NULL)
			pager = orch_strdup(env);
		if (!pager)
			pager = orch_strdup("less");
	}
	if (!*pager || !strcmp(pager, "cat")) {
		free(pager);
		return NULL;
	}
	return pager;
}

int cli_start_pager(orch_cli *cli)
{
	char *pager;
	int fds[2];
	pid_t pid;

	if (pager_pid || !cli_is_tty(1) || !(pager = pager_command(cli)))
		return 0;
	if (pipe(fds) < 0) {
		free(pager);
		return 0;
	}
	fflush(stdout);
	if ((pid = fork()) < 0) {
		close(fds[0]);
		close(fds[1]);
		free(pager);
		return 0;
	}
	if (pid == 0) {
		dup2(fds[0], 0);
		close(fds[0]);
		close(fds[1]);
		setenv("LESS", "FRX", 0);
		setenv("LV", "-c", 0);
		/* the user's own pager command, run by the shell as git does */
		execl("/bin/sh", "sh", "-c", pager, (char *)NULL);
		_exit(127);
	}
	free(pager);
	dup2(fds[1], 1);
	close(fds[0]);
	close(fds[1]);
	/* commands run from here colour their output as for a terminal */
	setenv("GIT_PAGER_IN_USE", "true", 1);
	pager_pid = pid;
	return 1;
}

void cli_end_pager(void)
{
	int status;

	if (!pager_pid)
		return;
	fflush(stdout);
	fclose(stdout);
	while (waitpid(pager_pid, &status, 0) < 0 && errno == EINTR)
		;
	pager_pid = 0;
}
