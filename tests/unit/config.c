#include "unit.h"
#include "config.h"
#include "error.h"
#include "util.h"

/* Write `text` to DIR/NAME; the path is copied into `path`. */
static void write_file(char *path, size_t pathlen, const char *dir,
                       const char *name, const char *text)
{
	FILE *fp;

	snprintf(path, pathlen, "%s/%s", dir, name);
	if (!(fp = fopen(path, "w")))
		abort();
	fputs(text, fp);
	fclose(fp);
}

static int contains(const char *haystack, const char *needle)
{
	return haystack && strstr(haystack, needle) != NULL;
}

static int cpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n < 1 ? 1 : (int)n;
}

TEST(workers_are_read_field_by_field)
{
	char path[600];
	const char *paths[2] = {path, NULL};
	const orch_worker_config *vps, *box;
	orch_config *config = NULL;

	write_file(path, sizeof(path), unit_tmpdir(), "orchestrate.ini",
	           "[worker \"vps1\"]\n"
	           "host = vps1.example.com   ; a comment\n"
	           "user = deploy\n"
	           "port = 2222\n"
	           "identity = ~/.ssh/id_ed25519\n"
	           "known-hosts = ~/.ssh/known_hosts\n"
	           "host-key-check = accept-new\n"
	           "slots = 2\n"
	           "capabilities = backend, frontend\n"
	           "  gpu\n"
	           "workdir = ~/.cache/git-orchestrate\n"
	           "remote = ssh://git@hub.example.com/proj.git\n"
	           "\n"
	           "[worker \"box\"]\n"
	           "host = box\n");
	CHECK_INT(orch_config_load(&config, paths, NULL), 0);
	if (!config)
		return;
	CHECK_INT(config->nworkers, 2);
	vps = orch_config_worker(config, "vps1");
	box = orch_config_worker(config, "box");
	CHECK(vps != NULL && box != NULL);
	CHECK(orch_config_worker(config, "local") == NULL);
	if (!vps || !box)
		goto done;
	CHECK_STR(vps->name, "vps1");
	CHECK_STR(vps->host, "vps1.example.com");
	CHECK_STR(vps->user, "deploy");
	CHECK_INT(vps->port, 2222);
	CHECK_STR(vps->identity, "~/.ssh/id_ed25519");
	CHECK_STR(vps->known_hosts, "~/.ssh/known_hosts");
	CHECK_INT(vps->host_key_check, ORCH_HOSTKEY_ACCEPT_NEW);
	CHECK_INT(vps->slots, 2);
	CHECK_INT(vps->capabilities.count, 3);
	CHECK_STR(vps->capabilities.items[2], "gpu");
	CHECK_STR(vps->workdir, "~/.cache/git-orchestrate");
	CHECK_STR(vps->remote, "ssh://git@hub.example.com/proj.git");
	CHECK(contains(vps->source, "orchestrate.ini:1"));
	CHECK_INT(orch_worker_is_local(vps), 0);
	/* the defaults */
	CHECK_STR(box->host, "box");
	CHECK(box->user == NULL && box->identity == NULL &&
	      box->remote == NULL);
	CHECK(box->known_hosts == NULL && box->workdir == NULL);
	CHECK_INT(box->port, 0);
	CHECK_INT(box->host_key_check, ORCH_HOSTKEY_STRICT);
	CHECK_INT(box->slots, 1);
	CHECK_INT(box->capabilities.count, 0);
	CHECK(contains(box->source, "orchestrate.ini:14"));
done:
	orch_config_free(config);
}

TEST(inline_comments_end_every_worker_value)
{
	char path[600];
	const char *paths[2] = {path, NULL};
	const orch_worker_config *vps;
	orch_config *config = NULL;

	write_file(path, sizeof(path), unit_tmpdir(), "orchestrate.ini",
	           "[worker \"vps1\"]\n"
	           "host = vps1 # a host\n"
	           "port = 2222 ; a number\n"
	           "identity = ~/.ssh/id#1 # a path\n"
	           "slots = 3\t# a number\n"
	           "capabilities = gpu ; a list\n"
	           "  big-disk # continued\n"
	           "workdir = /srv/w;x ; a path\n"
	           "remote = https://hub/p.git#main # a URL\n");
	CHECK_INT(orch_config_load(&config, paths, NULL), 0);
	if (!config)
		return;
	vps = orch_config_worker(config, "vps1");
	CHECK(vps != NULL);
	if (!vps)
		goto done;
	CHECK_STR(vps->host, "vps1");
	CHECK_INT(vps->port, 2222);
	CHECK_STR(vps->identity, "~/.ssh/id#1");
	CHECK_INT(vps->slots, 3);
	CHECK_INT(vps->capabilities.count, 2);
	CHECK_STR(vps->workdir, "/srv/w;x");
	CHECK_STR(vps->remote, "https://hub/p.git#main");
done:
	orch_config_free(config);
}

TEST(later_files_override_earlier_ones_key_by_key)
{
	const char *dir = unit_tmpdir();
	char shared[600], local[600], given[600];
	const char *paths[4] = {shared, local, given, NULL};
	const orch_worker_config *w;
	orch_config *config = NULL;

	write_file(
	    shared, sizeof(shared), dir, "shared.ini",
	    "[worker \"w\"]\nhost = w.example.com\nuser = team\nslots = 4\n"
	    "capabilities = a, b\n"
	    "[worker \"other\"]\nhost = other\n");
	write_file(local, sizeof(local), dir, "local.ini",
	           "[worker \"w\"]\nuser = me\ncapabilities = c\n");
	write_file(
	    given, sizeof(given), dir, "given.ini",
	    "[worker \"w\"]\nslots = 8\n[worker \"third\"]\nhost = local\n");
	CHECK_INT(orch_config_load(&config, paths, given), 0);
	if (!config)
		return;
	CHECK_INT(config->nworkers, 3);
	w = orch_config_worker(config, "w");
	CHECK(w != NULL);
	if (w) {
		CHECK_STR(w->host, "w.example.com");
		CHECK_STR(w->user, "me");
		CHECK_INT(w->slots, 8);
		CHECK_INT(w->capabilities.count, 1);
		CHECK_STR(w->capabilities.items[0], "c");
	}
	CHECK(orch_config_worker(config, "other") != NULL);
	w = orch_config_worker(config, "third");
	CHECK(w != NULL && orch_worker_is_local(w));
	if (w)
		CHECK_INT(w->slots, cpus());
	orch_config_free(config);
}

TEST(no_worker_means_one_local_worker_with_a_slot_per_cpu)
{
	const char *dir = unit_tmpdir();
	char empty[600], missing[600];
	const char *paths[3] = {empty, missing, NULL};
	orch_config *config = NULL;

	write_file(empty, sizeof(empty), dir, "empty.ini", "; nothing here\n");
	snprintf(missing, sizeof(missing), "%s/absent.ini", dir);
	CHECK_INT(orch_config_load(&config, paths, NULL), 0);
	if (!config)
		return;
	CHECK_INT(config->nworkers, 1);
	CHECK_STR(config->workers[0].name, "local");
	CHECK_STR(config->workers[0].host, "local");
	CHECK_INT(config->workers[0].slots, cpus());
	CHECK(orch_worker_is_local(&config->workers[0]));
	CHECK(config->workers[0].source != NULL);
	orch_config_free(config);

	config = NULL;
	paths[0] = NULL;
	CHECK_INT(orch_config_load(&config, paths, NULL), 0);
	CHECK(config && config->nworkers == 1);
	orch_config_free(config);
}

TEST(a_missing_config_file_is_an_error_only_when_required)
{
	char missing[600];
	const char *paths[2] = {missing, NULL};
	orch_config *config = NULL;

	snprintf(missing, sizeof(missing), "%s/nope.ini", unit_tmpdir());
	CHECK_INT(orch_config_load(&config, paths, missing), ORCH_EINVALID);
	CHECK(config == NULL);
	CHECK(contains(orch_error_message(), "nope.ini"));
	CHECK(orch_error_hint_text() != NULL);
}

TEST(local_host_slots_can_be_set)
{
	char path[600];
	const char *paths[2] = {path, NULL};
	orch_config *config = NULL;

	write_file(path, sizeof(path), unit_tmpdir(), "w.ini",
	           "[worker \"here\"]\nhost = local\nslots = 3\n");
	CHECK_INT(orch_config_load(&config, paths, NULL), 0);
	if (!config)
		return;
	CHECK_INT(config->nworkers, 1);
	CHECK_INT(config->workers[0].slots, 3);
	CHECK(orch_worker_is_local(&config->workers[0]));
	orch_config_free(config);
}

TEST(env_and_env_file_of_a_worker_are_read)
{
	char path[600];
	const char *paths[2] = {path, NULL};
	orch_config *config = NULL;
	const orch_worker_config *w;

	write_file(path, sizeof(path), unit_tmpdir(), "workers.ini",
	           "[worker \"vps\"]\nhost = vps.example.com\n"
	           "env = API_KEY, TOKEN ; keys\n  OTHER\n"
	           "env-file = ~/.config/agent.env\n");
	CHECK_INT(orch_config_load(&config, paths, NULL), 0);
	if (!config)
		return;
	w = orch_config_worker(config, "vps");
	CHECK(w != NULL);
	if (w) {
		CHECK_INT(w->env.count, 3);
		CHECK_STR(w->env.items[0], "API_KEY");
		CHECK_STR(w->env.items[2], "OTHER");
		CHECK_STR(w->env_file, "~/.config/agent.env");
	}
	orch_config_free(config);
}

TEST(bad_configurations_are_refused_naming_file_and_line)
{
	static const struct {
		const char *text;
		const char *expect[2];
	} cases[] = {
	    {"[worker \"w\"]\nhost = local\nslots = many\n",
	     {"bad-workers.ini:3: bad slots 'many' for worker 'w'"}},
	    {"[worker \"w\"]\nhost = local\nslots = 0\n",
	     {"bad-workers.ini:3: bad slots '0'"}},
	    {"[worker \"w\"]\nhost = example.com\nhost-key-check = off\n",
	     {"bad-workers.ini:3: bad host-key-check 'off'"}},
	    {"[worker \"w\"]\nhost = example.com\nhost-key-check = no\n",
	     {"bad-workers.ini:3: bad host-key-check 'no'"}},
	    {"[worker \"w\"]\nuser = me\n",
	     {"bad-workers.ini:1: worker 'w' has no host"}},
	    {"[worker \"a b\"]\nhost = x\n",
	     {"bad-workers.ini:1: invalid worker name 'a b'"}},
	    {"[worker \"w\"]\nhost = x\nhostname = y\n",
	     {"bad-workers.ini:3: unknown key 'hostname' in worker 'w'"}},
	    {"[workers \"w\"]\nhost = x\n",
	     {"bad-workers.ini:1: unknown section"}},
	    {"[worker w]\nhost = x\n", {"bad-workers.ini:1:", "double quotes"}},
	    {"host = x\n",
	     {"bad-workers.ini:1: key 'host' is outside any section"}},
	    {"[worker \"w\"]\nhost = x\nport = 70000\n",
	     {"bad-workers.ini:3: bad port '70000'"}},
	    {"[worker \"w\"]\nhost = x\nhost = y\n",
	     {"bad-workers.ini:3: 'host' given twice", "line 2"}},
	    {"[worker \"w\"]\nhost = x\nuser = a\n  b\n",
	     {"bad-workers.ini:4: 'user' of worker 'w' cannot continue"}},
	    {"[worker \"w\"]\nhost = x\nuser =\n",
	     {"bad-workers.ini:3: bad user ''"}},
	    {"[worker \"w\"]\nhost\n", {"bad-workers.ini:2: malformed line"}},
	    {"[worker \"w\"]\nhost = x\nenv = A, B-C\n",
	     {"bad-workers.ini:3: bad env name 'B-C' for worker 'w'"}},
	    {"[worker \"w\"]\nhost = x\nenv = A\n  ORCHESTRATE_PLAN\n",
	     {"bad-workers.ini:4: bad env name 'ORCHESTRATE_PLAN'"}},
	    {"[worker \"w\"]\nhost = x\nenv-file =\n",
	     {"bad-workers.ini:3: bad env-file ''"}},
	    {"[worker \"w\"]\nhost = x\nremote = "
	     "ssh://git@hub.example.com/a/very/long/path/that/goes/on/and/on/"
	     "and/on/and/on/and/on/and/on/and/on/and/on/and/on/and/on/and/on/"
	     "and/on/and/on/and/on/and/on/and/on/and/on/and/on/and/on/and/on/"
	     "and/on/and/on/and/on/and/on/and/on/and/on/and/on/proj.git\n",
	     {"bad-workers.ini:3: line too long"}},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char path[600];
		const char *paths[2] = {path, NULL};
		orch_config *config = NULL;

		write_file(path, sizeof(path), unit_tmpdir(), "bad-workers.ini",
		           cases[i].text);
		orch_error_clear();
		if (orch_config_load(&config, paths, path) != ORCH_EINVALID &&
		    !unit_failed) {
			unit_failed = 1;
			snprintf(unit_why, sizeof(unit_why),
			         "case %zu: not refused as invalid", i);
		}
		CHECK(config == NULL);
		for (size_t k = 0; k < 2 && cases[i].expect[k]; k++) {
			if (!contains(orch_error_message(),
			              cases[i].expect[k]) &&
			    !unit_failed) {
				unit_failed = 1;
				snprintf(unit_why, sizeof(unit_why),
				         "case %zu: '%s' lacks '%s'", i,
				         orch_error_message(),
				         cases[i].expect[k]);
			}
		}
		CHECK(orch_error_hint_text() != NULL);
		orch_config_free(config);
	}
}

TEST(host_key_checking_cannot_be_turned_off)
{
	char path[600];
	const char *paths[2] = {path, NULL};
	orch_config *config = NULL;

	write_file(path, sizeof(path), unit_tmpdir(), "w.ini",
	           "[worker \"w\"]\nhost = h\nhost-key-check = off\n");
	CHECK_INT(orch_config_load(&config, paths, NULL), ORCH_EINVALID);
	CHECK(contains(orch_error_hint_text(), "cannot be turned off"));
	CHECK(contains(orch_error_hint_text(), "accept-new"));
	orch_config_free(config);
}

static const unit_test table[] = {
    T(env_and_env_file_of_a_worker_are_read),
    T(workers_are_read_field_by_field),
    T(inline_comments_end_every_worker_value),
    T(later_files_override_earlier_ones_key_by_key),
    T(no_worker_means_one_local_worker_with_a_slot_per_cpu),
    T(a_missing_config_file_is_an_error_only_when_required),
    T(local_host_slots_can_be_set),
    T(bad_configurations_are_refused_naming_file_and_line),
    T(host_key_checking_cannot_be_turned_off),
};

UNIT_MAIN(table)
