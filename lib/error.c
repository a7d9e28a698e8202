#include "error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <git2.h>

static _Thread_local char message[4096];
static _Thread_local char hint[2048];
static _Thread_local int has_hint;

int orch_error_set(const char *fmt, ...)
{
	va_list ap;
	char buf[sizeof(message)];

	/* format into a copy: the arguments may point into `message` */
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	memcpy(message, buf, sizeof(message));
	has_hint = 0;
	return ORCH_ERROR;
}

void orch_error_hint(const char *fmt, ...)
{
	va_list ap;
	char buf[sizeof(hint)];

	if (!fmt) {
		has_hint = 0;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	memcpy(hint, buf, sizeof(hint));
	has_hint = 1;
}

int orch_error_git(int code, const char *context, ...)
{
	const git_error *gerr = git_error_last();
	const char *gmsg =
	    gerr && gerr->message ? gerr->message : "unknown libgit2 error";
	char ctx[1024] = "";
	va_list ap;

	if (context) {
		va_start(ap, context);
		vsnprintf(ctx, sizeof(ctx), context, ap);
		va_end(ap);
		orch_error_set("%s: %s", ctx, gmsg);
	} else {
		orch_error_set("%s", gmsg);
	}
	switch (code) {
	case GIT_ENOTFOUND:
		return ORCH_ENOTFOUND;
	case GIT_EMODIFIED:
	case GIT_ELOCKED:
		return ORCH_EMODIFIED;
	case GIT_EEXISTS:
		return ORCH_EEXISTS;
	case GIT_ECONFLICT:
	case GIT_EMERGECONFLICT:
		return ORCH_ECONFLICT;
	default:
		return ORCH_ERROR;
	}
}

int orch_error_os(const char *context, ...)
{
	int saved = errno;
	char ctx[1024];
	va_list ap;

	va_start(ap, context);
	vsnprintf(ctx, sizeof(ctx), context, ap);
	va_end(ap);
	orch_error_set("%s: %s", ctx, strerror(saved));
	errno = saved;
	return ORCH_ERROR;
}

const char *orch_error_message(void)
{
	return message;
}

const char *orch_error_hint_text(void)
{
	return has_hint ? hint : NULL;
}

void orch_error_clear(void)
{
	message[0] = '\0';
	has_hint = 0;
}
