/*
 * Leases and locks: refs/orchestrate/locks/<plan>/<name> pointing to a blob
 * of JSON that says who holds it and until when. Taken by creating the ref
 * (which fails if it exists), renewed, released and broken by
 * compare-and-swap on the blob seen.
 */
#include "lease.h"
#include "remote.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "error.h"
#include "json.h"
#include "store_internal.h"

void orch_lease_clear(orch_lease *lease)
{
	if (!lease)
		return;
	free(lease->host);
	free(lease->token);
	free(lease->task);
	free(lease->worker);
	free(lease->locator);
	memset(lease, 0, sizeof(*lease));
}

char *orch_lease_to_json(const orch_lease *lease)
{
	cJSON *obj = cJSON_CreateObject();
	char *text;

	orch_json_add_string(obj, "host", lease->host);
	orch_json_add_number(obj, "pid", lease->pid);
	orch_json_add_string(obj, "token", lease->token);
	orch_json_add_number(obj, "expires", lease->expires_ms);
	orch_json_add_string(obj, "task", lease->task);
	orch_json_add_string(obj, "worker", lease->worker);
	if (lease->attempt)
		orch_json_add_number(obj, "attempt", lease->attempt);
	orch_json_add_string(obj, "locator", lease->locator);
	text = orch_json_print(obj);
	cJSON_Delete(obj);
	if (!text)
		abort();
	return text;
}

int orch_lease_from_json(orch_lease *out, const char *json, size_t len)
{
	static const char what[] = "lease";
	cJSON *obj = NULL;
	int error;

	memset(out, 0, sizeof(*out));
	if ((error = orch_json_parse_object(&obj, json, len, what)) < 0)
		return error;
	if ((error = orch_json_get_string(&out->host, obj, "host", what)) < 0 ||
	    (error = orch_json_get_int(&out->pid, obj, "pid", what)) < 0 ||
	    (error = orch_json_get_string(&out->token, obj, "token", what)) <
	        0 ||
	    (error = orch_json_get_int64(&out->expires_ms, obj, "expires",
	                                 what)) < 0 ||
	    (error = orch_json_get_string(&out->task, obj, "task", what)) < 0 ||
	    (error = orch_json_get_string(&out->worker, obj, "worker", what)) <
	        0 ||
	    (error = orch_json_get_int(&out->attempt, obj, "attempt", what)) <
	        0 ||
	    (error =
	         orch_json_get_string(&out->locator, obj, "locator", what)) < 0)
		goto done;
done:
	if (error < 0)
		orch_lease_clear(out);
	cJSON_Delete(obj);
	return error;
}

static int lock_refname(char *out, size_t outlen, const char *plan,
                        const char *name)
{
	int error, valid = 0, len;

	if ((error = orch_store_check_plan_name(plan)) < 0)
		return error;
	len = snprintf(out, outlen, ORCH_STORE_LOCKS_PREFIX "%s/%s", plan,
	               name ? name : "");
	if (!name || !*name || len < 0 || (size_t)len >= outlen ||
	    git_reference_name_is_valid(&valid, out) < 0 || !valid) {
		orch_error_set("invalid lock name '%s' of plan '%s'",
		               name ? name : "", plan);
		return ORCH_EINVALID;
	}
	return 0;
}

static int write_lease(git_oid *out, orch_store *store, const orch_lease *lease)
{
	char *json = orch_lease_to_json(lease);
	int error = git_blob_create_from_buffer(out, orch_store_repo(store),
	                                        json, strlen(json));

	free(json);
	return error < 0 ? orch_error_git(error, "cannot write a lease") : 0;
}

/* "task 'x'" for a task lease, "lock 'file/a+b'" for the others. */
static void lease_subject(char *out, size_t outlen, const char *name)
{
	if (!strncmp(name, "task/", 5))
		snprintf(out, outlen, "task '%s'", name + 5);
	else
		snprintf(out, outlen, "lock '%s'", name);
}

static int lease_held(orch_store *store, const char *plan, const char *name)
{
	orch_lease holder = {0};
	char subject[256], until[64] = "?";
	time_t secs;
	struct tm tm;

	lease_subject(subject, sizeof(subject), name);
	if (orch_lease_read(&holder, NULL, store, plan, name) < 0) {
		orch_error_set("%s of plan '%s' is being taken or released by "
		               "another process",
		               subject, plan);
		return ORCH_ELOCKED;
	}
	secs = (time_t)(holder.expires_ms / 1000);
	if (localtime_r(&secs, &tm))
		strftime(until, sizeof(until), "%Y-%m-%d %H:%M:%S", &tm);
	orch_error_set("%s of plan '%s' is held by pid %d on %s until %s",
	               subject, plan, holder.pid,
	               holder.host ? holder.host : "an unknown host", until);
	orch_error_hint("if that process is gone, 'git orchestrate clean %s' "
	                "removes stale locks",
	                plan);
	orch_lease_clear(&holder);
	return ORCH_ELOCKED;
}

/*
 * On a shared remote: set lease `refname` to `blob` (NULL: delete it) there
 * if it still is `expected` (NULL: absent), then mirror that locally.
 * ORCH_EMODIFIED, after refreshing the mirror, when the remote had another
 * value.
 */
static int remote_lease_cas(orch_store *store, const char *plan,
                            const char *refname, const git_oid *expected,
                            const git_oid *blob)
{
	git_repository *repo = orch_store_repo(store);
	orch_remote_update update = {refname, expected, blob, 0};
	git_reference *ref = NULL;
	int error;

	error = orch_remote_push(repo, orch_store_remote(store), &update, 1);
	if (error == ORCH_EMODIFIED) {
		orch_store_refresh(store, plan, 1);
		orch_error_set(
		    "'%s' changed on '%s': the lease is no longer the "
		    "one seen",
		    refname, orch_store_remote(store));
		return error;
	}
	if (error < 0)
		return error;
	if (blob)
		error = git_reference_create(&ref, repo, refname, blob, 1,
		                             "lease (mirror)");
	else if ((error = git_reference_lookup(&ref, repo, refname)) == 0)
		error = git_reference_delete(ref);
	git_reference_free(ref);
	if (error == GIT_ENOTFOUND)
		error = 0;
	return error < 0 ? orch_error_git(error, "cannot update '%s'", refname)
	                 : 0;
}

int orch_lease_acquire(git_oid *out_oid, orch_store *store, const char *plan,
                       const char *name, const orch_lease *lease)
{
	char refname[ORCH_STORE_REFNAME_MAX];
	git_reference *ref = NULL;
	git_oid blob, zero = {{0}};
	int error;

	if ((error = lock_refname(refname, sizeof(refname), plan, name)) < 0 ||
	    (error = write_lease(&blob, store, lease)) < 0)
		return error;
	if (orch_store_remote(store)) {
		error = remote_lease_cas(store, plan, refname, NULL, &blob);
		if (error == ORCH_EMODIFIED)
			return lease_held(store, plan, name);
		if (error == 0 && out_oid)
			git_oid_cpy(out_oid, &blob);
		return error;
	}
	/*
	 * force=0 alone checks existence before taking the ref's lock; the
	 * all-zero expected value repeats the check under the lock.
	 */
	error =
	    git_reference_create_matching(&ref, orch_store_repo(store), refname,
	                                  &blob, 0, &zero, "lease taken");
	git_reference_free(ref);
	ref = NULL;
	if (error == GIT_ELOCKED &&
	    orch_store_clear_stale_lock(store, refname)) {
		error = git_reference_create_matching(
		    &ref, orch_store_repo(store), refname, &blob, 0, &zero,
		    "lease taken");
		git_reference_free(ref);
	}
	if (orch_store_is_race(error))
		return lease_held(store, plan, name);
	if (error < 0)
		return orch_error_git(error, "cannot take '%s'", refname);
	if (out_oid)
		git_oid_cpy(out_oid, &blob);
	return 0;
}

/* Point lease `refname` at `blob` if it is still `expected`. */
static int lease_swap(orch_store *store, const char *refname,
                      const git_oid *blob, const git_oid *expected,
                      const char *why)
{
	git_reference *ref = NULL;
	int error = 0;

	for (int tries = 0; tries < ORCH_STORE_CAS_TRIES; tries++) {
		orch_store_keep_ref(store, refname);
		error = git_reference_create_matching(
		    &ref, orch_store_repo(store), refname, blob, 1, expected,
		    why);
		git_reference_free(ref);
		ref = NULL;
		if (error != GIT_ELOCKED)
			break;
		/* someone is writing it: see what they leave */
		orch_store_clear_stale_lock(store, refname);
		orch_store_backoff(store, tries);
	}
	if (error == GIT_EMODIFIED || error == GIT_ENOTFOUND ||
	    error == GIT_ELOCKED) {
		orch_error_set("'%s' changed: the lease is no longer ours",
		               refname);
		return ORCH_EMODIFIED;
	}
	if (error < 0)
		return orch_error_git(error, "cannot update '%s'", refname);
	return 0;
}

/* Delete lease `refname` if it is still `expected`. */
static int lease_delete(orch_store *store, const char *refname,
                        const git_oid *expected)
{
	git_reference *ref = NULL;
	int error = 0;

	for (int tries = 0; tries < ORCH_STORE_CAS_TRIES; tries++) {
		if ((error = git_reference_lookup(&ref, orch_store_repo(store),
		                                  refname)) < 0)
			break;
		if (git_reference_type(ref) != GIT_REFERENCE_DIRECT ||
		    !git_oid_equal(git_reference_target(ref), expected)) {
			error = GIT_EMODIFIED;
			break;
		}
		orch_store_keep_ref(store, refname);
		error = git_reference_delete(ref);
		git_reference_free(ref);
		ref = NULL;
		if (error != GIT_ELOCKED && error != GIT_EMODIFIED)
			break;
		if (error == GIT_ELOCKED)
			orch_store_clear_stale_lock(store, refname);
		orch_store_backoff(store, tries);
	}
	git_reference_free(ref);
	if (error == GIT_EMODIFIED || error == GIT_ENOTFOUND ||
	    error == GIT_ELOCKED) {
		orch_error_set(
		    "'%s' changed: the lease is no longer the one seen",
		    refname);
		return ORCH_EMODIFIED;
	}
	if (error < 0)
		return orch_error_git(error, "cannot delete '%s'", refname);
	return 0;
}

int orch_lease_renew(git_oid *held, orch_store *store, const char *plan,
                     const char *name, const orch_lease *lease)
{
	char refname[ORCH_STORE_REFNAME_MAX];
	git_oid blob;
	int error;

	if ((error = lock_refname(refname, sizeof(refname), plan, name)) < 0 ||
	    (error = write_lease(&blob, store, lease)) < 0 ||
	    (error = orch_store_remote(store)
	                 ? remote_lease_cas(store, plan, refname, held, &blob)
	                 : lease_swap(store, refname, &blob, held,
	                              "lease renewed")) < 0)
		return error;
	git_oid_cpy(held, &blob);
	return 0;
}

int orch_lease_release(orch_store *store, const char *plan, const char *name,
                       const git_oid *held)
{
	char refname[ORCH_STORE_REFNAME_MAX];
	int error;

	if ((error = lock_refname(refname, sizeof(refname), plan, name)) < 0)
		return error;
	if (orch_store_remote(store))
		return remote_lease_cas(store, plan, refname, held, NULL);
	return lease_delete(store, refname, held);
}

int orch_lease_read(orch_lease *out, git_oid *out_oid, orch_store *store,
                    const char *plan, const char *name)
{
	char refname[ORCH_STORE_REFNAME_MAX];
	orch_buf json = {0};
	git_oid oid;
	int error;

	memset(out, 0, sizeof(*out));
	if ((error = lock_refname(refname, sizeof(refname), plan, name)) < 0)
		return error;
	if ((error = git_reference_name_to_id(&oid, orch_store_repo(store),
	                                      refname)) < 0) {
		if (error != GIT_ENOTFOUND)
			return orch_error_git(error, "cannot read '%s'",
			                      refname);
		orch_error_set("no lease '%s' of plan '%s'", name, plan);
		return ORCH_ENOTFOUND;
	}
	if ((error = orch_store_read_blob(&json, orch_store_repo(store), &oid,
	                                  refname)) < 0)
		goto done;
	if ((error = orch_lease_from_json(out, json.ptr ? json.ptr : "",
	                                  json.len)) < 0) {
		error = orch_error_set("%s: %s", refname, orch_error_message());
		goto done;
	}
	if (out_oid)
		git_oid_cpy(out_oid, &oid);
done:
	orch_buf_free(&json);
	return error;
}

int orch_lease_break(git_oid *out_oid, orch_store *store, const char *plan,
                     const char *name, const git_oid *seen,
                     const orch_lease *lease)
{
	char refname[ORCH_STORE_REFNAME_MAX];
	git_oid blob;
	int error;

	if ((error = lock_refname(refname, sizeof(refname), plan, name)) < 0)
		return error;
	if (!lease)
		return orch_store_remote(store)
		           ? remote_lease_cas(store, plan, refname, seen, NULL)
		           : lease_delete(store, refname, seen);
	if ((error = write_lease(&blob, store, lease)) < 0 ||
	    (error = orch_store_remote(store)
	                 ? remote_lease_cas(store, plan, refname, seen, &blob)
	                 : lease_swap(store, refname, &blob, seen,
	                              "lease broken")) < 0)
		return error;
	if (out_oid)
		git_oid_cpy(out_oid, &blob);
	return 0;
}

int orch_lease_list(orch_strvec *out, orch_store *store, const char *plan)
{
	char prefix[ORCH_STORE_REFNAME_MAX];
	int error;

	if ((error = orch_store_check_plan_name(plan)) < 0)
		return error;
	snprintf(prefix, sizeof(prefix), ORCH_STORE_LOCKS_PREFIX "%s/", plan);
	return orch_store_list_refs(out, store, prefix, 1);
}

int orch_lease_count_worker(int *out, orch_store *store, const char *worker)
{
	orch_strvec plans = {0};
	int error;

	*out = 0;
	if ((error = orch_store_list_plans(&plans, store)) < 0)
		return error;
	for (size_t p = 0; p < plans.count; p++) {
		orch_strvec leases = {0};
		if (orch_lease_list(&leases, store, plans.items[p]) < 0) {
			orch_error_clear();
			continue;
		}
		for (size_t i = 0; i < leases.count; i++) {
			orch_lease lease = {0};
			if (strncmp(leases.items[i], "task/", 5) != 0)
				continue;
			if (orch_lease_read(&lease, NULL, store, plans.items[p],
			                    leases.items[i]) == 0 &&
			    lease.worker && !strcmp(lease.worker, worker))
				(*out)++;
			orch_lease_clear(&lease);
		}
		orch_strvec_free(&leases);
	}
	orch_strvec_free(&plans);
	return 0;
}
