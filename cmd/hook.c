/*
 * git orchestrate hook post-receive|pre-receive: what the shims of hooks/
 * call with git's stdin on a hub. git orchestrate hooks install [GIT_DIR]:
 * put the shims in place.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "hook.h"
#include "util.h"
#include "synopsis.h"

#define HOOK_USAGE SYNOPSIS_HOOK
#define HOOKS_USAGE SYNOPSIS_HOOKS

static void print_report(orch_hook_level level, const char *message,
                         void *payload)
{
	static const char *const prefix[] = {
	    "orchestrate: ", "warning: ", "error: "};
	(void)payload;
	fprintf(stderr, "%s%s\n", prefix[level], message);
}

static int read_stdin(orch_buf *out)
{
	char chunk[8192];

	for (;;) {
		ssize_t n = read(0, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return orch_error_os("cannot read the hook's input");
		if (n == 0)
			break;
		orch_buf_put(out, chunk, (size_t)n);
	}
	orch_buf_puts(out, "");
	return 0;
}

/*
 * The repository the hook runs in, as git describes it in the environment
 * (GIT_DIR; in pre-receive also GIT_OBJECT_DIRECTORY and
 * GIT_ALTERNATE_OBJECT_DIRECTORIES, the quarantine holding the pushed
 * objects). Those variables are then removed, so that commands the hook
 * runs (verify) see their own repository, not the hub.
 */
static int open_from_env(orch_cli *cli)
{
	static const char *const vars[] = {
	    "GIT_DIR",        "GIT_WORK_TREE",
	    "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY",
	    "GIT_PREFIX",     "GIT_ALTERNATE_OBJECT_DIRECTORIES",
	    "GIT_NAMESPACE",  "GIT_QUARANTINE_PATH",
	};
	int error;

	if ((error = git_repository_open_ext(
	         &cli->repo, NULL, GIT_REPOSITORY_OPEN_FROM_ENV, NULL)) < 0) {
		orch_error_git(error, "not in a git repository");
		orch_error_hint("the hook runs from the shims that 'git "
		                "orchestrate hooks install' puts in a "
		                "repository");
		return ORCH_EINVALID;
	}
	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
		unsetenv(vars[i]);
	cli->workdir = git_repository_workdir(cli->repo);
	cli->gitdir = git_repository_commondir(cli->repo);
	return 0;
}

int cmd_hook(int argc, char **argv, orch_cli *cli)
{
	orch_hook_updates updates = {0};
	orch_buf input = {0};
	int pre, error, status = ORCH_EXIT_OK;
	size_t refused = 0;

	if (cli_wants_help(argc, argv, HOOK_USAGE))
		return 0;
	if (argc != 2 ||
	    (strcmp(argv[1], "post-receive") && strcmp(argv[1], "pre-receive")))
		return cli_usage_error(HOOK_USAGE,
		                       "give the hook: post-receive or "
		                       "pre-receive");
	pre = !strcmp(argv[1], "pre-receive");
	if ((error = read_stdin(&input)) < 0 ||
	    (error = orch_hook_parse(&updates, input.ptr, input.len)) < 0 ||
	    (error = open_from_env(cli)) < 0)
		goto fail;
	if (pre) {
		if ((error =
		         orch_hook_pre_receive(&refused, cli->repo, &updates,
		                               print_report, NULL)) < 0)
			goto fail;
		if (refused)
			status = ORCH_EXIT_FAILED;
	} else {
		if ((error = orch_store_open(&cli->store, cli->repo)) < 0 ||
		    (error = orch_hook_post_receive(cli->store, &updates,
		                                    print_report, NULL)) < 0)
			goto fail;
	}
	goto done;
fail:
	cli_print_error();
	/* the push happened already: post-receive only reports */
	status = pre ? ORCH_EXIT_FAILED : ORCH_EXIT_OK;
	if (!pre)
		fprintf(stderr, "orchestrate: nothing recorded\n");
done:
	orch_hook_updates_free(&updates);
	orch_buf_free(&input);
	return status;
}

int cmd_hooks(int argc, char **argv, orch_cli *cli)
{
	static const char *const names[] = {"pre-receive", "post-receive"};
	char *dir = NULL;
	int error;

	if (cli_wants_help(argc, argv, HOOKS_USAGE))
		return 0;
	if (argc < 2 || strcmp(argv[1], "install"))
		return cli_usage_error(HOOKS_USAGE, "say what to do: install");
	if (argc > 3)
		return cli_usage_error(HOOKS_USAGE, "too many arguments");
	if (argc == 3)
		error = git_repository_open_ext(
		    &cli->repo, argv[2], GIT_REPOSITORY_OPEN_NO_SEARCH, NULL);
	else
		error = git_repository_open_ext(&cli->repo, ".", 0, NULL);
	if (error < 0) {
		orch_error_git(error, "'%s' is not a git repository",
		               argc == 3 ? argv[2] : ".");
		orch_error_hint("give the hub's directory, e.g. 'git "
		                "orchestrate hooks install /srv/hub.git'");
		error = ORCH_EINVALID;
		goto fail;
	}
	if ((error = orch_hook_dir(&dir, cli->repo)) < 0)
		goto fail;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		orch_hook_install_action action;
		if ((error = orch_hook_install(&action, dir, names[i])) < 0)
			goto fail;
		switch (action) {
		case ORCH_HOOK_INSTALLED:
			printf("%s: installed in %s\n", names[i], dir);
			break;
		case ORCH_HOOK_KEPT:
			printf("%s: installed in %s; the hook that was there "
			       "is kept as %s" ORCH_HOOK_KEPT_SUFFIX
			       " and runs first\n",
			       names[i], dir, names[i]);
			break;
		case ORCH_HOOK_UPDATED:
			printf("%s: updated in %s\n", names[i], dir);
			break;
		case ORCH_HOOK_UNCHANGED:
			printf("%s: already installed in %s\n", names[i], dir);
			break;
		}
	}
	free(dir);
	return 0;
fail:
	free(dir);
	return cli_fail(error);
}
