/*
 * Plans: read from an INI file (through ini_reader), from a directory of
 * Markdown prompts, or from plan.json; checked as a whole; written back as
 * normalized JSON. Task ids are found through a small open-addressing hash
 * table kept behind orch_plan.index, so plans of 100,000 tasks load and
 * validate in linear time.
 */
#include "plan.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "error.h"
#include "ini_reader.h"
#include "json.h"

#define ID_HINT                                                                \
	"ids are 1-100 characters of A-Z a-z 0-9 . _ -, not starting with "    \
	"'.' or '-', without '..', not ending in '.lock'"
#define DURATION_HINT                                                          \
	"a duration is a number with an optional suffix ms, s, m or h, "       \
	"e.g. 90s, 5m or 1h"
#define MAX_RETRIES 1000
#define MAX_RERUNS 100

/* How many members of a long cycle the message shows before eliding. */
#define CYCLE_SHOWN 30

/*
 * The id index: task id -> position in plan->tasks. When `covered` differs
 * from plan->ntasks (tasks added by hand) it is rebuilt on lookup.
 */
struct plan_index {
	orch_strmap ids;
	size_t covered;   /* tasks looked at: plan->ntasks when up to date */
	int from_prompts; /* tasks live in SOURCE/ID.md */
	int from_json;    /* read by orch_plan_load_json: SOURCE: tasks[N] */
};

static struct plan_index *index_of(const orch_plan *plan)
{
	return plan->index;
}

/*
 * Index task `pos`. Returns -1 when it is new, else the position of the
 * task that already has its id (the index keeps that one).
 */
static long index_add(orch_plan *plan, size_t pos)
{
	struct plan_index *idx = index_of(plan);
	size_t found;

	idx->covered = pos + 1;
	if (orch_strmap_get(&found, &idx->ids, plan->tasks[pos].id))
		return (long)found;
	orch_strmap_set(&idx->ids, plan->tasks[pos].id, pos);
	return -1;
}

/* Index every task; *out_dup gets the first duplicate position, or -1. */
static void index_rebuild(const orch_plan *plan, struct plan_index *idx,
                          long *out_dup)
{
	*out_dup = -1;
	orch_strmap_clear(&idx->ids);
	for (size_t i = 0; i < plan->ntasks; i++) {
		if (orch_strmap_get(NULL, &idx->ids, plan->tasks[i].id)) {
			if (*out_dup < 0)
				*out_dup = (long)i;
			continue;
		}
		orch_strmap_set(&idx->ids, plan->tasks[i].id, i);
	}
	idx->covered = plan->ntasks;
}

static orch_plan *plan_new(void)
{
	orch_plan *plan = orch_calloc(1, sizeof(*plan));
	plan->index = orch_calloc(1, sizeof(struct plan_index));
	plan->retries = 2;
	plan->rate_limit_wait_ms = ORCH_RATE_LIMIT_WAIT_MS;
	plan->timeout_ms = 0;
	plan->rerun_limit = 1;
	return plan;
}

/* Append a task with its defaults; *alloc is the capacity of plan->tasks. */
static orch_task *plan_add_task(orch_plan *plan, size_t *alloc, char *id,
                                int line)
{
	orch_task *task;

	if (plan->ntasks == *alloc) {
		*alloc = *alloc ? *alloc * 2 : 16;
		plan->tasks =
		    orch_realloc(plan->tasks, *alloc * sizeof(orch_task));
	}
	task = &plan->tasks[plan->ntasks++];
	memset(task, 0, sizeof(*task));
	task->id = id;
	task->priority = ORCH_PRIORITY_MEDIUM;
	task->duration_ms = -1;
	task->retries = -1;
	task->timeout_ms = -1;
	task->line = line;
	return task;
}

static void task_clear(orch_task *task)
{
	free(task->id);
	free(task->run);
	free(task->prompt);
	orch_strvec_free(&task->depends);
	orch_strvec_free(&task->files);
	orch_strvec_free(&task->needs);
	orch_strvec_free(&task->env);
}

void orch_plan_free(orch_plan *plan)
{
	struct plan_index *idx;

	if (!plan)
		return;
	for (size_t i = 0; i < plan->ntasks; i++)
		task_clear(&plan->tasks[i]);
	free(plan->tasks);
	free(plan->name);
	free(plan->base);
	free(plan->base_commit);
	free(plan->agent);
	free(plan->verify);
	orch_strvec_free(&plan->env);
	free(plan->setup);
	free(plan->rate_limit);
	free(plan->source);
	if ((idx = index_of(plan)) != NULL) {
		orch_strmap_clear(&idx->ids);
		free(idx);
	}
	free(plan);
}

long orch_plan_find(const orch_plan *plan, const char *id)
{
	struct plan_index *idx = index_of(plan);
	size_t pos;
	long dup;

	if (!idx) {
		/* a plan put together by hand, never indexed */
		for (size_t i = 0; i < plan->ntasks; i++)
			if (!strcmp(plan->tasks[i].id, id))
				return (long)i;
		return -1;
	}
	if (idx->covered != plan->ntasks)
		index_rebuild(plan, idx, &dup);
	/* a task renamed by hand since: its old id finds nothing */
	if (!orch_strmap_get(&pos, &idx->ids, id) || pos >= plan->ntasks ||
	    strcmp(plan->tasks[pos].id, id))
		return -1;
	return (long)pos;
}

int orch_plan_reindex(orch_plan *plan)
{
	struct plan_index *idx = index_of(plan);
	long dup;

	if (!idx) {
		idx = orch_calloc(1, sizeof(*idx));
		plan->index = idx;
	}
	index_rebuild(plan, idx, &dup);
	if (dup >= 0) {
		orch_error_set("duplicate task '%s'", plan->tasks[dup].id);
		orch_error_hint("task ids must be unique within a plan");
		return ORCH_EINVALID;
	}
	return 0;
}

const char *orch_plan_command(const orch_plan *plan, const orch_task *task)
{
	return task->run ? task->run : plan->agent;
}

int orch_plan_task_retries(const orch_plan *plan, const orch_task *task)
{
	return task->retries >= 0 ? task->retries : plan->retries;
}

int64_t orch_plan_task_timeout(const orch_plan *plan, const orch_task *task)
{
	return task->timeout_ms >= 0 ? task->timeout_ms : plan->timeout_ms;
}

static const char *priority_names[] = {"low", "medium", "high", "critical"};

const char *orch_priority_name(orch_priority priority)
{
	if ((int)priority < 0 || (int)priority > ORCH_PRIORITY_CRITICAL)
		return "medium";
	return priority_names[priority];
}

int orch_priority_parse(orch_priority *out, const char *name)
{
	for (int i = 0; i <= ORCH_PRIORITY_CRITICAL; i++) {
		if (!strcmp(name, priority_names[i])) {
			*out = (orch_priority)i;
			return 0;
		}
	}
	return -1;
}

/* "FILE:LINE" (or the best we know) of a task, for messages. */
void orch_plan_task_where(char *out, size_t outlen, const orch_plan *plan,
                          const orch_task *task, const char *field)
{
	struct plan_index *idx = index_of(plan);

	if (plan->source && idx && idx->from_json) {
		snprintf(out, outlen, "%s: tasks[%zu]%s%s", plan->source,
		         (size_t)(task - plan->tasks), field ? "." : "",
		         field ? field : "");
	} else if (plan->source && idx && idx->from_prompts) {
		size_t len = strlen(plan->source);
		int slash = len && plan->source[len - 1] == '/';
		snprintf(out, outlen, "%s%s%s.md:%d", plan->source,
		         slash ? "" : "/", task->id,
		         task->line ? task->line : 1);
	} else if (plan->source) {
		snprintf(out, outlen, "%s:%d", plan->source, task->line);
	} else {
		snprintf(out, outlen, "plan '%s'",
		         plan->name ? plan->name : "(unnamed)");
	}
}

/* Base name of `path` without its extension (for the default plan name). */
static char *default_name(const char *path, int strip_extension)
{
	size_t len = strlen(path);
	const char *base, *dot;
	char *resolved = NULL, *name;

	while (len > 1 && path[len - 1] == '/')
		len--;
	base = path + len;
	while (base > path && base[-1] != '/')
		base--;
	if ((base[0] == '.' && (base + 1 == path + len ||
	                        (base[1] == '.' && base + 2 == path + len))) &&
	    (resolved = realpath(path, NULL)) != NULL) {
		/* "." or "..": name it after the directory it stands for */
		name = default_name(resolved, strip_extension);
		free(resolved);
		return name;
	}
	if (strip_extension) {
		dot = NULL;
		for (const char *p = base; p < path + len; p++)
			if (*p == '.')
				dot = p;
		if (dot && dot > base)
			len = (size_t)(dot - path);
	}
	return orch_strndup(base, (size_t)(path + len - base));
}

/* Empty commands and prompts count as absent. */
static void drop_empty(char **str)
{
	if (*str && !**str) {
		free(*str);
		*str = NULL;
	}
}

/*
 * Drop repeated entries from each task's `depends`, which are harmless but
 * would count an edge twice. Unknown ids are left for orch_plan_validate.
 */
static void dedupe_depends(orch_plan *plan)
{
	size_t *stamp = orch_calloc(plan->ntasks, sizeof(size_t));

	for (size_t i = 0; i < plan->ntasks; i++) {
		orch_strvec *deps = &plan->tasks[i].depends;
		size_t kept = 0;
		for (size_t k = 0; k < deps->count; k++) {
			long pos = orch_plan_find(plan, deps->items[k]);
			if (pos >= 0 && stamp[pos] == i + 1) {
				free(deps->items[k]);
				continue;
			}
			if (pos >= 0)
				stamp[pos] = i + 1;
			deps->items[kept++] = deps->items[k];
		}
		deps->count = kept;
		if (deps->items)
			deps->items[kept] = NULL;
	}
	free(stamp);
}

static void finish_plan(orch_plan *plan)
{
	drop_empty(&plan->agent);
	drop_empty(&plan->verify);
	drop_empty(&plan->setup);
	drop_empty(&plan->rate_limit);
	for (size_t i = 0; i < plan->ntasks; i++) {
		drop_empty(&plan->tasks[i].run);
		drop_empty(&plan->tasks[i].prompt);
	}
	dedupe_depends(plan);
}

/* A whole number in [min, max]; -1 for anything else. */
static int parse_count(long *out, const char *str, long min, long max)
{
	char *end;
	long value;

	if (!isdigit((unsigned char)*str) && *str != '-')
		return -1;
	errno = 0;
	value = strtol(str, &end, 10);
	if (errno || *end || value < min || value > max)
		return -1;
	*out = value;
	return 0;
}

int orch_plan_set_task(orch_plan *plan, const char *id, const char *key,
                       const char *value)
{
	long pos = orch_plan_find(plan, id);
	orch_task *task;
	orch_priority priority;
	int64_t ms;
	long count;

	if (pos < 0) {
		orch_error_set("plan '%s' has no task '%s'", plan->name, id);
		orch_error_hint("'git orchestrate status %s' lists its tasks",
		                plan->name);
		return ORCH_EINVALID;
	}
	task = &plan->tasks[pos];
	if (!strcmp(key, "priority")) {
		if (orch_priority_parse(&priority, value) < 0)
			goto bad;
		task->priority = priority;
	} else if (!strcmp(key, "timeout")) {
		if (orch_parse_duration(&ms, value) < 0)
			goto bad;
		task->timeout_ms = ms;
	} else if (!strcmp(key, "retries")) {
		if (parse_count(&count, value, 0, MAX_RETRIES) < 0)
			goto bad;
		task->retries = (int)count;
	} else if (!strcmp(key, "needs")) {
		/* as in a plan file: a list of capabilities; empty: none */
		orch_strvec_free(&task->needs);
		orch_strvec_split(&task->needs, value, ", \t");
	} else {
		orch_error_set("cannot set '%s' of task '%s': only priority, "
		               "timeout, retries and needs can be set",
		               key, id);
		orch_error_hint("change the other keys in the plan file and "
		                "store it again with 'git orchestrate plan "
		                "FILE' before any task starts");
		return ORCH_EINVALID;
	}
	return 0;
bad:
	orch_error_set("bad %s '%s' for task '%s'", key, value, id);
	if (!strcmp(key, "priority"))
		orch_error_hint("priority is low, medium, high or critical");
	else if (!strcmp(key, "timeout"))
		orch_error_hint(DURATION_HINT "; 0 for none");
	else
		orch_error_hint("retries is a whole number from 0 to 1000");
	return ORCH_EINVALID;
}

/*
 * The INI plan reader.
 */

enum plan_key {
	KEY_NAME,
	KEY_BASE,
	KEY_AGENT,
	KEY_RETRIES,
	KEY_TIMEOUT,
	KEY_MERGE,
	KEY_VERIFY,
	KEY_SETUP,
	KEY_RATE_LIMIT,
	KEY_RATE_LIMIT_WAIT,
	KEY_RUN,
	KEY_PROMPT,
	KEY_PROMPT_FILE,
	KEY_DEPENDS,
	KEY_FILES,
	KEY_PRIORITY,
	KEY_NEEDS,
	KEY_DURATION,
	KEY_ENV,
	KEY_RERUN_LIMIT,
	KEY_COUNT
};

enum { IN_PLAN = 1, IN_TASK = 2 };
/*
 * TEXT values (commands, prompts) and PATTERNs are verbatim (see
 * loader_verbatim); only TEXT continues on indented lines.
 */
enum { ONE_LINE, TEXT, LIST, PATTERN };

static const struct {
	const char *name;
	int where;     /* IN_PLAN, IN_TASK or both */
	int continues; /* what an indented continuation line does */
} plan_keys[KEY_COUNT] = {
    [KEY_NAME] = {"name", IN_PLAN, ONE_LINE},
    [KEY_BASE] = {"base", IN_PLAN, ONE_LINE},
    [KEY_AGENT] = {"agent", IN_PLAN, TEXT},
    [KEY_RETRIES] = {"retries", IN_PLAN | IN_TASK, ONE_LINE},
    [KEY_TIMEOUT] = {"timeout", IN_PLAN | IN_TASK, ONE_LINE},
    [KEY_MERGE] = {"merge", IN_PLAN, ONE_LINE},
    [KEY_VERIFY] = {"verify", IN_PLAN, TEXT},
    [KEY_SETUP] = {"setup", IN_PLAN, TEXT},
    [KEY_RATE_LIMIT] = {"rate-limit", IN_PLAN, PATTERN},
    [KEY_RATE_LIMIT_WAIT] = {"rate-limit-wait", IN_PLAN, ONE_LINE},
    [KEY_RUN] = {"run", IN_TASK, TEXT},
    [KEY_PROMPT] = {"prompt", IN_TASK, TEXT},
    [KEY_PROMPT_FILE] = {"prompt-file", IN_TASK, ONE_LINE},
    [KEY_DEPENDS] = {"depends", IN_TASK, LIST},
    [KEY_FILES] = {"files", IN_TASK, LIST},
    [KEY_PRIORITY] = {"priority", IN_TASK, ONE_LINE},
    [KEY_NEEDS] = {"needs", IN_TASK, LIST},
    [KEY_DURATION] = {"duration", IN_TASK, ONE_LINE},
    [KEY_ENV] = {"env", IN_PLAN | IN_TASK, LIST},
    [KEY_RERUN_LIMIT] = {"rerun-limit", IN_PLAN, ONE_LINE},
};

#define PLAN_KEYS_HINT                                                         \
	"[plan] takes name, base, agent, retries, timeout, merge, verify, "    \
	"setup, env, rate-limit, rate-limit-wait, rerun-limit"
#define TASK_KEYS_HINT                                                         \
	"a task takes run, prompt, prompt-file, depends, files, priority, "    \
	"needs, duration, retries, timeout, env"

struct ini_loader {
	orch_plan *plan;
	const char *path;
	const char
	    *json_at; /* JSON reader: where the value is, "tasks[3].run" */
	char at_buf[600];
	char *dir;   /* directory of the plan file, for prompt-file */
	int where;   /* 0 (before any section), IN_PLAN or IN_TASK */
	size_t task; /* position of the current task */
	size_t task_alloc;
	int plan_seen[KEY_COUNT]; /* line of each key in [plan], 0 if unset */
	int task_seen[KEY_COUNT]; /* the same for the current task */
};

/* Where a value is, for messages: "FILE:LINE", or "FILE: tasks[3].run". */
static const char *at(struct ini_loader *ld, int line)
{
	if (ld->json_at && *ld->json_at)
		snprintf(ld->at_buf, sizeof(ld->at_buf), "%s: %s", ld->path,
		         ld->json_at);
	else if (ld->json_at)
		snprintf(ld->at_buf, sizeof(ld->at_buf), "%s", ld->path);
	else
		snprintf(ld->at_buf, sizeof(ld->at_buf), "%s:%d", ld->path,
		         line);
	return ld->at_buf;
}

static int loader_section(const char *section, int line, void *payload)
{
	struct ini_loader *ld = payload;
	orch_plan *plan = ld->plan;
	const char *start = section, *end = section + strlen(section);
	char *id;
	long dup;
	int error;

	while (isspace((unsigned char)*start))
		start++;
	while (end > start && isspace((unsigned char)end[-1]))
		end--;
	if (end - start == 4 && !strncmp(start, "plan", 4)) {
		ld->where = IN_PLAN;
		return 0;
	}
	error = orch_ini_section_name(&id, section, "task", "task id", ld->path,
	                              line);
	if (error == 1) {
		orch_error_set("%s:%d: unknown section '[%s]'", ld->path, line,
		               section);
		orch_error_hint("a plan has a [plan] section and [task \"ID\"] "
		                "sections");
		return ORCH_EINVALID;
	}
	if (error < 0)
		return error;
	plan_add_task(plan, &ld->task_alloc, id, line);
	if ((dup = index_add(plan, plan->ntasks - 1)) >= 0) {
		orch_error_set("%s:%d: duplicate task '%s' (first defined on "
		               "line %d)",
		               ld->path, line, id, plan->tasks[dup].line);
		orch_error_hint("task ids must be unique within a plan: rename "
		                "one of them");
		return ORCH_EINVALID;
	}
	ld->where = IN_TASK;
	ld->task = plan->ntasks - 1;
	memset(ld->task_seen, 0, sizeof(ld->task_seen));
	return 0;
}

/* "in [plan]" or "in task 'x'", for messages. */
static void loader_context(char *out, size_t outlen,
                           const struct ini_loader *ld)
{
	if (ld->where == IN_PLAN)
		snprintf(out, outlen, "in [plan]");
	else
		snprintf(out, outlen, "in task '%s'",
		         ld->plan->tasks[ld->task].id);
}

/* Add a continuation line, after `newlines` line breaks, to a text. */
static void append_text(char **field, const char *value, int newlines)
{
	orch_buf buf = {0};

	if (!*field || !**field) {
		free(*field);
		*field = orch_strdup(value);
		return;
	}
	orch_buf_puts(&buf, *field);
	while (newlines-- > 0)
		orch_buf_puts(&buf, "\n");
	orch_buf_puts(&buf, value);
	free(*field);
	*field = orch_buf_detach(&buf);
}

static orch_strvec *list_field(struct ini_loader *ld, enum plan_key key)
{
	orch_task *task;

	if (key == KEY_ENV && ld->where == IN_PLAN)
		return &ld->plan->env;
	task = &ld->plan->tasks[ld->task];
	switch (key) {
	case KEY_ENV:
		return &task->env;
	case KEY_DEPENDS:
		return &task->depends;
	case KEY_FILES:
		return &task->files;
	default:
		return &task->needs;
	}
}

/* Ids and capabilities hold no blanks: split on those too. */
static const char *list_separators(enum plan_key key)
{
	return key == KEY_FILES ? "," : ", \t";
}

/* In [plan] there is no task yet: tasks may be NULL, so index it only here. */
static char **text_field(struct ini_loader *ld, enum plan_key key)
{
	switch (key) {
	case KEY_AGENT:
		return &ld->plan->agent;
	case KEY_VERIFY:
		return &ld->plan->verify;
	case KEY_SETUP:
		return &ld->plan->setup;
	case KEY_RUN:
		return &ld->plan->tasks[ld->task].run;
	default:
		return &ld->plan->tasks[ld->task].prompt;
	}
}

static int read_prompt_file(struct ini_loader *ld, orch_task *task,
                            const char *value, int line)
{
	orch_buf path = {0}, text = {0};
	int error = 0;

	if (value[0] != '/' && ld->dir[0])
		orch_buf_printf(&path, "%s/", ld->dir);
	orch_buf_puts(&path, value);
	if (orch_read_file(&text, path.ptr) < 0) {
		orch_error_set("%s: cannot read prompt-file '%s' of task "
		               "'%s': %s",
		               at(ld, line), value, task->id, strerror(errno));
		orch_error_hint("prompt-file is relative to the directory of "
		                "the plan file");
		error = ORCH_EINVALID;
		goto done;
	}
	free(task->prompt);
	task->prompt = orch_buf_detach(&text);
done:
	orch_buf_free(&path);
	orch_buf_free(&text);
	return error;
}

static int bad_value(struct ini_loader *ld, int line, const char *key,
                     const char *value, const char *hint)
{
	char ctx[160];

	loader_context(ctx, sizeof(ctx), ld);
	orch_error_set("%s: bad %s '%s' %s", at(ld, line), key, value, ctx);
	orch_error_hint("%s", hint);
	return ORCH_EINVALID;
}

/*
 * Add the names of an `env` value to *names, each checked (a name given
 * twice is kept once).
 */
static int add_env_names(struct ini_loader *ld, orch_strvec *names,
                         const char *value, int line)
{
	const char *problem;
	char hint[256], *bad;
	int error;

	if (orch_env_names_add(names, value, &bad, &problem) == 0)
		return 0;
	snprintf(hint, sizeof(hint), "%s; " ORCH_ENV_HINT, problem);
	error = bad_value(ld, line, "env name", bad, hint);
	free(bad);
	return error;
}

static int set_value(struct ini_loader *ld, enum plan_key key,
                     const char *value, int line)
{
	orch_plan *plan = ld->plan;
	orch_task *task = ld->where == IN_TASK ? &plan->tasks[ld->task] : NULL;
	orch_priority priority;
	int64_t ms;
	long count;

	switch (key) {
	case KEY_NAME:
		if (!orch_id_valid(value)) {
			orch_error_set("%s: invalid plan name '%s'",
			               at(ld, line), value);
			orch_error_hint("plan names, like task " ID_HINT);
			return ORCH_EINVALID;
		}
		free(plan->name);
		plan->name = orch_strdup(value);
		return 0;
	case KEY_BASE:
		if (!*value)
			return bad_value(ld, line, "base", value,
			                 "base names the branch tasks start "
			                 "from, e.g. base = main");
		free(plan->base);
		plan->base = orch_strdup(value);
		return 0;
	case KEY_MERGE:
		if (strcmp(value, "manual") && strcmp(value, "auto") &&
		    strcmp(value, "auto-rerun"))
			return bad_value(ld, line, "merge", value,
			                 "merge is manual, auto or auto-rerun");
		plan->merge_auto = strcmp(value, "manual") != 0;
		plan->merge_rerun = !strcmp(value, "auto-rerun");
		return 0;
	case KEY_RERUN_LIMIT:
		if (parse_count(&count, value, 0, MAX_RERUNS) < 0)
			return bad_value(ld, line, "rerun-limit", value,
			                 "rerun-limit is a whole number from 0 "
			                 "to 100");
		plan->rerun_limit = (int)count;
		return 0;
	case KEY_RETRIES:
		if (parse_count(&count, value, 0, MAX_RETRIES) < 0)
			return bad_value(ld, line, "retries", value,
			                 "retries is a whole number from 0 "
			                 "to 1000");
		if (task)
			task->retries = (int)count;
		else
			plan->retries = (int)count;
		return 0;
	case KEY_TIMEOUT:
		if (orch_parse_duration(&ms, value) < 0)
			return bad_value(ld, line, "timeout", value,
			                 DURATION_HINT "; 0 for none");
		if (task)
			task->timeout_ms = ms;
		else
			plan->timeout_ms = ms;
		return 0;
	case KEY_DURATION:
		if (orch_parse_duration(&ms, value) < 0)
			return bad_value(ld, line, "duration", value,
			                 DURATION_HINT);
		task->duration_ms = ms;
		return 0;
	case KEY_PRIORITY:
		if (orch_priority_parse(&priority, value) < 0)
			return bad_value(ld, line, "priority", value,
			                 "priority is low, medium, high or "
			                 "critical");
		task->priority = priority;
		return 0;
	case KEY_PROMPT_FILE:
		if (!*value)
			return bad_value(ld, line, "prompt-file", value,
			                 "prompt-file names a file, relative "
			                 "to the plan file");
		return read_prompt_file(ld, task, value, line);
	case KEY_DEPENDS:
	case KEY_FILES:
	case KEY_NEEDS:
		orch_strvec_split(list_field(ld, key), value,
		                  list_separators(key));
		return 0;
	case KEY_ENV:
		return add_env_names(ld, list_field(ld, key), value, line);
	case KEY_RATE_LIMIT: {
		/* the run compiles it the same way: lib/pause.c */
		regex_t re;
		char why[200];
		int rc = regcomp(&re, value, REG_EXTENDED | REG_NEWLINE);
		if (rc) {
			regerror(rc, &re, why, sizeof(why));
			return bad_value(ld, line, "rate-limit", value, why);
		}
		regfree(&re);
		free(plan->rate_limit);
		plan->rate_limit = orch_strdup(value);
		return 0;
	}
	case KEY_RATE_LIMIT_WAIT:
		if (orch_parse_duration(&ms, value) < 0 || ms <= 0)
			return bad_value(ld, line, "rate-limit-wait", value,
			                 DURATION_HINT "; the longest pause "
			                               "after a rate limit");
		plan->rate_limit_wait_ms = ms;
		return 0;
	case KEY_AGENT:
	case KEY_VERIFY:
	case KEY_SETUP:
	case KEY_RUN:
	case KEY_PROMPT: {
		char **field = text_field(ld, key);
		free(*field);
		*field = orch_strdup(value);
		return 0;
	}
	case KEY_COUNT:
		break;
	}
	return 0;
}

static int loader_value(const char *section, const char *name,
                        const char *value, int line, int continuation,
                        void *payload)
{
	struct ini_loader *ld = payload;
	int *seen = ld->where == IN_PLAN ? ld->plan_seen : ld->task_seen;
	char ctx[160];
	int key;

	(void)section;
	if (!ld->where) {
		orch_error_set("%s:%d: key '%s' is outside any section",
		               ld->path, line, name);
		orch_error_hint("put plan settings under [plan] and task "
		                "settings under [task \"ID\"]");
		return ORCH_EINVALID;
	}
	loader_context(ctx, sizeof(ctx), ld);
	for (key = 0; key < KEY_COUNT; key++)
		if (!strcmp(name, plan_keys[key].name) &&
		    (plan_keys[key].where & ld->where))
			break;
	if (key == KEY_COUNT) {
		orch_error_set("%s:%d: unknown key '%s' %s", ld->path, line,
		               name, ctx);
		orch_error_hint("%s", ld->where == IN_PLAN ? PLAN_KEYS_HINT
		                                           : TASK_KEYS_HINT);
		return ORCH_EINVALID;
	}

	if (continuation) {
		switch (plan_keys[key].continues) {
		case TEXT:
			append_text(text_field(ld, (enum plan_key)key), value,
			            continuation);
			return 0;
		case LIST:
			if (key == KEY_ENV)
				return add_env_names(
				    ld, list_field(ld, KEY_ENV), value, line);
			orch_strvec_split(list_field(ld, (enum plan_key)key),
			                  value,
			                  list_separators((enum plan_key)key));
			return 0;
		default:
			orch_error_set("%s:%d: '%s' %s cannot continue on an "
			               "indented line",
			               ld->path, line, name, ctx);
			orch_error_hint(
			    "only run, prompt, agent, verify, setup, "
			    "depends, files, needs and env continue "
			    "on indented lines; unindent a new key");
			return ORCH_EINVALID;
		}
	}

	if (seen[key]) {
		orch_error_set("%s:%d: '%s' given twice %s (first on line %d)",
		               ld->path, line, name, ctx, seen[key]);
		orch_error_hint("give each key once per section; continue a "
		                "long value on indented lines");
		return ORCH_EINVALID;
	}
	if ((key == KEY_PROMPT && seen[KEY_PROMPT_FILE]) ||
	    (key == KEY_PROMPT_FILE && seen[KEY_PROMPT])) {
		orch_error_set(
		    "%s:%d: task '%s' has both prompt and "
		    "prompt-file (line %d)",
		    ld->path, line, ld->plan->tasks[ld->task].id,
		    seen[key == KEY_PROMPT ? KEY_PROMPT_FILE : KEY_PROMPT]);
		orch_error_hint("keep one of them");
		return ORCH_EINVALID;
	}
	seen[key] = line;
	return set_value(ld, (enum plan_key)key, value, line);
}

/*
 * Commands and prompts are the rest of the line, ';' and '#' included (a
 * shell's `a ; b`, a prompt's "#42"); names, numbers, durations and lists
 * may be followed by an inline comment.
 */
static int loader_verbatim(const char *name, void *payload)
{
	const struct ini_loader *ld = payload;

	for (int key = 0; key < KEY_COUNT; key++)
		if (!strcmp(name, plan_keys[key].name) &&
		    (plan_keys[key].where & ld->where))
			return plan_keys[key].continues == TEXT ||
			       plan_keys[key].continues == PATTERN;
	return 0;
}

int orch_plan_load_ini(orch_plan **out, const char *path)
{
	struct ini_loader ld = {0};
	const char *slash = strrchr(path, '/');
	int error;

	*out = NULL;
	ld.plan = plan_new();
	ld.path = path;
	ld.dir = slash ? orch_strndup(path, (size_t)(slash - path + 1))
	               : orch_strdup("");
	if (slash && slash > path)
		ld.dir[slash - path] =
		    '\0'; /* "a/b.ini" -> "a"; "/b.ini" -> "/" */
	if ((error = orch_ini_parse(path, loader_section, loader_verbatim,
	                            loader_value, &ld)) < 0)
		goto done;
	if (!ld.plan->name)
		ld.plan->name = default_name(path, 1);
	ld.plan->source = orch_strdup(path);
	finish_plan(ld.plan);
	*out = ld.plan;
	ld.plan = NULL;
done:
	orch_plan_free(ld.plan);
	free(ld.dir);
	return error;
}

/*
 * The JSON plan reader (plan --from-json): the INI plan's keys in JSON. Each
 * value goes through set_value as if it came from an INI line, so both
 * forms are checked alike; messages name the JSON path instead of a line.
 */

/* A \u0000 in a JSON string would end the C string: refuse, never cut. */
static int has_nul_escape(const char *text, size_t len)
{
	for (size_t i = 0; i + 1 < len; i++) {
		if (text[i] != '\\')
			continue;
		if (text[i + 1] == 'u' && i + 5 < len &&
		    !strncmp(text + i + 2, "0000", 4))
			return 1;
		i++; /* the escaped character */
	}
	return 0;
}

static int json_error(struct ini_loader *ld, const char *hint, const char *fmt,
                      const char *arg)
{
	orch_buf msg = {0};

	orch_buf_printf(&msg, fmt, arg ? arg : "");
	orch_error_set("%s: %s", at(ld, 0), msg.ptr);
	if (hint)
		orch_error_hint("%s", hint);
	orch_buf_free(&msg);
	return ORCH_EINVALID;
}

/* The text an INI line would give for a string or number; NULL otherwise. */
static char *json_scalar(const cJSON *item, int numbers)
{
	char num[64];
	double value;

	if (cJSON_IsString(item))
		return orch_strdup(item->valuestring);
	if (!numbers || !cJSON_IsNumber(item))
		return NULL;
	value = item->valuedouble;
	if (value > -1e15 && value < 1e15 && value == (double)(long long)value)
		snprintf(num, sizeof(num), "%lld", (long long)value);
	else
		snprintf(num, sizeof(num), "%.17g", value);
	return orch_strdup(num);
}

/* Set `key` from a JSON value found at `path` ("tasks[3].depends"). */
static int json_set(struct ini_loader *ld, int key, const cJSON *item,
                    const char *path)
{
	char elem_path[300];
	const cJSON *elem;
	size_t n = 0;
	char *text;
	int error;

	ld->json_at = path;
	if (plan_keys[key].continues == LIST && cJSON_IsArray(item)) {
		cJSON_ArrayForEach(elem, item)
		{
			snprintf(elem_path, sizeof(elem_path), "%s[%zu]", path,
			         n++);
			ld->json_at = elem_path;
			if (!cJSON_IsString(elem))
				return json_error(ld, NULL,
				                  "expected a string%s", NULL);
			if (!*elem->valuestring ||
			    strpbrk(elem->valuestring,
			            list_separators((enum plan_key)key)))
				return json_error(
				    ld,
				    "give each entry of the list as its own "
				    "string, e.g. [\"schema\", \"config\"]",
				    "'%s' is not one entry", elem->valuestring);
			if ((error = set_value(ld, (enum plan_key)key,
			                       elem->valuestring, 0)) < 0)
				return error;
		}
		ld->json_at = path;
		return 0;
	}
	text = json_scalar(item, plan_keys[key].continues == ONE_LINE);
	if (!text)
		return json_error(
		    ld, NULL, "%s",
		    plan_keys[key].continues == LIST
		        ? "expected a list of strings or a comma-separated "
		          "string"
		    : plan_keys[key].continues == TEXT
		        ? "expected a string"
		        : "expected a string or a number");
	error = set_value(ld, (enum plan_key)key, text, 0);
	free(text);
	return error;
}

/*
 * Look `name` up among the keys allowed where the reader is (ld->where);
 * check it is not given twice, nor prompt with prompt-file. Returns the key.
 */
static int json_key(struct ini_loader *ld, const char *name, const char *path)
{
	int *seen = ld->where == IN_PLAN ? ld->plan_seen : ld->task_seen;
	int key;

	ld->json_at = path;
	for (key = 0; key < KEY_COUNT; key++)
		if (!strcmp(name, plan_keys[key].name) &&
		    (plan_keys[key].where & ld->where))
			break;
	if (key == KEY_COUNT)
		return json_error(ld,
		                  ld->where == IN_PLAN
		                      ? PLAN_KEYS_HINT ", and tasks (a list)"
		                      : TASK_KEYS_HINT ", and id",
		                  "unknown key '%s'", name);
	if (seen[key])
		return json_error(ld, "give each key once per object",
		                  "'%s' given twice", name);
	if ((key == KEY_PROMPT && seen[KEY_PROMPT_FILE]) ||
	    (key == KEY_PROMPT_FILE && seen[KEY_PROMPT]))
		return json_error(ld, "keep one of them",
		                  "task '%s' has both prompt and prompt-file",
		                  ld->plan->tasks[ld->task].id);
	seen[key] = 1;
	return key;
}

static int json_task_entry(struct ini_loader *ld, const cJSON *obj, size_t n)
{
	orch_plan *plan = ld->plan;
	char path[300];
	const cJSON *id, *field;
	long dup;
	int key, error, ids = 0;

	snprintf(path, sizeof(path), "tasks[%zu]", n);
	ld->json_at = path;
	if (!cJSON_IsObject(obj))
		return json_error(ld,
		                  "tasks is a list of objects, e.g. "
		                  "{\"id\": \"api\", \"run\": \"make api\"}",
		                  "expected an object%s", NULL);
	snprintf(path, sizeof(path), "tasks[%zu].id", n);
	cJSON_ArrayForEach(id, obj) ids += !strcmp(id->string, "id");
	id = cJSON_GetObjectItemCaseSensitive(obj, "id");
	if (!cJSON_IsString(id))
		return json_error(
		    ld, "every task has an id, e.g. \"id\": \"api\"", "%s",
		    id ? "expected a string" : "missing task id");
	if (ids > 1)
		return json_error(ld, "give each key once per object",
		                  "'%s' given twice", "id");
	if (!orch_id_valid(id->valuestring))
		return json_error(ld, "task " ID_HINT, "invalid task id '%s'",
		                  id->valuestring);
	plan_add_task(plan, &ld->task_alloc, orch_strdup(id->valuestring), 0);
	if ((dup = index_add(plan, plan->ntasks - 1)) >= 0) {
		char first[64];
		snprintf(first, sizeof(first), "%ld", dup);
		orch_error_set("%s: duplicate task '%s' (first in tasks[%s])",
		               at(ld, 0), id->valuestring, first);
		orch_error_hint("task ids must be unique within a plan: rename "
		                "one of them");
		return ORCH_EINVALID;
	}
	ld->where = IN_TASK;
	ld->task = plan->ntasks - 1;
	memset(ld->task_seen, 0, sizeof(ld->task_seen));
	cJSON_ArrayForEach(field, obj)
	{
		if (!strcmp(field->string, "id"))
			continue;
		snprintf(path, sizeof(path), "tasks[%zu].%.200s", n,
		         field->string);
		if ((key = json_key(ld, field->string, path)) < 0)
			return key;
		if ((error = json_set(ld, key, field, path)) < 0)
			return error;
	}
	return 0;
}

int orch_plan_load_json(orch_plan **out, const char *path, const char *name,
                        const char *text, size_t len)
{
	struct ini_loader ld = {0};
	const char *slash, *end = NULL;
	cJSON *root = NULL;
	const cJSON *field, *tasks = NULL, *entry;
	size_t n = 0;
	int key, error = 0;

	*out = NULL;
	ld.plan = plan_new();
	ld.path = path ? path : "<stdin>";
	slash = path ? strrchr(path, '/') : NULL;
	ld.dir = slash ? orch_strndup(path, (size_t)(slash - path + 1))
	               : orch_strdup("");
	if (slash && slash > path)
		ld.dir[slash - path] = '\0';
	ld.json_at = "";
	root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
	/* what follows the value must be blanks: nothing is dropped unseen */
	while (root && end && end < text + len &&
	       (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r'))
		end++;
	if (root && end && end < text + len) {
		cJSON_Delete(root);
		root = NULL;
	}
	if (!root) {
		size_t line = 1, col = 1;
		for (const char *p = text; end && p < end && p < text + len;
		     p++, col++)
			if (*p == '\n')
				line++, col = 0;
		orch_error_set("%s:%zu:%zu: not valid JSON", ld.path, line,
		               col);
		orch_error_hint("a JSON plan is an object: {\"name\": \"p\", "
		                "\"tasks\": [{\"id\": \"a\", \"run\": "
		                "\"make a\"}]}");
		error = ORCH_EINVALID;
		goto done;
	}
	if (!cJSON_IsObject(root)) {
		error = json_error(&ld,
		                   "a JSON plan is an object with the [plan] "
		                   "keys and \"tasks\"",
		                   "expected an object at the top%s", NULL);
		goto done;
	}
	if (has_nul_escape(text, len)) {
		error = json_error(&ld, "remove the \\u0000 escapes",
		                   "a string holds a NUL character (\\u0000), "
		                   "which no value can hold%s",
		                   NULL);
		goto done;
	}
	ld.where = IN_PLAN;
	cJSON_ArrayForEach(field, root)
	{
		if (!strcmp(field->string, "tasks")) {
			ld.json_at = "tasks";
			if (tasks) {
				error = json_error(
				    &ld, "give each key once per object",
				    "'%s' given twice", "tasks");
				goto done;
			}
			tasks = field;
			continue;
		}
		if ((key = json_key(&ld, field->string, field->string)) < 0) {
			error = key;
			goto done;
		}
		if ((error = json_set(&ld, key, field, field->string)) < 0)
			goto done;
	}
	if (tasks && !cJSON_IsArray(tasks)) {
		ld.json_at = "tasks";
		error = json_error(&ld, "tasks is a list of task objects",
		                   "expected a list%s", NULL);
		goto done;
	}
	cJSON_ArrayForEach(entry, tasks)
	{
		if ((error = json_task_entry(&ld, entry, n++)) < 0)
			goto done;
	}
	if (!ld.plan->name && name) {
		ld.plan->name = orch_strdup(name);
	} else if (!ld.plan->name) {
		if (!path) {
			ld.json_at = "name";
			error =
			    json_error(&ld,
			               "a plan read from stdin needs \"name\" "
			               "(or --name)",
			               "the plan has no name%s", NULL);
			goto done;
		}
		ld.plan->name = default_name(path, 1);
	}
	ld.plan->source = orch_strdup(ld.path);
	index_of(ld.plan)->from_json = 1;
	finish_plan(ld.plan);
	*out = ld.plan;
	ld.plan = NULL;
done:
	cJSON_Delete(root);
	orch_plan_free(ld.plan);
	free(ld.dir);
	return error;
}

/*
 * The Markdown prompts reader.
 */

static int name_compare(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The next line of `text` from *pos: [start, end) without its newline. */
static int next_line(const char *text, size_t len, size_t *pos,
                     const char **start, const char **end)
{
	const char *nl;

	if (*pos >= len)
		return 0;
	*start = text + *pos;
	nl = memchr(*start, '\n', len - *pos);
	*end = nl ? nl : text + len;
	*pos = (size_t)(*end - text) + (nl ? 1 : 0);
	return 1;
}

/* Trim blanks (and a carriage return) around [*start, *end). */
static void trim(const char **start, const char **end)
{
	while (*start < *end && isspace((unsigned char)**start))
		(*start)++;
	while (*end > *start && isspace((unsigned char)(*end)[-1]))
		(*end)--;
}

static int is_fence(const char *start, const char *end)
{
	trim(&start, &end);
	return end - start == 3 && !strncmp(start, "---", 3);
}

/* One `key: value` line of a front matter block. */
static int front_matter_line(orch_task *task, int *seen, const char *file,
                             int line, const char *start, const char *end)
{
	static const char *keys[] = {"depends", "files", "priority", "needs",
	                             "duration"};
	const char *colon = memchr(start, ':', (size_t)(end - start));
	const char *kstart = start, *kend = colon, *vstart, *vend = end;
	char *key = NULL, *value = NULL;
	size_t k;
	int error = 0;

	trim(&start, &end);
	if (start == end || *start == '#')
		return 0;
	if (!colon) {
		orch_error_set("%s:%d: malformed front matter line", file,
		               line);
		orch_error_hint("front matter lines are 'key: value', between "
		                "two '---' lines");
		return ORCH_EINVALID;
	}
	trim(&kstart, &kend);
	vstart = colon + 1;
	trim(&vstart, &vend);
	if (vend - vstart >= 2 && *vstart == '[' && vend[-1] == ']') {
		vstart++; /* a YAML-style [a, b] list */
		vend--;
	}
	key = orch_strndup(kstart, (size_t)(kend - kstart));
	value = orch_strndup(vstart, (size_t)(vend - vstart));
	for (k = 0; k < sizeof(keys) / sizeof(keys[0]); k++)
		if (!strcmp(key, keys[k]))
			break;
	if (k == sizeof(keys) / sizeof(keys[0])) {
		orch_error_set("%s:%d: unknown key '%s' in the front matter of "
		               "task '%s'",
		               file, line, key, task->id);
		orch_error_hint("front matter takes depends, files, priority, "
		                "needs and duration");
		error = ORCH_EINVALID;
		goto done;
	}
	if (seen[k]) {
		orch_error_set("%s:%d: '%s' given twice in the front matter "
		               "(first on line %d)",
		               file, line, key, seen[k]);
		orch_error_hint("give each key once");
		error = ORCH_EINVALID;
		goto done;
	}
	seen[k] = line;
	switch (k) {
	case 0:
		orch_strvec_split(&task->depends, value, ", \t");
		break;
	case 1:
		orch_strvec_split(&task->files, value, ",");
		break;
	case 2:
		if (orch_priority_parse(&task->priority, value) < 0) {
			orch_error_set("%s:%d: bad priority '%s' in task '%s'",
			               file, line, value, task->id);
			orch_error_hint("priority is low, medium, high or "
			                "critical");
			error = ORCH_EINVALID;
		}
		break;
	case 3:
		orch_strvec_split(&task->needs, value, ", \t");
		break;
	default:
		if (orch_parse_duration(&task->duration_ms, value) < 0) {
			orch_error_set("%s:%d: bad duration '%s' in task '%s'",
			               file, line, value, task->id);
			orch_error_hint(DURATION_HINT);
			error = ORCH_EINVALID;
		}
		break;
	}
done:
	free(key);
	free(value);
	return error;
}

/* Fill `task` from the text of its Markdown file. */
static int parse_prompt_text(orch_task *task, const char *file,
                             const char *text, size_t len)
{
	int seen[5] = {0};
	size_t bom = len >= 3 && !memcmp(text, "\xEF\xBB\xBF", 3) ? 3 : 0;
	size_t pos = bom, body = bom;
	const char *start, *end;
	int line = 1, error;

	if (next_line(text, len, &pos, &start, &end) && is_fence(start, end)) {
		size_t block = pos;
		int closed = 0;
		/* find the closing fence first: without one, say just that */
		while (!closed && next_line(text, len, &pos, &start, &end))
			closed = is_fence(start, end);
		if (!closed) {
			orch_error_set("%s:1: the front matter is not closed",
			               file);
			orch_error_hint("end it with a line '---'");
			return ORCH_EINVALID;
		}
		body = pos;
		pos = block;
		while (next_line(text, len, &pos, &start, &end) &&
		       !is_fence(start, end)) {
			line++;
			if ((error = front_matter_line(task, seen, file, line,
			                               start, end)) < 0)
				return error;
		}
	}
	start = text + body;
	end = text + len;
	/* blank lines around the prompt are not part of it */
	while (start < end) {
		const char *nl = memchr(start, '\n', (size_t)(end - start));
		const char *p = start;
		while (p < end && p != nl && isspace((unsigned char)*p))
			p++;
		if (!nl || p != nl)
			break;
		start = nl + 1;
	}
	while (end > start && isspace((unsigned char)end[-1]))
		end--;
	task->prompt =
	    end > start ? orch_strndup(start, (size_t)(end - start)) : NULL;
	return 0;
}

int orch_plan_load_prompts(orch_plan **out, const char *dir)
{
	orch_plan *plan = plan_new();
	orch_strvec names = {0};
	orch_buf path = {0}, text = {0};
	size_t task_alloc = 0;
	DIR *dh = NULL;
	struct dirent *entry;
	int error = 0;

	*out = NULL;
	if (!(dh = opendir(dir))) {
		int missing = errno == ENOENT;
		orch_error_os("cannot read directory '%s'", dir);
		orch_error_hint(
		    "--prompts takes a directory of Markdown files, "
		    "one task per ID.md");
		error = missing ? ORCH_ENOTFOUND : ORCH_EINVALID;
		goto done;
	}
	while ((entry = readdir(dh)) != NULL) {
		size_t len = strlen(entry->d_name);
		struct stat st;
		if (entry->d_name[0] == '.' || len <= 3 ||
		    strcmp(entry->d_name + len - 3, ".md"))
			continue;
		orch_buf_clear(&path);
		orch_buf_printf(&path, "%s/%s", dir, entry->d_name);
		if (stat(path.ptr, &st) < 0 || !S_ISREG(st.st_mode))
			continue;
		orch_strvec_push(&names, entry->d_name);
	}
	if (names.count)
		qsort(names.items, names.count, sizeof(char *), name_compare);

	((struct plan_index *)plan->index)->from_prompts = 1;
	for (size_t i = 0; i < names.count; i++) {
		const char *name = names.items[i];
		char *id = orch_strndup(name, strlen(name) - 3);
		orch_task *task;

		orch_buf_clear(&path);
		orch_buf_printf(&path, "%s%s%s", dir,
		                dir[strlen(dir) - 1] == '/' ? "" : "/", name);
		if (!orch_id_valid(id)) {
			orch_error_set("%s:1: invalid task id '%s'", path.ptr,
			               id);
			orch_error_hint("rename the file: task " ID_HINT);
			free(id);
			error = ORCH_EINVALID;
			goto done;
		}
		task = plan_add_task(plan, &task_alloc, id, 1);
		index_add(plan, plan->ntasks - 1); /* file names are unique */
		orch_buf_clear(&text);
		if ((error = orch_read_file(&text, path.ptr)) < 0) {
			error = ORCH_EINVALID;
			goto done;
		}
		if ((error = parse_prompt_text(task, path.ptr, text.ptr,
		                               text.len)) < 0)
			goto done;
	}
	plan->name = default_name(dir, 0);
	plan->source = orch_strdup(dir);
	finish_plan(plan);
	*out = plan;
	plan = NULL;
done:
	if (dh)
		closedir(dh);
	orch_plan_free(plan);
	orch_strvec_free(&names);
	orch_buf_free(&path);
	orch_buf_free(&text);
	return error;
}

/*
 * Validation.
 */

/* Report the cycle through task `from`, which Kahn's algorithm left over. */
static int report_cycle(const orch_plan *plan, const char *done, size_t from)
{
	size_t n = plan->ntasks, len = 0, first, shown, lowest;
	long *step = orch_malloc(n * sizeof(long));
	size_t *path = orch_malloc(n * sizeof(size_t));
	orch_buf msg = {0};
	char where[512];
	size_t cur = from;

	for (size_t i = 0; i < n; i++)
		step[i] = -1;
	/*
	 * Every task left over still waits for a dependency that is left
	 * over too: follow those until a task comes round again.
	 */
	while (step[cur] < 0) {
		const orch_task *task = &plan->tasks[cur];
		size_t next = cur;
		step[cur] = (long)len;
		path[len++] = cur;
		for (size_t k = 0; k < task->depends.count; k++) {
			long pos = orch_plan_find(plan, task->depends.items[k]);
			if (pos >= 0 && !done[pos]) {
				next = (size_t)pos;
				break;
			}
		}
		cur = next;
	}
	first = (size_t)step[cur];
	/* start the cycle at the task that comes first in the plan */
	lowest = first;
	for (size_t i = first; i < len; i++)
		if (path[i] < path[lowest])
			lowest = i;
	shown = len - first;
	for (size_t k = 0; k < shown; k++) {
		size_t i = first + (lowest - first + k) % shown;
		if (k == CYCLE_SHOWN && shown > CYCLE_SHOWN + 1) {
			orch_buf_printf(&msg, " -> ... (%zu more)",
			                shown - CYCLE_SHOWN);
			break;
		}
		orch_buf_printf(&msg, "%s%s", k ? " -> " : "",
		                plan->tasks[path[i]].id);
	}
	orch_buf_printf(&msg, " -> %s", plan->tasks[path[lowest]].id);
	orch_plan_task_where(where, sizeof(where), plan,
	                     &plan->tasks[path[lowest]], "depends");
	orch_error_set("%s: dependency cycle: %s", where, msg.ptr);
	orch_error_hint("'a -> b' means a depends on b: drop one of these "
	                "dependencies");
	orch_buf_free(&msg);
	free(step);
	free(path);
	return ORCH_ECYCLE;
}

/* Every task: a valid unique id, known dependencies, something to run. */
static int check_tasks(const orch_plan *plan, size_t *indegree,
                       size_t *dependents_start)
{
	char where[512];

	for (size_t i = 0; i < plan->ntasks; i++) {
		const orch_task *task = &plan->tasks[i];
		long self;

		orch_plan_task_where(where, sizeof(where), plan, task, NULL);
		if (!task->id || !orch_id_valid(task->id)) {
			orch_error_set("%s: invalid task id '%s'", where,
			               task->id ? task->id : "");
			orch_error_hint("task " ID_HINT);
			return ORCH_EINVALID;
		}
		if ((self = orch_plan_find(plan, task->id)) != (long)i &&
		    self >= 0) {
			orch_error_set("%s: duplicate task '%s' (first defined "
			               "on line %d)",
			               where, task->id, plan->tasks[self].line);
			orch_error_hint("task ids must be unique within a "
			                "plan: rename one of them");
			return ORCH_EINVALID;
		}
		for (size_t k = 0; k < task->depends.count; k++) {
			const char *dep = task->depends.items[k];
			long pos = orch_plan_find(plan, dep);
			if (pos >= 0 && (size_t)pos != i)
				goto counted;
			orch_plan_task_where(where, sizeof(where), plan, task,
			                     "depends");
			if (pos < 0) {
				orch_error_set("%s: task '%s' depends on "
				               "unknown task '%s'",
				               where, task->id, dep);
				orch_error_hint("depends lists ids of tasks of "
				                "the same plan, separated by "
				                "commas");
				return ORCH_EINVALID;
			}
			if ((size_t)pos == i) {
				orch_error_set("%s: task '%s' depends on "
				               "itself",
				               where, task->id);
				orch_error_hint("remove '%s' from its depends",
				                task->id);
				return ORCH_EINVALID;
			}
		counted:
			indegree[i]++;
			dependents_start[pos + 1]++;
		}
		if (!task->run && !task->prompt) {
			orch_error_set("%s: task '%s' has nothing to run",
			               where, task->id);
			orch_error_hint("give it 'run = COMMAND', or a prompt "
			                "and an 'agent' in [plan]");
			return ORCH_EINVALID;
		}
		if (!task->run && !plan->agent) {
			struct plan_index *idx = index_of(plan);
			orch_error_set("%s: task '%s' has nothing to run: it "
			               "has a prompt but the plan sets no "
			               "agent",
			               where, task->id);
			/* a prompt directory has no [plan] to set it in */
			if (idx && idx->from_prompts)
				orch_error_hint(
				    "set the agent with 'git config "
				    "orchestrate.agent COMMAND' (it reads "
				    "$ORCHESTRATE_PROMPT_FILE)");
			else
				orch_error_hint(
				    "set 'agent = COMMAND' in [plan] or 'git "
				    "config orchestrate.agent COMMAND' (it "
				    "reads $ORCHESTRATE_PROMPT_FILE), or give "
				    "the task a 'run'");
			return ORCH_EINVALID;
		}
	}
	return 0;
}

int orch_plan_validate(const orch_plan *plan)
{
	size_t n = plan->ntasks, head = 0, tail = 0;
	size_t *indegree = NULL, *start = NULL, *fill = NULL;
	size_t *dependents = NULL, *queue = NULL;
	char *done = NULL;
	int error = 0;

	if (!plan->name || !orch_id_valid(plan->name)) {
		orch_error_set("%s%sinvalid plan name '%s'",
		               plan->source ? plan->source : "",
		               plan->source ? ": " : "",
		               plan->name ? plan->name : "");
		orch_error_hint("set 'name = NAME' in [plan] or give --name: "
		                "plan names, like task " ID_HINT);
		return ORCH_EINVALID;
	}
	indegree = orch_calloc(n, sizeof(size_t));
	start = orch_calloc(n + 1, sizeof(size_t));
	if ((error = check_tasks(plan, indegree, start)) < 0)
		goto done;

	/* dependents of each task, compressed: start[t] .. start[t + 1] */
	for (size_t i = 0; i < n; i++)
		start[i + 1] += start[i];
	dependents = orch_malloc((start[n] ? start[n] : 1) * sizeof(size_t));
	fill = orch_malloc((n ? n : 1) * sizeof(size_t));
	memcpy(fill, start, n * sizeof(size_t));
	for (size_t i = 0; i < n; i++) {
		const orch_task *task = &plan->tasks[i];
		for (size_t k = 0; k < task->depends.count; k++) {
			long pos = orch_plan_find(plan, task->depends.items[k]);
			dependents[fill[pos]++] = i;
		}
	}

	/* Kahn: whatever never becomes ready is on or behind a cycle */
	queue = orch_malloc((n ? n : 1) * sizeof(size_t));
	done = orch_calloc(n ? n : 1, 1);
	for (size_t i = 0; i < n; i++)
		if (!indegree[i])
			queue[tail++] = i;
	while (head < tail) {
		size_t t = queue[head++];
		done[t] = 1;
		for (size_t e = start[t]; e < start[t + 1]; e++)
			if (--indegree[dependents[e]] == 0)
				queue[tail++] = dependents[e];
	}
	if (tail < n) {
		size_t from = 0;
		while (done[from])
			from++;
		error = report_cycle(plan, done, from);
	}
done:
	free(indegree);
	free(start);
	free(fill);
	free(dependents);
	free(queue);
	free(done);
	return error;
}

/*
 * JSON.
 */

static void add_string(cJSON *obj, const char *key, const char *value)
{
	if (value)
		cJSON_AddItemToObjectCS(obj, key, cJSON_CreateString(value));
	else
		cJSON_AddItemToObjectCS(obj, key, cJSON_CreateNull());
}

static void add_number(cJSON *obj, const char *key, double value)
{
	cJSON_AddItemToObjectCS(obj, key, cJSON_CreateNumber(value));
}

static void add_list(cJSON *obj, const char *key, const orch_strvec *list)
{
	cJSON *array = cJSON_CreateArray();

	for (size_t i = 0; i < list->count; i++)
		cJSON_AddItemToArray(array, cJSON_CreateString(list->items[i]));
	cJSON_AddItemToObjectCS(obj, key, array);
}

static int strvec_equal(const orch_strvec *a, const orch_strvec *b)
{
	if (a->count != b->count)
		return 0;
	for (size_t i = 0; i < a->count; i++)
		if (strcmp(a->items[i], b->items[i]))
			return 0;
	return 1;
}

int orch_plan_set_task_json(char **out, const orch_plan *plan, const char *id,
                            const orch_strvec *assignments)
{
	orch_plan view;
	orch_task *task;
	const orch_task *was;
	long pos = orch_plan_find(plan, id);
	int error = 0;

	*out = NULL;
	if (pos < 0) {
		orch_error_set("plan '%s' has no task '%s'", plan->name, id);
		orch_error_hint("'git orchestrate status %s' lists its tasks",
		                plan->name);
		return ORCH_EINVALID;
	}
	/*
	 * A view of the plan sharing everything but its list of tasks, whose
	 * copy shares everything but the needs of the task changed (the one
	 * field orch_plan_set_task frees and replaces).
	 */
	view = *plan;
	view.tasks = orch_malloc((plan->ntasks ? plan->ntasks : 1) *
	                         sizeof(*view.tasks));
	memcpy(view.tasks, plan->tasks, plan->ntasks * sizeof(*view.tasks));
	was = &plan->tasks[pos];
	task = &view.tasks[pos];
	memset(&task->needs, 0, sizeof(task->needs));
	for (size_t i = 0; i < was->needs.count; i++)
		orch_strvec_push(&task->needs, was->needs.items[i]);
	for (size_t i = 0; i < assignments->count && error == 0; i++) {
		const char *pair = assignments->items[i];
		const char *eq = strchr(pair, '=');
		char *key = orch_strndup(pair, eq ? (size_t)(eq - pair) : 0);
		error = orch_plan_set_task(&view, id, key, eq ? eq + 1 : "");
		free(key);
	}
	if (error == 0 && (task->priority != was->priority ||
	                   task->timeout_ms != was->timeout_ms ||
	                   task->retries != was->retries ||
	                   !strvec_equal(&task->needs, &was->needs)))
		error = orch_plan_to_json(out, &view);
	orch_strvec_free(&task->needs);
	free(view.tasks);
	return error;
}

int orch_plan_to_json(char **out, const orch_plan *plan)
{
	cJSON *root = cJSON_CreateObject();
	orch_buf json = {0};
	char *printed = NULL;
	size_t len;
	int error = 0;

	*out = NULL;
	add_string(root, "name", plan->name);
	add_string(root, "base", plan->base);
	add_string(root, "base_commit", plan->base_commit);
	add_string(root, "agent", plan->agent);
	add_number(root, "retries", plan->retries);
	add_number(root, "timeout_ms", (double)plan->timeout_ms);
	add_string(root, "merge",
	           plan->merge_rerun  ? "auto-rerun"
	           : plan->merge_auto ? "auto"
	                              : "manual");
	if (plan->rerun_limit != 1) /* the default: older plans stay */
		add_number(root, "rerun_limit", plan->rerun_limit);
	add_string(root, "verify", plan->verify);
	if (plan->setup) /* older plans have none: their plan.json stays */
		add_string(root, "setup", plan->setup);
	if (plan->rate_limit) /* likewise */
		add_string(root, "rate_limit", plan->rate_limit);
	if (plan->rate_limit_wait_ms > 0 &&
	    plan->rate_limit_wait_ms != ORCH_RATE_LIMIT_WAIT_MS)
		add_number(root, "rate_limit_wait_ms",
		           (double)plan->rate_limit_wait_ms);
	if (plan->env.count)
		add_list(root, "env", &plan->env);
	if (plan->estimate.slots > 0) { /* only when known: older plans stay */
		cJSON *est = cJSON_CreateObject();
		add_number(est, "makespan_ms",
		           (double)plan->estimate.makespan_ms);
		add_number(est, "slots", plan->estimate.slots);
		add_number(est, "serial_ms", (double)plan->estimate.serial_ms);
		cJSON_AddItemToObjectCS(root, "estimate", est);
	}
	cJSON_AddItemToObjectCS(root, "tasks", cJSON_CreateArray());
	/*
	 * The tasks are printed one by one into the buffer, not as one cJSON
	 * tree: for 100,000 tasks the tree would be most of the peak memory.
	 * The root prints as {...,"tasks":[]}; the tasks go between the
	 * brackets.
	 */
	if (!(printed = cJSON_PrintUnformatted(root)) ||
	    (len = strlen(printed)) < 3 || strcmp(printed + len - 3, "[]}")) {
		error = orch_error_set("cannot write plan.json: out of memory");
		goto done;
	}
	orch_buf_put(&json, printed, len - 2);
	for (size_t i = 0; i < plan->ntasks; i++) {
		const orch_task *task = &plan->tasks[i];
		cJSON *obj = cJSON_CreateObject();
		char *text;
		add_string(obj, "id", task->id);
		add_string(obj, "run", task->run);
		add_string(obj, "prompt", task->prompt);
		add_list(obj, "depends", &task->depends);
		add_list(obj, "files", &task->files);
		add_list(obj, "needs", &task->needs);
		if (task->env.count)
			add_list(obj, "env", &task->env);
		add_string(obj, "priority", orch_priority_name(task->priority));
		add_number(obj, "duration_ms", (double)task->duration_ms);
		add_number(obj, "retries", task->retries);
		add_number(obj, "timeout_ms", (double)task->timeout_ms);
		add_number(obj, "line", task->line);
		text = cJSON_PrintUnformatted(obj);
		cJSON_Delete(obj);
		if (!text) {
			error = orch_error_set(
			    "cannot write plan.json: out of memory");
			goto done;
		}
		if (i)
			orch_buf_put(&json, ",", 1);
		orch_buf_puts(&json, text);
		cJSON_free(text);
	}
	orch_buf_puts(&json, "]}");
	*out = orch_buf_detach(&json);
done:
	orch_buf_free(&json);
	cJSON_free(printed);
	cJSON_Delete(root);
	return error;
}

static int json_bad(const char *what, const char *key)
{
	orch_error_set("plan.json: %s '%s'", what, key);
	orch_error_hint("the stored plan is damaged: store it again with "
	                "'git orchestrate plan FILE'");
	return ORCH_EINVALID;
}

/*
 * The readers of one member take the member (`item`, NULL when absent) and
 * its key for messages; the ones without _at look it up in `obj`.
 */

/* A string member, or NULL when it is null or absent. */
static int json_string_at(char **out, const cJSON *item, const char *key)
{
	if (!item || cJSON_IsNull(item))
		return 0;
	if (!cJSON_IsString(item))
		return json_bad("expected a string for", key);
	free(*out);
	*out = orch_strdup(item->valuestring);
	return 0;
}

static int json_string(char **out, const cJSON *obj, const char *key)
{
	return json_string_at(out, cJSON_GetObjectItemCaseSensitive(obj, key),
	                      key);
}

/* A whole number member within [min, max]; unchanged when absent. */
static int json_int64_at(int64_t *out, const cJSON *item, const char *key,
                         double min, double max)
{
	if (!item)
		return 0;
	if (!cJSON_IsNumber(item) || item->valuedouble < min ||
	    item->valuedouble > max ||
	    item->valuedouble != (double)(int64_t)item->valuedouble)
		return json_bad("expected a whole number for", key);
	*out = (int64_t)item->valuedouble;
	return 0;
}

static int json_int64(int64_t *out, const cJSON *obj, const char *key,
                      double min, double max)
{
	return json_int64_at(out, cJSON_GetObjectItemCaseSensitive(obj, key),
	                     key, min, max);
}

static int json_int_at(int *out, const cJSON *item, const char *key, int min,
                       int max)
{
	int64_t value = *out;
	int error = json_int64_at(&value, item, key, min, max);

	*out = (int)value;
	return error;
}

static int json_int(int *out, const cJSON *obj, const char *key, int min,
                    int max)
{
	return json_int_at(out, cJSON_GetObjectItemCaseSensitive(obj, key), key,
	                   min, max);
}

static int json_list_at(orch_strvec *out, const cJSON *item, const char *key)
{
	const cJSON *entry;

	if (!item || cJSON_IsNull(item))
		return 0;
	if (!cJSON_IsArray(item))
		return json_bad("expected a list for", key);
	cJSON_ArrayForEach(entry, item)
	{
		if (!cJSON_IsString(entry))
			return json_bad("expected strings in", key);
		orch_strvec_push(out, entry->valuestring);
	}
	return 0;
}

/* The names of `env`, each a valid name. */
static int json_env_at(orch_strvec *out, const cJSON *item)
{
	int error;

	if ((error = json_list_at(out, item, "env")) < 0)
		return error;
	for (size_t i = 0; i < out->count; i++)
		if (orch_env_name_problem(out->items[i]))
			return json_bad("invalid env name", out->items[i]);
	return 0;
}

static int json_env(orch_strvec *out, const cJSON *obj)
{
	return json_env_at(out, cJSON_GetObjectItemCaseSensitive(obj, "env"));
}

/* The optional "estimate" object; absent or null in older plans. */
static int json_estimate(orch_plan_estimate *out, const cJSON *root)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(root, "estimate");
	orch_plan_estimate est = {0, 0, 0};
	int error;

	if (!item || cJSON_IsNull(item))
		return 0;
	if (!cJSON_IsObject(item))
		return json_bad("expected an object for", "estimate");
	if (!cJSON_GetObjectItemCaseSensitive(item, "makespan_ms") ||
	    !cJSON_GetObjectItemCaseSensitive(item, "slots") ||
	    !cJSON_GetObjectItemCaseSensitive(item, "serial_ms"))
		return json_bad("expected makespan_ms, slots and serial_ms in",
		                "estimate");
	if ((error = json_int64(&est.makespan_ms, item, "makespan_ms", 0,
	                        9e15)) < 0 ||
	    (error = json_int(&est.slots, item, "slots", 1, INT_MAX)) < 0 ||
	    (error = json_int64(&est.serial_ms, item, "serial_ms", 0, 9e15)) <
	        0)
		return error;
	*out = est;
	return 0;
}

/* The members of a task in plan.json, in the order they are written. */
enum {
	TASK_ID,
	TASK_RUN,
	TASK_PROMPT,
	TASK_DEPENDS,
	TASK_FILES,
	TASK_NEEDS,
	TASK_ENV,
	TASK_PRIORITY,
	TASK_DURATION,
	TASK_RETRIES,
	TASK_TIMEOUT,
	TASK_LINE,
	TASK__COUNT
};

static const char *const task_keys[TASK__COUNT] = {
    "id",  "run",      "prompt",      "depends", "files",      "needs",
    "env", "priority", "duration_ms", "retries", "timeout_ms", "line",
};

static int json_task(orch_plan *plan, size_t *alloc, const cJSON *obj)
{
	const cJSON *items[TASK__COUNT], *id;
	char *priority = NULL;
	orch_task *task;
	int64_t line = 0;
	int error;

	if (!cJSON_IsObject(obj))
		return json_bad("expected a task with an id in", "tasks");
	/* one pass: 100,000 tasks of twelve keys each */
	orch_json_members(items, obj, task_keys, TASK__COUNT);
	id = items[TASK_ID];
	if (!cJSON_IsString(id))
		return json_bad("expected a task with an id in", "tasks");
	if (!orch_id_valid(id->valuestring)) {
		orch_error_set("plan.json: invalid task id '%s'",
		               id->valuestring);
		orch_error_hint("task " ID_HINT);
		return ORCH_EINVALID;
	}
	task = plan_add_task(plan, alloc, orch_strdup(id->valuestring), 0);
	if (index_add(plan, plan->ntasks - 1) >= 0) {
		orch_error_set("plan.json: duplicate task '%s'", task->id);
		orch_error_hint("the stored plan is damaged: store it again "
		                "with 'git orchestrate plan FILE'");
		return ORCH_EINVALID;
	}
	if ((error = json_string_at(&task->run, items[TASK_RUN], "run")) < 0 ||
	    (error = json_string_at(&task->prompt, items[TASK_PROMPT],
	                            "prompt")) < 0 ||
	    (error = json_list_at(&task->depends, items[TASK_DEPENDS],
	                          "depends")) < 0 ||
	    (error = json_list_at(&task->files, items[TASK_FILES], "files")) <
	        0 ||
	    (error = json_list_at(&task->needs, items[TASK_NEEDS], "needs")) <
	        0 ||
	    (error = json_env_at(&task->env, items[TASK_ENV])) < 0 ||
	    (error = json_string_at(&priority, items[TASK_PRIORITY],
	                            "priority")) < 0 ||
	    (error = json_int64_at(&task->duration_ms, items[TASK_DURATION],
	                           "duration_ms", -1, 9e15)) < 0 ||
	    (error = json_int_at(&task->retries, items[TASK_RETRIES], "retries",
	                         -1, MAX_RETRIES)) < 0 ||
	    (error = json_int64_at(&task->timeout_ms, items[TASK_TIMEOUT],
	                           "timeout_ms", -1, 9e15)) < 0 ||
	    (error = json_int64_at(&line, items[TASK_LINE], "line", 0,
	                           INT_MAX)) < 0)
		goto done;
	task->line = (int)line;
	if (priority && orch_priority_parse(&task->priority, priority) < 0)
		error = json_bad("unknown priority", priority);
done:
	free(priority);
	return error;
}

/*
 * plan.json is read without building a cJSON tree of the whole plan: for
 * 100,000 tasks that tree is hundreds of megabytes. The top-level object is
 * scanned for its "tasks" member; the rest of it is parsed by cJSON with an
 * empty list in place of the tasks, and each task is parsed, read and freed
 * on its own. The scanner only finds where values end (strings, nesting):
 * cJSON still checks every byte. Whatever the scanner does not expect (an
 * escaped key, a malformed document) goes the whole-tree way, so damaged
 * JSON is reported exactly as before.
 */

static const char *json_ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	return p;
}

/*
 * The end of the JSON value at `p`, or NULL when it has none before `end`.
 * A scalar ends at the first ',', ']', '}' or white space outside strings.
 */
static const char *json_value_end(const char *p, const char *end)
{
	size_t depth = 0;

	while (p < end) {
		switch (*p) {
		case '"':
			for (p++; p < end && *p != '"'; p++)
				if (*p == '\\')
					p++;
			if (p >= end)
				return NULL;
			p++;
			if (!depth)
				return p;
			break;
		case '{':
		case '[':
			depth++;
			p++;
			break;
		case '}':
		case ']':
			if (!depth)
				return p;
			p++;
			if (!--depth)
				return p;
			break;
		case ',':
		case ' ':
		case '\t':
		case '\n':
		case '\r':
			if (!depth)
				return p;
			p++;
			break;
		default:
			p++;
		}
	}
	return depth ? NULL : p;
}

/*
 * Where the value of the top-level member "tasks" starts in `json`: 1 and
 * *out_start for a list, 0 when the document is anything the scanner does
 * not take apart (then it is read as one tree).
 */
static int json_find_tasks(const char **out_start, const char *json, size_t len)
{
	const char *end = json + len, *p = json_ws(json, end);

	if (p >= end || *p != '{')
		return 0;
	p = json_ws(p + 1, end);
	if (p < end && *p == '}')
		return 0;
	while (p < end) {
		const char *key = p, *key_end, *value, *value_end;
		if (*p != '"' || !(key_end = json_value_end(p, end)) ||
		    memchr(key, '\\', (size_t)(key_end - key)))
			return 0;
		p = json_ws(key_end, end);
		if (p >= end || *p != ':')
			return 0;
		value = json_ws(p + 1, end);
		if (key_end - key == 7 && !memcmp(key, "\"tasks\"", 7)) {
			if (value >= end || *value != '[')
				return 0;
			*out_start = value;
			return 1;
		}
		if (!(value_end = json_value_end(value, end)) ||
		    value_end == value)
			return 0;
		p = json_ws(value_end, end);
		if (p >= end || *p != ',')
			return 0;
		p = json_ws(p + 1, end);
	}
	return 0;
}

static int json_damaged(const char *json, const char *at)
{
	orch_error_set("plan.json: not a JSON object (at byte %zu)",
	               at && at >= json ? (size_t)(at - json) : 0);
	orch_error_hint("the stored plan is damaged: store it again "
	                "with 'git orchestrate plan FILE'");
	return ORCH_EINVALID;
}

/*
 * Read the tasks of the list at `start` one at a time; *out_end is where the
 * list ends (after its ']').
 */
static int json_tasks_streamed(const char **out_end, orch_plan *plan,
                               size_t *alloc, const char *json,
                               const char *start, const char *end)
{
	const char *p = json_ws(start + 1, end);
	int error = 0;

	if (p < end && *p == ']') {
		*out_end = p + 1;
		return 0;
	}
	while (p < end) {
		const char *task_end = json_value_end(p, end), *stop = NULL;
		cJSON *obj;
		if (!task_end || task_end == p)
			return json_damaged(json, p);
		obj = cJSON_ParseWithLengthOpts(p, (size_t)(task_end - p),
		                                &stop, 0);
		if (!obj)
			return json_damaged(json, stop);
		if (json_ws(stop, task_end) != task_end) {
			cJSON_Delete(obj);
			return json_damaged(json, stop);
		}
		error = json_task(plan, alloc, obj);
		cJSON_Delete(obj);
		if (error < 0)
			return error;
		p = json_ws(task_end, end);
		if (p < end && *p == ']') {
			*out_end = p + 1;
			return 0;
		}
		if (p >= end || *p != ',')
			return json_damaged(json, p);
		p = json_ws(p + 1, end);
	}
	return json_damaged(json, p);
}

int orch_plan_from_json(orch_plan **out, const char *json, size_t len)
{
	orch_plan *plan = plan_new();
	cJSON *root = NULL;
	const cJSON *tasks, *entry;
	const char *end = NULL, *tasks_start = NULL, *tasks_end = NULL;
	orch_buf rest = {0};
	char *merge = NULL;
	size_t task_alloc = 0;
	int error = 0, streamed;

	*out = NULL;
	streamed = json_find_tasks(&tasks_start, json, len);
	if (streamed) {
		if ((error = json_tasks_streamed(&tasks_end, plan, &task_alloc,
		                                 json, tasks_start,
		                                 json + len)) < 0)
			goto done;
		/* the document with "tasks": [] */
		orch_buf_put(&rest, json, (size_t)(tasks_start - json));
		orch_buf_puts(&rest, "[]");
		orch_buf_put(&rest, tasks_end,
		             (size_t)(json + len - tasks_end));
		root = cJSON_ParseWithLengthOpts(rest.ptr, rest.len, &end, 0);
		/* a byte after the list: where it is in `json` */
		if (end && end >= rest.ptr + (tasks_start - json) + 2)
			end = tasks_end +
			      (end - (rest.ptr + (tasks_start - json) + 2));
		else if (end && end >= rest.ptr)
			end = json + (end - rest.ptr);
	} else {
		root = cJSON_ParseWithLengthOpts(json, len, &end, 0);
	}
	if (!root || !cJSON_IsObject(root)) {
		error = json_damaged(json, end);
		goto done;
	}
	if ((error = json_string(&plan->name, root, "name")) < 0 ||
	    (error = json_string(&plan->base, root, "base")) < 0 ||
	    (error = json_string(&plan->base_commit, root, "base_commit")) <
	        0 ||
	    (error = json_string(&plan->agent, root, "agent")) < 0 ||
	    (error = json_int(&plan->retries, root, "retries", 0,
	                      MAX_RETRIES)) < 0 ||
	    (error = json_int64(&plan->timeout_ms, root, "timeout_ms", 0,
	                        9e15)) < 0 ||
	    (error = json_string(&merge, root, "merge")) < 0 ||
	    (error = json_int(&plan->rerun_limit, root, "rerun_limit", 0,
	                      MAX_RERUNS)) < 0 ||
	    (error = json_string(&plan->verify, root, "verify")) < 0 ||
	    (error = json_env(&plan->env, root)) < 0 ||
	    (error = json_string(&plan->setup, root, "setup")) < 0 ||
	    (error = json_string(&plan->rate_limit, root, "rate_limit")) < 0 ||
	    (error = json_int64(&plan->rate_limit_wait_ms, root,
	                        "rate_limit_wait_ms", 1, 9e15)) < 0 ||
	    (error = json_estimate(&plan->estimate, root)) < 0)
		goto done;
	if (!plan->name || !orch_id_valid(plan->name)) {
		orch_error_set("plan.json: invalid plan name '%s'",
		               plan->name ? plan->name : "");
		orch_error_hint("plan names, like task " ID_HINT);
		error = ORCH_EINVALID;
		goto done;
	}
	if (merge && strcmp(merge, "manual") && strcmp(merge, "auto") &&
	    strcmp(merge, "auto-rerun")) {
		error = json_bad("unknown merge mode", merge);
		goto done;
	}
	plan->merge_auto = merge && strcmp(merge, "manual") != 0;
	plan->merge_rerun = merge && !strcmp(merge, "auto-rerun");
	tasks = cJSON_GetObjectItemCaseSensitive(root, "tasks");
	if (tasks && !cJSON_IsArray(tasks)) {
		error = json_bad("expected a list for", "tasks");
		goto done;
	}
	cJSON_ArrayForEach(entry, tasks)
	{
		if ((error = json_task(plan, &task_alloc, entry)) < 0)
			goto done;
	}
	*out = plan;
	plan = NULL;
done:
	free(merge);
	orch_buf_free(&rest);
	cJSON_Delete(root);
	orch_plan_free(plan);
	return error;
}
