/* The author and committer of the commits git-orchestrate makes. */
#include "signature.h"

#include "error.h"

int orch_signature_default(git_signature **out, git_repository *repo)
{
	int error;

	*out = NULL;
	if (git_signature_default(out, repo) == 0)
		return 0;
	git_error_clear();
	if ((error = git_signature_now(out, ORCH_SIGNATURE_FALLBACK_NAME,
	                               ORCH_SIGNATURE_FALLBACK_EMAIL)) < 0)
		return orch_error_git(error, "cannot make a signature");
	return 0;
}
