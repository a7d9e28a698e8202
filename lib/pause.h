#ifndef ORCH_PAUSE_H
#define ORCH_PAUSE_H

#include <regex.h>
#include <stdint.h>

#include "plan.h"
#include "store.h"

/*
 * The fleet-wide pause a rate limit puts on dispatch (SPEC 3: rate-limit,
 * rate-limit-wait). An attempt that exits 75 (EX_TEMPFAIL) or whose output
 * matches the plan's `rate-limit` pattern is rate-limited: it is ready
 * again without using a retry, and no runner of the plan starts an attempt
 * until the pause ends. The pause lives in the plan's state (pause.json),
 * so every runner sharing the plan through a remote sees it; times are
 * wall-clock milliseconds for the same reason.
 *
 * The first pause lasts ORCH_PAUSE_FIRST_MS, each rate limit met after a
 * pause ended doubles it, up to the plan's rate-limit-wait; an attempt that
 * succeeds starts the count again. Attempts that were already running when
 * a pause began and meet the limit during it do not lengthen it.
 */

#define ORCH_PAUSE_FILE "pause.json"
#define ORCH_PAUSE_FIRST_MS (30 * 1000)
#define ORCH_RATE_LIMIT_EXIT 75

typedef struct {
	int64_t since_ms; /* when the pause began */
	int64_t until_ms; /* dispatch waits until then; 0: never paused */
	int level;        /* rate limits in a row: the pause doubles each */
	char *task;       /* what hit the limit last, and how */
	int attempt;
	char *reason;
} orch_pause;

void orch_pause_init(orch_pause *pause);
void orch_pause_clear(orch_pause *pause);

/* 1 while `pause` holds dispatch back at wall-clock time `now_ms`. */
int orch_pause_active(const orch_pause *pause, int64_t now_ms);

/*
 * The pause in plan `plan`'s state at its head (nothing recorded: an
 * inactive one).
 */
int orch_pause_read(orch_pause *out, orch_store *store, const char *plan);

/*
 * In a store transaction: record that attempt `attempt` of task `task`
 * hit the rate limit (`reason`: "exit 75", "output matches ...") at
 * `now_ms`, starting or keeping the pause as described above; the first
 * pause lasts `first_ms` (0: ORCH_PAUSE_FIRST_MS). *out (may be NULL)
 * receives the pause as recorded.
 */
int orch_pause_hit(orch_pause *out, orch_txn *txn, const orch_plan *plan,
                   const char *task, int attempt, const char *reason,
                   int64_t now_ms, int64_t first_ms);

/*
 * In a store transaction: an attempt succeeded, so the next rate limit
 * starts again at the first pause. Writes nothing when there is nothing
 * to reset.
 */
int orch_pause_reset(orch_txn *txn);

/* A plan's rate-limit pattern, compiled once for a run. */
typedef struct {
	int compiled;
	regex_t re;
} orch_rate_limit;

/*
 * Compile `pattern` (POSIX extended, one line at a time: ^ and $ match at
 * line ends). NULL or "": exit 75 alone means a rate limit. A bad pattern
 * is ORCH_EINVALID with the regcomp message.
 */
int orch_rate_limit_compile(orch_rate_limit *out, const char *pattern);
void orch_rate_limit_free(orch_rate_limit *rl);

/*
 * Does an attempt that ended with `exit_status` and printed `output`
 * (NUL-terminated; the kept tail) show a rate limit? 1 and `why` filled,
 * or 0.
 */
int orch_rate_limit_hit(char *why, size_t whylen, const orch_rate_limit *rl,
                        int exit_status, const char *output);

#endif
