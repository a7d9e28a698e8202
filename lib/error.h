#ifndef ORCH_ERROR_H
#define ORCH_ERROR_H

/*
 * Error reporting for lib/. Functions return 0 on success, a negative code
 * on failure; the message is set once, where the failure is understood, with
 * orch_error_set(), and the front end prints it. Messages are per thread.
 */

enum {
	ORCH_OK = 0,
	ORCH_ERROR = -1, /* generic failure */
	ORCH_EINVALID =
	    -2, /* bad input from the user: exit 2, nothing changed */
	ORCH_ENOTFOUND = -3, /* no such plan, task, ref or file */
	ORCH_ECYCLE = -4,    /* dependency cycle */
	ORCH_ECONFLICT = -5, /* merge conflict */
	ORCH_ELOCKED = -6,   /* a lease or lock is held by someone else */
	ORCH_EMODIFIED = -7, /* compare-and-swap lost: re-read and retry */
	ORCH_EEXISTS = -8,   /* already exists */
	ORCH_EINTR = -9,     /* interrupted */
	ORCH_ENOCHANGE = -10 /* nothing to do (an update callback declined) */
};

/* Set the current message (printf format); returns ORCH_ERROR for chaining. */
int orch_error_set(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Set the hint shown after the message ("hint: ..."); NULL clears it. */
void orch_error_hint(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

/*
 * Set the message from libgit2's last error, prefixed with `context` (may be
 * NULL). Returns `code` translated: GIT_ENOTFOUND -> ORCH_ENOTFOUND,
 * GIT_EMODIFIED/GIT_ELOCKED -> ORCH_EMODIFIED, GIT_EEXISTS -> ORCH_EEXISTS,
 * else ORCH_ERROR.
 */
int orch_error_git(int code, const char *context, ...)
    __attribute__((format(printf, 2, 3)));

/* Set the message from errno (strerror) after `context`; returns ORCH_ERROR. */
int orch_error_os(const char *context, ...)
    __attribute__((format(printf, 1, 2)));

/* Borrowed; "" when none is set. */
const char *orch_error_message(void);
/* Borrowed; NULL when none is set. */
const char *orch_error_hint_text(void);
void orch_error_clear(void);

#endif
