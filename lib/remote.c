#include "remote.h"
#include "error.h"
#include "remote_local.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int orch_remote_git(orch_buf *out, int *out_status, git_repository *repo,
                    const char *const *args)
{
	orch_buf gitdir = {0};
	orch_strvec argv = {0};
	int pipefd[2] = {-1, -1}, status = 0, error = 0;
	pid_t pid;

	*out_status = -1;
	orch_buf_printf(&gitdir, "--git-dir=%s",
	                git_repository_commondir(repo));
	orch_strvec_push(&argv, "git");
	orch_strvec_push(&argv, gitdir.ptr);
	for (size_t i = 0; args[i]; i++)
		orch_strvec_push(&argv, args[i]);
	if (pipe(pipefd) < 0 || (pid = fork()) < 0) {
		error = orch_error_os("cannot run git %s", args[0]);
		goto done;
	}
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);
		if (null >= 0)
			dup2(null, 0);
		dup2(pipefd[1], 1);
		dup2(pipefd[1], 2);
		close(pipefd[0]);
		execvp("git", argv.items);
		_exit(127);
	}
	close(pipefd[1]);
	pipefd[1] = -1;
	for (;;) {
		char chunk[4096];
		ssize_t got = read(pipefd[0], chunk, sizeof(chunk));
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break;
		orch_buf_put(out, chunk, (size_t)got);
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	*out_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128;
done:
	if (pipefd[0] >= 0)
		close(pipefd[0]);
	if (pipefd[1] >= 0)
		close(pipefd[1]);
	orch_strvec_free(&argv);
	orch_buf_free(&gitdir);
	return error;
}

/* git's last words, without the trailing newlines. */
static const char *last_words(orch_buf *output)
{
	if (!output->ptr)
		return "no output";
	while (output->len && output->ptr[output->len - 1] == '\n')
		output->ptr[--output->len] = '\0';
	return output->ptr;
}

/* Unreachable, or refused: git's words, and where to look. */
static int cannot_reach(const char *what, const char *remote, orch_buf *output)
{
	orch_error_set("cannot %s '%s': %s", what, remote, last_words(output));
	orch_error_hint("check that '%s' is reachable with 'git ls-remote %s'",
	                remote, remote);
	return ORCH_ERROR;
}

/*
 * Whether a rejected push lost a race: the remote's value was not the one
 * expected (checked by the client, or by the remote under its ref lock when
 * two pushes cross).
 */
static int lost_race(const char *output)
{
	static const char *const words[] = {
	    "stale info",           "fetch first",     "non-fast-forward",
	    "already exists",       "cannot lock ref", "incorrect old value",
	    "failed to update ref",
	};
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strstr(output, words[i]))
			return 1;
	return 0;
}

int orch_remote_push(git_repository *repo, const char *remote,
                     const orch_remote_update *updates, size_t count)
{
	orch_strvec args = {0};
	orch_buf output = {0};
	git_repository *hub = NULL;
	int status, error;

	if (orch_remote_local_open(&hub, repo, remote) == 0) {
		error =
		    orch_remote_local_push(hub, repo, remote, updates, count);
		git_repository_free(hub);
		return error;
	}
	orch_strvec_push(&args, "push");
	orch_strvec_push(&args, "--atomic");
	orch_strvec_push(&args, "--porcelain");
	orch_strvec_push(&args, "--no-verify");
	for (size_t i = 0; i < count; i++) {
		orch_buf lease = {0};
		if (updates[i].force)
			continue;
		orch_buf_printf(
		    &lease, "--force-with-lease=%s:%s", updates[i].refname,
		    updates[i].expect ? git_oid_tostr_s(updates[i].expect)
		                      : "");
		orch_strvec_push_take(&args, orch_buf_detach(&lease));
	}
	orch_strvec_push(&args, "--");
	orch_strvec_push(&args, remote);
	for (size_t i = 0; i < count; i++) {
		orch_buf spec = {0};
		orch_buf_printf(&spec, "%s%s:%s", updates[i].force ? "+" : "",
		                updates[i].new_oid
		                    ? git_oid_tostr_s(updates[i].new_oid)
		                    : "",
		                updates[i].refname);
		orch_strvec_push_take(&args, orch_buf_detach(&spec));
	}
	if ((error = orch_remote_git(&output, &status, repo,
	                             (const char *const *)args.items)) < 0)
		goto done;
	if (status != 0) {
		/* porcelain: "!\t<src>:<dst>\t[rejected] (stale info)" */
		const char *line =
		    output.ptr ? strstr(output.ptr, "!\t") : NULL;
		if (line && lost_race(output.ptr)) {
			const char *end = strchr(line, '\n');
			orch_error_set("'%s' changed on '%s': %.*s",
			               updates[0].refname, remote,
			               (int)(end ? end - line - 2
			                         : (long)strlen(line + 2)),
			               line + 2);
			error = ORCH_EMODIFIED;
		} else {
			error = cannot_reach("push to", remote, &output);
		}
	}
done:
	orch_strvec_free(&args);
	orch_buf_free(&output);
	return error;
}

static int fetch(git_repository *repo, const char *remote,
                 const char *prune_prefix, const orch_strvec *refspecs)
{
	orch_strvec args = {0};
	orch_buf output = {0};
	git_repository *hub = NULL;
	int status, error;

	if (orch_remote_local_open(&hub, repo, remote) == 0) {
		error = orch_remote_local_fetch(hub, repo, remote, refspecs,
		                                prune_prefix);
		git_repository_free(hub);
		return error;
	}

	orch_strvec_push(&args, "fetch");
	orch_strvec_push(&args, "--quiet");
	orch_strvec_push(&args, "--no-tags");
	orch_strvec_push(&args, "--no-write-fetch-head");
	if (prune_prefix)
		orch_strvec_push(&args, "--prune");
	/*
	 * Only the refspecs given: with the remote's configured ones git also
	 * updates their destinations "opportunistically", and fails the
	 * whole fetch when one of those is a non-fast-forward (a user's
	 * refmap for the plan refs, on a plan that diverged).
	 */
	orch_strvec_push(&args, "--refmap=");
	orch_strvec_push(&args, "--");
	orch_strvec_push(&args, remote);
	for (size_t i = 0; i < refspecs->count; i++)
		orch_strvec_push(&args, refspecs->items[i]);
	if ((error = orch_remote_git(&output, &status, repo,
	                             (const char *const *)args.items)) == 0 &&
	    status != 0)
		error = cannot_reach("fetch from", remote, &output);
	orch_strvec_free(&args);
	orch_buf_free(&output);
	return error;
}

int orch_remote_fetch(git_repository *repo, const char *remote,
                      const orch_strvec *refspecs)
{
	return fetch(repo, remote, NULL, refspecs);
}

int orch_remote_mirror(git_repository *repo, const char *remote,
                       const char *prefix, const char *also)
{
	orch_strvec specs = {0};
	orch_buf spec = {0};
	int error;

	orch_buf_printf(&spec, "+%s*:%s*", prefix, prefix);
	orch_strvec_push_take(&specs, orch_buf_detach(&spec));
	if (also) {
		orch_buf_printf(&spec, "+%s:%s", also, also);
		orch_strvec_push_take(&specs, orch_buf_detach(&spec));
	}
	error = fetch(repo, remote, prefix, &specs);
	orch_strvec_free(&specs);
	return error;
}

int orch_remote_list(orch_remote_ref **out, size_t *count, git_repository *repo,
                     const char *remote, const orch_strvec *patterns)
{
	orch_strvec args = {0};
	orch_buf output = {0};
	orch_remote_ref *refs = NULL;
	size_t n = 0, alloc = 0;
	git_repository *hub = NULL;
	int status, error;
	char *line, *next;

	*out = NULL;
	*count = 0;
	if (orch_remote_local_open(&hub, repo, remote) == 0) {
		error = orch_remote_local_list(out, count, hub, patterns);
		git_repository_free(hub);
		return error;
	}
	orch_strvec_push(&args, "ls-remote");
	orch_strvec_push(&args, "--");
	orch_strvec_push(&args, remote);
	for (size_t i = 0; i < patterns->count; i++)
		orch_strvec_push(&args, patterns->items[i]);
	if ((error = orch_remote_git(&output, &status, repo,
	                             (const char *const *)args.items)) < 0)
		goto done;
	if (status != 0) {
		error = cannot_reach("list the refs of", remote, &output);
		goto done;
	}
	for (line = output.ptr; line && *line; line = next) {
		char *tab = strchr(line, '\t');
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (!tab)
			continue;
		*tab = '\0';
		if (n == alloc) {
			alloc = alloc ? 2 * alloc : 16;
			refs = orch_realloc(refs, alloc * sizeof(*refs));
		}
		if (git_oid_fromstr(&refs[n].oid, line) < 0)
			continue;
		refs[n].name = orch_strdup(tab + 1);
		n++;
	}
	*out = refs;
	*count = n;
	refs = NULL;
done:
	orch_remote_refs_free(refs, n);
	orch_strvec_free(&args);
	orch_buf_free(&output);
	return error;
}

void orch_remote_refs_free(orch_remote_ref *refs, size_t count)
{
	for (size_t i = 0; refs && i < count; i++)
		free(refs[i].name);
	free(refs);
}
