#ifndef ORCH_PLAN_H
#define ORCH_PLAN_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

/*
 * A plan: its settings and its tasks, as read from an INI file (SPEC 3), a
 * directory of Markdown prompts, or the plan.json stored on the plan ref.
 */

typedef enum {
	ORCH_PRIORITY_LOW = 0,
	ORCH_PRIORITY_MEDIUM = 1,
	ORCH_PRIORITY_HIGH = 2,
	ORCH_PRIORITY_CRITICAL = 3
} orch_priority;

typedef struct {
	char *id;
	char *run;           /* command; NULL when the task has only a prompt */
	char *prompt;        /* prompt text (prompt-file is read in); or NULL */
	orch_strvec depends; /* task ids */
	orch_strvec files;   /* paths/globs the task expects to modify */
	orch_strvec needs;   /* capabilities a worker must have */
	orch_strvec env;     /* names of variables set for its command */
	orch_priority priority;
	int64_t duration_ms; /* estimate; -1 when not given */
	int retries;         /* -1: the plan's */
	int64_t timeout_ms;  /* -1: the plan's; 0: none */
	int line;            /* line of its section in the source, 0 if none */
} orch_task;

/*
 * The makespan `plan` estimated when it stored the plan: on `slots` slots
 * (the configured workers' at that time), against `serial_ms` one by one.
 * slots is 0 when unknown (plans stored by older versions).
 */
/* rate-limit-wait when the plan gives none */
#define ORCH_RATE_LIMIT_WAIT_MS (30 * 60 * 1000)

typedef struct {
	int64_t makespan_ms;
	int64_t serial_ms;
	int slots;
} orch_plan_estimate;

typedef struct {
	char *name;
	char *base; /* branch name; NULL until resolved (current branch) */
	char *base_commit;  /* hex oid recorded when stored; NULL before */
	char *agent;        /* default command for prompt-only tasks, or NULL */
	int retries;        /* default 2 */
	int64_t timeout_ms; /* 0: none */
	int merge_auto;     /* merge = auto (or auto-rerun) */
	int merge_rerun;    /* merge = auto-rerun */
	int rerun_limit;    /* re-runs on conflict (default 1) */
	char *verify;       /* or NULL */
	orch_strvec env;    /* names of variables set for every task */
	char *setup; /* run once in each worktree slot before its first task
	               (again when it changes), or NULL */
	char *rate_limit; /* rate-limit = REGEX (POSIX extended), or NULL */
	int64_t rate_limit_wait_ms; /* longest pause on a rate limit */
	char *source; /* file or directory it was read from, or NULL */
	orch_plan_estimate estimate; /* stored in plan.json when known */
	orch_task *tasks;
	size_t ntasks;
	void *index; /* private: id -> position hash table */
} orch_plan;

/*
 * Read a plan INI file. On bad input returns ORCH_EINVALID with a message
 * "FILE:LINE: what is wrong" (malformed line, unknown section or key, bad
 * value, invalid or duplicate task id, line too long, ...). The plan name
 * defaults to the file's base name without extension. Caller frees *out
 * with orch_plan_free. Does not check dependencies: see orch_plan_validate.
 */
int orch_plan_load_ini(orch_plan **out, const char *path);

/*
 * Read a plan given as JSON `text` (plan --from-json): the [plan] keys at the
 * top level and "tasks", a list of objects with "id" and a task's keys (the
 * INI names; lists as arrays of strings or comma-separated strings). Values
 * are checked as in an INI plan; ORCH_EINVALID messages name the file and
 * the JSON path ("p.json: tasks[3].depends: ..."). `path` names the file
 * (prompt-file is relative to it) or is NULL for stdin. A plan without
 * "name" is named `name`, else the file's base name (stdin: an error).
 * Caller frees *out with orch_plan_free. Does not check dependencies: see
 * orch_plan_validate.
 */
int orch_plan_load_json(orch_plan **out, const char *path, const char *name,
                        const char *text, size_t len);

/*
 * Read a directory of Markdown prompt files, one task per *.md (id = file
 * name without .md), with an optional leading `---` block of `key: value`
 * lines (depends, files, priority, needs, duration). Name defaults to the
 * directory's base name. Errors as for orch_plan_load_ini.
 */
int orch_plan_load_prompts(orch_plan **out, const char *dir);

/*
 * Check what needs the whole plan: every dependency names a task (error
 * "FILE:LINE: task 'a' depends on unknown task 'b'"), no task depends on
 * itself, no cycle (ORCH_ECYCLE, message "dependency cycle: a -> b -> a"),
 * every task has a command (run, or prompt with an agent). ORCH_EINVALID
 * for the rest.
 */
int orch_plan_validate(const orch_plan *plan);

/* Position of task `id`, or -1. O(1). */
long orch_plan_find(const orch_plan *plan, const char *id);

/*
 * Rebuild the id index after tasks were added, removed or renamed by hand
 * (the loaders index what they read). ORCH_EINVALID names a duplicate id.
 */
int orch_plan_reindex(orch_plan *plan);

/*
 * Where `task` was given, for messages: "FILE:LINE", "DIR/ID.md:LINE",
 * "FILE: tasks[N].FIELD" for a JSON plan (FIELD may be NULL), or
 * "plan 'NAME'" when the plan has no source.
 */
void orch_plan_task_where(char *out, size_t outlen, const orch_plan *plan,
                          const orch_task *task, const char *field);

/* The command a task runs: its `run`, else the plan's agent. Borrowed. */
const char *orch_plan_command(const orch_plan *plan, const orch_task *task);
int orch_plan_task_retries(const orch_plan *plan, const orch_task *task);
int64_t orch_plan_task_timeout(const orch_plan *plan, const orch_task *task);

/*
 * Change `key` of task `id` to `value` as `git orchestrate set` does:
 * priority, timeout, retries or needs, read as in a plan file. On a bad
 * key or value returns ORCH_EINVALID, naming the key and saying what is
 * accepted, and leaves the task as it was.
 */
int orch_plan_set_task(orch_plan *plan, const char *id, const char *key,
                       const char *value);

/*
 * plan.json of `plan` with task `id` changed by `assignments` (KEY=VALUE
 * each, applied one after the other as orch_plan_set_task applies them),
 * leaving `plan` as it is and without a copy of it: only its list of tasks
 * is copied, shallowly. *out is NULL when the assignments change nothing.
 * Errors as orch_plan_set_task's. Caller frees *out with free().
 */
int orch_plan_set_task_json(char **out, const orch_plan *plan, const char *id,
                            const orch_strvec *assignments);

/* Normalized JSON of the whole plan (plan.json). Caller frees with free(). */
int orch_plan_to_json(char **out, const orch_plan *plan);
/* Parse plan.json; caller frees *out with orch_plan_free. */
int orch_plan_from_json(orch_plan **out, const char *json, size_t len);

const char *orch_priority_name(orch_priority priority);
/* Returns 0 and *out, or -1 for an unknown name. */
int orch_priority_parse(orch_priority *out, const char *name);

void orch_plan_free(orch_plan *plan);

#endif
