#ifndef ORCH_CMD_H
#define ORCH_CMD_H

#include <git2.h>

#include "config.h"
#include "error.h"
#include "metrics.h"
#include "store.h"

/*
 * The command-line front. main.c parses the options every command accepts
 * (--config FILE, -h) and dispatches to one cmd_<name>() per file; each
 * returns the process exit status (SPEC 6): 0 success, 1 some task failed
 * or conflicted, 2 bad usage or invalid input, 130 interrupted.
 */

#define ORCH_EXIT_OK 0
#define ORCH_EXIT_FAILED 1
#define ORCH_EXIT_USAGE 2
#define ORCH_EXIT_INTERRUPTED 130

typedef struct {
	const char *config_path; /* --config FILE, or NULL */
	git_repository *repo;    /* opened by cli_open */
	orch_store *store;
	const char *workdir; /* top of the work tree, or NULL when bare */
	const char *gitdir;
} orch_cli;

typedef int (*cmd_fn)(int argc, char **argv, orch_cli *cli);

/* Open the repository of the current directory and its store. */
int cli_open(orch_cli *cli);
void cli_close(orch_cli *cli);

/* Load the configuration files of SPEC 4 (top, $GIT_DIR, --config). */
int cli_load_config(orch_config **out, orch_cli *cli);

/*
 * PLAN argument: NULL means "the only plan" (error with the list and a hint
 * when there are none or several). Checks the name. *out is malloc'd.
 */
int cli_resolve_plan(char **out, orch_cli *cli, const char *arg);

/* Print "error: <message>" and the hint line on stderr. */
void cli_print_error(void);
/* Print the error and map a lib/ code to an exit status (2 for bad input). */
int cli_fail(int code);
/* Print "usage: ..." for a bad command line; returns ORCH_EXIT_USAGE. */
int cli_usage_error(const char *usage, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* 1 when argv has -h/--help before "--": print `usage` on stdout. */
int cli_wants_help(int argc, char **argv, const char *usage);

/* 1 when stdout is a terminal (progress lines, pager). */
int cli_is_tty(int fd);

/*
 * When stdout is a terminal, send it through the user's pager, chosen as
 * git chooses it: $GIT_PAGER, core.pager, $PAGER, else "less" (with LESS=FRX
 * and LV=-c unless set); "" or "cat" means none. cli_end_pager() closes
 * stdout into the pager and waits for it; both do nothing without one.
 * Returns 1 when a pager was started.
 */
int cli_start_pager(orch_cli *cli);
void cli_end_pager(void);

/*
 * What a plan's runs achieved, for a summary line, into `out`:
 * "makespan 3.0s, task time 9.0s, speedup 3.0x"; "nothing ran yet" when no
 * attempt started. With a known estimate (`est` may be NULL), the makespan
 * `plan` estimated follows: "makespan 3.0s (estimated 2.0s on 4 slots), ...",
 * "nothing ran yet (estimated 2.0s on 4 slots)".
 */
void cli_format_achieved(char *out, size_t outlen, const orch_metrics *m,
                         const orch_plan_estimate *est);

/* Set by SIGINT/SIGTERM handlers installed with cli_catch_signals. */
extern volatile int cli_interrupted;
void cli_catch_signals(void);

int cmd_init(int argc, char **argv, orch_cli *cli);
int cmd_plan(int argc, char **argv, orch_cli *cli);
int cmd_run(int argc, char **argv, orch_cli *cli);
int cmd_status(int argc, char **argv, orch_cli *cli);
int cmd_log(int argc, char **argv, orch_cli *cli);
int cmd_merge(int argc, char **argv, orch_cli *cli);
int cmd_rollback(int argc, char **argv, orch_cli *cli);
int cmd_workers(int argc, char **argv, orch_cli *cli);
int cmd_cancel(int argc, char **argv, orch_cli *cli);
int cmd_retry(int argc, char **argv, orch_cli *cli);
int cmd_clean(int argc, char **argv, orch_cli *cli);
int cmd_hook(int argc, char **argv, orch_cli *cli);
int cmd_hooks(int argc, char **argv, orch_cli *cli);
int cmd_sync(int argc, char **argv, orch_cli *cli);
int cmd_plans(int argc, char **argv, orch_cli *cli);
int cmd_forget(int argc, char **argv, orch_cli *cli);
int cmd_set(int argc, char **argv, orch_cli *cli);
int cmd_share(int argc, char **argv, orch_cli *cli);

#endif
