/* git orchestrate init: a starter orchestrate.ini and example plan. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "util.h"
#include "synopsis.h"

static const char init_usage[] = SYNOPSIS_INIT;

static const char starter_config[] =
    "; git-orchestrate workers (see 'git orchestrate workers').\n"
    "; With no [worker] section, tasks run on this machine with one slot\n"
    "; per CPU. Shared settings go here (committed); personal ones in\n"
    "; $GIT_DIR/orchestrate.ini, which wins.\n"
    ";\n"
    "; [worker \"local\"]\n"
    "; host = local\n"
    "; slots = 4\n"
    ";\n"
    "; [worker \"vps1\"]\n"
    "; host = vps1.example.com        ; or an alias from ~/.ssh/config\n"
    "; user = deploy\n"
    "; port = 22\n"
    "; identity = ~/.ssh/id_ed25519\n"
    "; host-key-check = strict        ; or accept-new\n"
    "; slots = 2\n"
    "; capabilities = backend, frontend\n"
    "; workdir = ~/.cache/git-orchestrate\n";

static const char starter_plan[] =
    "; An example plan: 'git orchestrate plan example-plan.ini', then\n"
    "; 'git orchestrate run' and 'git orchestrate merge'.\n"
    "[plan]\n"
    "retries = 1\n"
    "timeout = 10m\n"
    "; agent = claude -p \"$(cat \"$ORCHESTRATE_PROMPT_FILE\")\"\n"
    "; verify = make test\n"
    "\n"
    "[task \"schema\"]\n"
    "run = mkdir -p db && echo 'create table users (id int);' > db/schema.sql\n"
    "files = db/*\n"
    "duration = 5s\n"
    "\n"
    "[task \"api\"]\n"
    "run = mkdir -p api && echo 'users endpoint' > api/users.txt\n"
    "depends = schema\n"
    "files = api/*\n"
    "duration = 5s\n"
    "\n"
    "[task \"docs\"]\n"
    "run = mkdir -p docs && echo 'how to use the users API' > docs/users.md\n"
    "files = docs/*\n"
    "priority = low\n"
    "duration = 2s\n";

/* Create `path` with `text`, never replacing an existing file. */
static int write_new(const char *path, const char *text, int *created)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
	size_t len = strlen(text);

	*created = 0;
	if (fd < 0 && errno == EEXIST)
		return 0;
	if (fd < 0)
		return orch_error_os("cannot create '%s'", path);
	if (write(fd, text, len) != (ssize_t)len) {
		orch_error_os("cannot write '%s'", path);
		close(fd);
		unlink(path);
		return ORCH_ERROR;
	}
	if (close(fd) < 0)
		return orch_error_os("cannot write '%s'", path);
	*created = 1;
	return 0;
}

int cmd_init(int argc, char **argv, orch_cli *cli)
{
	char path[4096];
	int error, created;
	const char *files[2][2] = {{"orchestrate.ini", starter_config},
	                           {"example-plan.ini", starter_plan}};

	if (cli_wants_help(argc, argv, init_usage))
		return 0;
	if (argc > 1)
		return cli_usage_error(init_usage, "unexpected argument '%s'",
		                       argv[1]);
	if ((error = cli_open(cli)) < 0)
		return cli_fail(error);
	if (!cli->workdir) {
		orch_error_set("this repository has no work tree");
		orch_error_hint(
		    "run 'git orchestrate init' in a clone with a work tree");
		return cli_fail(ORCH_EINVALID);
	}
	for (int i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s%s", cli->workdir, files[i][0]);
		if ((error = write_new(path, files[i][1], &created)) < 0)
			return cli_fail(error);
		if (created)
			printf("created %s\n", files[i][0]);
		else
			printf("kept %s (it exists; not overwritten)\n",
			       files[i][0]);
	}
	printf("next: git orchestrate plan example-plan.ini && git orchestrate "
	       "run\n");
	return 0;
}
