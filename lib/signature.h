#ifndef ORCH_SIGNATURE_H
#define ORCH_SIGNATURE_H

#include <git2.h>

/* The identity used when the repository's configuration names none. */
#define ORCH_SIGNATURE_FALLBACK_NAME "git-orchestrate"
#define ORCH_SIGNATURE_FALLBACK_EMAIL "orchestrate@localhost"

/*
 * The signature commits are made with: the repository's user.name and
 * user.email (git_signature_default), else the fixed git-orchestrate one,
 * both stamped now. Caller frees *out with git_signature_free.
 */
int orch_signature_default(git_signature **out, git_repository *repo);

#endif
