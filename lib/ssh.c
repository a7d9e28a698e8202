/*
 * SSH sessions on libssh2 (see ssh.h). Connection, host key and
 * authentication run in blocking mode with a timeout; afterwards the
 * session is non-blocking and commands are exec channels advanced step by
 * step by their owner thread.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include "error.h"
#include "ssh.h"

#define KEEPALIVE_S 10

struct orch_ssh {
	int fd;
	LIBSSH2_SESSION *session;
	orch_ssh_info info;
};

enum { EX_OPEN = 0, EX_EXEC, EX_RUN, EX_CLOSE, EX_WAIT_CLOSED, EX_DONE };

static pthread_once_t ssh_once = PTHREAD_ONCE_INIT;
static int ssh_init_error;

static void ssh_global_init(void)
{
	ssh_init_error = libssh2_init(0);
}

static const char *home_dir(void)
{
	const char *home = getenv("HOME");
	struct passwd *pw;

	if (home && *home)
		return home;
	pw = getpwuid(getuid());
	return pw ? pw->pw_dir : "/";
}

static const char *user_name(void)
{
	struct passwd *pw = getpwuid(getuid());
	const char *user = getenv("USER");

	if (pw)
		return pw->pw_name;
	return user ? user : "root";
}

/* ~/x -> $HOME/x; %d, %u, %h, %r, %% as OpenSSH expands them. */
static char *expand_path(const char *path, const char *host, const char *user)
{
	orch_buf buf = {0};

	if (path[0] == '~' && (path[1] == '/' || path[1] == '\0')) {
		orch_buf_puts(&buf, home_dir());
		path++;
	}
	for (; *path; path++) {
		if (*path != '%' || !path[1]) {
			orch_buf_put(&buf, path, 1);
			continue;
		}
		path++;
		switch (*path) {
		case 'd':
			orch_buf_puts(&buf, home_dir());
			break;
		case 'u':
			orch_buf_puts(&buf, user_name());
			break;
		case 'h':
			orch_buf_puts(&buf, host ? host : "");
			break;
		case 'r':
			orch_buf_puts(&buf, user ? user : "");
			break;
		default:
			orch_buf_put(&buf, path, 1);
			break;
		}
	}
	if (!buf.ptr)
		orch_buf_puts(&buf, "");
	return orch_buf_detach(&buf);
}

/* OpenSSH host patterns: comma/space lists, '!' negates, * and ? globs. */
static int host_matches(const char *patterns, const char *host)
{
	orch_strvec list = {0};
	int matched = 0;

	orch_strvec_split(&list, patterns, ", \t");
	for (size_t i = 0; i < list.count; i++) {
		const char *p = list.items[i];
		int negate = p[0] == '!';
		if (negate)
			p++;
		if (fnmatch(p, host, FNM_CASEFOLD) == 0) {
			if (negate) {
				matched = 0;
				break;
			}
			matched = 1;
		}
	}
	orch_strvec_free(&list);
	return matched;
}

struct ssh_config_values {
	char *hostname, *user, *port, *known_hosts;
	orch_strvec identities;
};

static void parse_ssh_config(struct ssh_config_values *vals, const char *text,
                             const char *alias)
{
	int active = 1; /* lines before the first Host apply to all */
	const char *line = text;

	while (line && *line) {
		const char *end = strchr(line, '\n');
		size_t len = end ? (size_t)(end - line) : strlen(line);
		char *copy = orch_strndup(line, len), *key, *value, *p;

		line = end ? end + 1 : NULL;
		for (p = copy; *p && isspace((unsigned char)*p); p++)
			;
		key = p;
		if (!*key || *key == '#') {
			free(copy);
			continue;
		}
		while (*p && !isspace((unsigned char)*p) && *p != '=')
			p++;
		if (*p)
			*p++ = '\0';
		while (*p && (isspace((unsigned char)*p) || *p == '='))
			p++;
		value = p;
		p = value + strlen(value);
		while (p > value && isspace((unsigned char)p[-1]))
			*--p = '\0';
		if (value[0] == '"' && p > value + 1 && p[-1] == '"') {
			p[-1] = '\0';
			value++;
		}
		if (!strcasecmp(key, "Host")) {
			active = host_matches(value, alias);
		} else if (!strcasecmp(key, "Match")) {
			/* Match criteria are not evaluated: the block is
			 * skipped */
			active = !strcasecmp(value, "all");
		} else if (active) {
			if (!strcasecmp(key, "HostName") && !vals->hostname)
				vals->hostname = orch_strdup(value);
			else if (!strcasecmp(key, "User") && !vals->user)
				vals->user = orch_strdup(value);
			else if (!strcasecmp(key, "Port") && !vals->port)
				vals->port = orch_strdup(value);
			else if (!strcasecmp(key, "UserKnownHostsFile") &&
			         !vals->known_hosts) {
				char *first = orch_strdup(value),
				     *sp = strpbrk(first, " \t");
				if (sp)
					*sp = '\0';
				vals->known_hosts = first;
			} else if (!strcasecmp(key, "IdentityFile"))
				orch_strvec_push(&vals->identities, value);
		}
		free(copy);
	}
}

int orch_ssh_target_resolve(orch_ssh_target *out,
                            const orch_worker_config *config,
                            const char *ssh_config)
{
	struct ssh_config_values vals = {0};
	orch_buf text = {0};
	char *default_path = NULL;
	const char *path = ssh_config;
	int error = 0;

	memset(out, 0, sizeof(*out));
	if (!path) {
		orch_buf p = {0};
		orch_buf_printf(&p, "%s/.ssh/config", home_dir());
		path = default_path = orch_buf_detach(&p);
	}
	if (access(path, F_OK) == 0) {
		if ((error = orch_read_file(&text, path)) < 0)
			goto done;
		parse_ssh_config(&vals, text.ptr, config->host);
	}
	out->alias = orch_strdup(config->host);
	out->host = orch_strdup(vals.hostname ? vals.hostname : config->host);
	out->user = orch_strdup(config->user ? config->user
	                        : vals.user  ? vals.user
	                                     : user_name());
	out->port = config->port > 0 ? config->port
	            : vals.port      ? atoi(vals.port)
	                             : 22;
	if (out->port <= 0 || out->port > 65535) {
		error = orch_error_set("worker '%s': invalid port '%s' in '%s'",
		                       config->name, vals.port, path);
		goto done;
	}
	if (config->identity)
		orch_strvec_push_take(
		    &out->identities,
		    expand_path(config->identity, out->host, out->user));
	for (size_t i = 0; i < vals.identities.count; i++)
		orch_strvec_push_take(&out->identities,
		                      expand_path(vals.identities.items[i],
		                                  out->host, out->user));
	{
		const char *defaults[] = {"~/.ssh/id_ed25519", "~/.ssh/id_rsa"};
		for (size_t i = 0; i < 2; i++) {
			char *p =
			    expand_path(defaults[i], out->host, out->user);
			if (!orch_strvec_contains(&out->identities, p) &&
			    access(p, R_OK) == 0)
				orch_strvec_push_take(&out->identities, p);
			else
				free(p);
		}
	}
	out->known_hosts =
	    expand_path(config->known_hosts ? config->known_hosts
	                : vals.known_hosts  ? vals.known_hosts
	                                    : "~/.ssh/known_hosts",
	                out->host, out->user);
	out->check = config->host_key_check;
done:
	free(vals.hostname);
	free(vals.user);
	free(vals.port);
	free(vals.known_hosts);
	orch_strvec_free(&vals.identities);
	orch_buf_free(&text);
	free(default_path);
	if (error < 0)
		orch_ssh_target_clear(out);
	return error;
}

void orch_ssh_target_clear(orch_ssh_target *target)
{
	free(target->alias);
	free(target->host);
	free(target->user);
	free(target->known_hosts);
	orch_strvec_free(&target->identities);
	memset(target, 0, sizeof(*target));
}

void orch_ssh_fingerprint(char *out, size_t outlen,
                          const unsigned char hash[32])
{
	static const char b64[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char enc[64];
	size_t n = 0;

	for (size_t i = 0; i < 32; i += 3) {
		unsigned v = (unsigned)hash[i] << 16;
		size_t left = 32 - i;
		if (left > 1)
			v |= (unsigned)hash[i + 1] << 8;
		if (left > 2)
			v |= hash[i + 2];
		enc[n++] = b64[(v >> 18) & 63];
		enc[n++] = b64[(v >> 12) & 63];
		if (left > 1)
			enc[n++] = b64[(v >> 6) & 63];
		if (left > 2)
			enc[n++] = b64[v & 63];
	}
	enc[n] = '\0';
	snprintf(out, outlen, "SHA256:%s", enc);
}

/* "127.0.0.1" or "[127.0.0.1]:2222", as known_hosts names a host. */
static void known_name(char *out, size_t outlen, const orch_ssh_target *target)
{
	if (target->port == 22)
		snprintf(out, outlen, "%s", target->host);
	else
		snprintf(out, outlen, "[%s]:%d", target->host, target->port);
}

static int tcp_connect(int *out, const orch_ssh_target *target,
                       const char *worker, int timeout_ms)
{
	struct addrinfo hints = {0}, *res = NULL, *ai;
	char port[16];
	int fd = -1, rc, saved = 0;

	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	snprintf(port, sizeof(port), "%d", target->port);
	if ((rc = getaddrinfo(target->host, port, &hints, &res)) != 0) {
		orch_error_set("worker '%s': cannot resolve host '%s': %s",
		               worker, target->host, gai_strerror(rc));
		orch_error_hint("check `host` in orchestrate.ini (or HostName "
		                "in ~/.ssh/config)");
		return ORCH_ERROR;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		struct pollfd pfd;
		socklen_t len = sizeof(saved);
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
		            ai->ai_protocol);
		if (fd < 0) {
			saved = errno;
			continue;
		}
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		if (errno != EINPROGRESS) {
			saved = errno;
			close(fd);
			fd = -1;
			continue;
		}
		pfd.fd = fd;
		pfd.events = POLLOUT;
		rc = poll(&pfd, 1, timeout_ms);
		if (rc == 1 &&
		    getsockopt(fd, SOL_SOCKET, SO_ERROR, &saved, &len) == 0 &&
		    saved == 0)
			break;
		if (rc == 0)
			saved = ETIMEDOUT;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		orch_error_set("worker '%s': cannot connect to %s port %d: %s",
		               worker, target->host, target->port,
		               strerror(saved));
		orch_error_hint("is sshd running on %s and listening on "
		                "port %d? 'ssh -p %d %s' tries the same by "
		                "hand; the address is set by 'host' and "
		                "'port' of [worker \"%s\"]",
		                target->host, target->port, target->port,
		                target->host, worker);
		return ORCH_ERROR;
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	{
		int one = 1;
		setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	}
	*out = fd;
	return 0;
}

static const char *session_error(LIBSSH2_SESSION *session)
{
	char *msg = NULL;

	libssh2_session_last_error(session, &msg, NULL, 0);
	return msg && *msg ? msg : "unknown error";
}

static int knownhost_keytype(int hostkey_type, const char **name)
{
	switch (hostkey_type) {
	case LIBSSH2_HOSTKEY_TYPE_RSA:
		*name = "RSA";
		return LIBSSH2_KNOWNHOST_KEY_SSHRSA;
	case LIBSSH2_HOSTKEY_TYPE_DSS:
		*name = "DSA";
		return LIBSSH2_KNOWNHOST_KEY_SSHDSS;
	case LIBSSH2_HOSTKEY_TYPE_ECDSA_256:
		*name = "ECDSA";
		return LIBSSH2_KNOWNHOST_KEY_ECDSA_256;
	case LIBSSH2_HOSTKEY_TYPE_ECDSA_384:
		*name = "ECDSA";
		return LIBSSH2_KNOWNHOST_KEY_ECDSA_384;
	case LIBSSH2_HOSTKEY_TYPE_ECDSA_521:
		*name = "ECDSA";
		return LIBSSH2_KNOWNHOST_KEY_ECDSA_521;
	case LIBSSH2_HOSTKEY_TYPE_ED25519:
		*name = "ED25519";
		return LIBSSH2_KNOWNHOST_KEY_ED25519;
	default:
		*name = "UNKNOWN";
		return LIBSSH2_KNOWNHOST_KEY_UNKNOWN;
	}
}

/* Append one known_hosts line for this host and key (accept-new). */
static int record_host_key(LIBSSH2_KNOWNHOSTS *hosts, const char *name,
                           const char *key, size_t keylen, int typemask,
                           const char *path)
{
	struct libssh2_knownhost *entry = NULL;
	char line[8192];
	size_t linelen = 0;
	FILE *fp;

	if (libssh2_knownhost_addc(hosts, name, NULL, key, keylen, NULL, 0,
	                           LIBSSH2_KNOWNHOST_TYPE_PLAIN |
	                               LIBSSH2_KNOWNHOST_KEYENC_RAW | typemask,
	                           &entry) < 0 ||
	    libssh2_knownhost_writeline(hosts, entry, line, sizeof(line),
	                                &linelen,
	                                LIBSSH2_KNOWNHOST_FILE_OPENSSH) < 0)
		return orch_error_set(
		    "cannot format a known_hosts line for '%s'", name);
	fp = fopen(path, "a");
	if (!fp)
		return orch_error_os(
		    "cannot record the host key of '%s' in '%s'", name, path);
	if (fwrite(line, 1, linelen, fp) != linelen) {
		fclose(fp);
		return orch_error_os(
		    "cannot record the host key of '%s' in '%s'", name, path);
	}
	if (fclose(fp) != 0)
		return orch_error_os(
		    "cannot record the host key of '%s' in '%s'", name, path);
	return 0;
}

static int check_host_key(orch_ssh *ssh, const orch_ssh_target *target,
                          const char *worker)
{
	LIBSSH2_KNOWNHOSTS *hosts = NULL;
	struct libssh2_knownhost *entry = NULL;
	const char *key, *hash, *tname;
	size_t keylen;
	int type, typemask, rc, error = 0;
	char name[600];

	key = libssh2_session_hostkey(ssh->session, &keylen, &type);
	hash = libssh2_hostkey_hash(ssh->session, LIBSSH2_HOSTKEY_HASH_SHA256);
	if (!key || !hash)
		return orch_error_set(
		    "worker '%s': %s port %d sent no host key", worker,
		    target->host, target->port);
	typemask = knownhost_keytype(type, &tname);
	snprintf(ssh->info.key_type, sizeof(ssh->info.key_type), "%s", tname);
	orch_ssh_fingerprint(ssh->info.fingerprint,
	                     sizeof(ssh->info.fingerprint),
	                     (const unsigned char *)hash);
	known_name(name, sizeof(name), target);
	if (!(hosts = libssh2_knownhost_init(ssh->session)))
		return orch_error_set("worker '%s': cannot check host keys: %s",
		                      worker, session_error(ssh->session));
	if (access(target->known_hosts, F_OK) == 0 &&
	    libssh2_knownhost_readfile(hosts, target->known_hosts,
	                               LIBSSH2_KNOWNHOST_FILE_OPENSSH) < 0) {
		error = orch_error_set(
		    "worker '%s': cannot read known hosts file '%s': %s",
		    worker, target->known_hosts, session_error(ssh->session));
		error = ORCH_EINVALID;
		goto done;
	}
	rc = libssh2_knownhost_checkp(
	    hosts, target->host, target->port, key, keylen,
	    LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_RAW |
	        typemask,
	    &entry);
	switch (rc) {
	case LIBSSH2_KNOWNHOST_CHECK_MATCH:
		break;
	case LIBSSH2_KNOWNHOST_CHECK_MISMATCH:
		orch_error_set("worker '%s': host key of %s has CHANGED: the "
		               "server sent %s key %s, "
		               "which does not match '%s'; refusing to connect",
		               worker, name, ssh->info.key_type,
		               ssh->info.fingerprint, target->known_hosts);
		orch_error_hint(
		    "if the worker was really reinstalled, check the new "
		    "fingerprint, "
		    "remove the old key with: ssh-keygen -R '%s' -f '%s'",
		    name, target->known_hosts);
		error = ORCH_EINVALID;
		break;
	case LIBSSH2_KNOWNHOST_CHECK_NOTFOUND:
		if (target->check == ORCH_HOSTKEY_ACCEPT_NEW) {
			if ((error = record_host_key(hosts, name, key, keylen,
			                             typemask,
			                             target->known_hosts)) == 0)
				ssh->info.key_added = 1;
			else
				error = ORCH_EINVALID;
			break;
		}
		orch_error_set("worker '%s': host key of %s is not known (%s "
		               "key %s, not in '%s'); "
		               "refusing to connect (host-key-check = strict)",
		               worker, name, ssh->info.key_type,
		               ssh->info.fingerprint, target->known_hosts);
		orch_error_hint("check the fingerprint with the worker's "
		                "administrator, then add it: "
		                "ssh-keyscan -p %d %s >> '%s' (or set "
		                "host-key-check = accept-new)",
		                target->port, target->host,
		                target->known_hosts);
		error = ORCH_EINVALID;
		break;
	default:
		error = orch_error_set(
		    "worker '%s': cannot check the host key of %s: %s", worker,
		    name, session_error(ssh->session));
		error = ORCH_EINVALID;
		break;
	}
done:
	libssh2_knownhost_free(hosts);
	return error;
}

/* 1 when the private key file is protected by a passphrase. */
static int key_is_encrypted(const char *path)
{
	static const char b64[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	orch_buf text = {0}, raw = {0};
	const char *begin, *p;
	unsigned v = 0;
	int bits = 0, encrypted = 0;

	if (orch_read_file(&text, path) < 0) {
		orch_error_clear();
		return 0;
	}
	if (strstr(text.ptr, "ENCRYPTED")) {
		encrypted = 1;
		goto done;
	}
	begin = strstr(text.ptr, "-----BEGIN OPENSSH PRIVATE KEY-----");
	if (!begin)
		goto done;
	p = strchr(begin, '\n');
	for (; p && *p && *p != '-' && raw.len < 64; p++) {
		const char *c = strchr(b64, *p);
		if (!c || !*p)
			continue;
		v = (v << 6) | (unsigned)(c - b64);
		bits += 6;
		if (bits >= 8) {
			char byte = (char)((v >> (bits - 8)) & 0xff);
			bits -= 8;
			orch_buf_put(&raw, &byte, 1);
		}
	}
	/* "openssh-key-v1\0", then the cipher name as a string */
	if (raw.len >= 15 + 4 + 4 && !memcmp(raw.ptr, "openssh-key-v1", 15)) {
		const unsigned char *u = (const unsigned char *)raw.ptr + 15;
		size_t n = ((size_t)u[0] << 24) | ((size_t)u[1] << 16) |
		           ((size_t)u[2] << 8) | u[3];
		encrypted =
		    !(n == 4 && raw.len >= 23 && !memcmp(u + 4, "none", 4));
	}
done:
	orch_buf_free(&text);
	orch_buf_free(&raw);
	return encrypted;
}

static int authenticate(orch_ssh *ssh, const orch_ssh_target *target,
                        const char *worker)
{
	LIBSSH2_SESSION *s = ssh->session;
	orch_buf tried = {0};
	const char *encrypted = NULL;
	const char *sock = getenv("SSH_AUTH_SOCK");
	unsigned ulen = (unsigned)strlen(target->user);
	char *methods;
	int error = 0;

	methods = libssh2_userauth_list(s, target->user, ulen);
	if (!methods) {
		if (libssh2_userauth_authenticated(s)) {
			snprintf(ssh->info.auth, sizeof(ssh->info.auth),
			         "none");
			return 0;
		}
		return orch_error_set("worker '%s': %s port %d: %s", worker,
		                      target->host, target->port,
		                      session_error(s));
	}
	if (!strstr(methods, "publickey")) {
		orch_error_set("worker '%s': %s port %d does not accept public "
		               "keys for '%s' "
		               "(it offers: %s)",
		               worker, target->host, target->port, target->user,
		               methods);
		return ORCH_EINVALID;
	}
	if (sock && *sock) {
		LIBSSH2_AGENT *agent = libssh2_agent_init(s);
		struct libssh2_agent_publickey *id = NULL, *prev = NULL;
		int nkeys = 0;
		if (agent && libssh2_agent_connect(agent) == 0 &&
		    libssh2_agent_list_identities(agent) == 0) {
			while (libssh2_agent_get_identity(agent, &id, prev) ==
			       0) {
				nkeys++;
				if (libssh2_agent_userauth(agent, target->user,
				                           id) == 0) {
					snprintf(ssh->info.auth,
					         sizeof(ssh->info.auth),
					         "ssh-agent key '%s'",
					         id->comment ? id->comment
					                     : "");
					libssh2_agent_disconnect(agent);
					libssh2_agent_free(agent);
					goto done;
				}
				prev = id;
			}
			libssh2_agent_disconnect(agent);
		}
		if (agent)
			libssh2_agent_free(agent);
		orch_buf_printf(&tried, "ssh-agent (%d keys)", nkeys);
	}
	for (size_t i = 0; i < target->identities.count; i++) {
		const char *key = target->identities.items[i];
		if (access(key, R_OK) != 0) {
			orch_buf_printf(&tried, "%s%s (unreadable: %s)",
			                tried.len ? ", " : "", key,
			                strerror(errno));
			continue;
		}
		if (key_is_encrypted(key)) {
			if (!encrypted)
				encrypted = key;
			orch_buf_printf(&tried, "%s%s (encrypted)",
			                tried.len ? ", " : "", key);
			continue;
		}
		if (libssh2_userauth_publickey_fromfile_ex(
		        s, target->user, ulen, NULL, key, NULL) == 0) {
			snprintf(ssh->info.auth, sizeof(ssh->info.auth),
			         "key '%s'", key);
			goto done;
		}
		orch_buf_printf(&tried, "%s%s", tried.len ? ", " : "", key);
	}
	orch_error_set("worker '%s': authentication as '%s' on %s port %d "
	               "failed (tried: %s)",
	               worker, target->user, target->host, target->port,
	               tried.len
	                   ? tried.ptr
	                   : "no keys: no agent, no identity, no ~/.ssh/id_*");
	if (encrypted)
		orch_error_hint("key '%s' has a passphrase, which "
		                "git-orchestrate never asks for: "
		                "load it into ssh-agent (ssh-add '%s') and "
		                "keep SSH_AUTH_SOCK set",
		                encrypted, encrypted);
	else
		orch_error_hint("add your public key to ~/.ssh/authorized_keys "
		                "of '%s' on the worker, "
		                "or set `identity` in orchestrate.ini",
		                target->user);
	error = ORCH_EINVALID;
done:
	orch_buf_free(&tried);
	return error;
}

int orch_ssh_connect(orch_ssh **out, const orch_ssh_target *target,
                     const char *worker, int timeout_ms)
{
	orch_ssh *ssh = orch_calloc(1, sizeof(*ssh));
	int error, rc;

	*out = NULL;
	ssh->fd = -1;
	pthread_once(&ssh_once, ssh_global_init);
	if (ssh_init_error) {
		error = orch_error_set("cannot initialise libssh2");
		goto done;
	}
	if ((error = tcp_connect(&ssh->fd, target, worker, timeout_ms)) < 0)
		goto done;
	if (!(ssh->session = libssh2_session_init())) {
		error = orch_error_set("cannot initialise an SSH session");
		goto done;
	}
	libssh2_session_set_blocking(ssh->session, 1);
	libssh2_session_set_timeout(ssh->session, timeout_ms);
	if ((rc = libssh2_session_handshake(ssh->session, ssh->fd)) != 0) {
		error = orch_error_set(
		    "worker '%s': SSH handshake with %s port %d failed: %s",
		    worker, target->host, target->port,
		    session_error(ssh->session));
		orch_error_hint(
		    "is this an SSH server? (it must offer curve25519-sha256, "
		    "ecdh-sha2-nistp256 or diffie-hellman-group14 key "
		    "exchange)");
		goto done;
	}
	if ((error = check_host_key(ssh, target, worker)) < 0)
		goto done;
	if ((error = authenticate(ssh, target, worker)) < 0)
		goto done;
	libssh2_keepalive_config(ssh->session, 1, KEEPALIVE_S);
	libssh2_session_set_timeout(ssh->session, 0);
	libssh2_session_set_blocking(ssh->session, 0);
	*out = ssh;
	ssh = NULL;
done:
	orch_ssh_free(ssh);
	return error;
}

void orch_ssh_free(orch_ssh *ssh)
{
	if (!ssh)
		return;
	if (ssh->session) {
		libssh2_session_set_blocking(ssh->session, 1);
		libssh2_session_set_timeout(ssh->session, 1000);
		libssh2_session_disconnect(ssh->session, "bye");
		libssh2_session_free(ssh->session);
	}
	if (ssh->fd >= 0)
		close(ssh->fd);
	free(ssh);
}

const orch_ssh_info *orch_ssh_get_info(const orch_ssh *ssh)
{
	return &ssh->info;
}

int orch_ssh_fd(const orch_ssh *ssh)
{
	return ssh->fd;
}

void orch_ssh_wait(orch_ssh *ssh, int fd_extra, int timeout_ms)
{
	struct pollfd pfd[2];
	int dir = libssh2_session_block_directions(ssh->session), n = 1;

	pfd[0].fd = ssh->fd;
	pfd[0].events = POLLIN;
	if (dir & LIBSSH2_SESSION_BLOCK_OUTBOUND)
		pfd[0].events |= POLLOUT;
	pfd[0].revents = 0;
	if (fd_extra >= 0) {
		pfd[1].fd = fd_extra;
		pfd[1].events = POLLIN;
		pfd[1].revents = 0;
		n = 2;
	}
	poll(pfd, (nfds_t)n, timeout_ms);
}

int orch_ssh_keepalive(orch_ssh *ssh)
{
	int next = 0;
	int rc = libssh2_keepalive_send(ssh->session, &next);

	if (rc < 0 && rc != LIBSSH2_ERROR_EAGAIN)
		return orch_error_set("connection lost: %s",
		                      session_error(ssh->session));
	return 0;
}

void orch_ssh_exec_init(orch_ssh_exec *ex, const char *command,
                        const void *input, size_t len)
{
	memset(ex, 0, sizeof(*ex));
	ex->command = orch_strdup(command);
	if (len)
		orch_buf_put(&ex->input, input, len);
	ex->exit_status = -1;
	ex->state = EX_OPEN;
}

void orch_ssh_exec_clear(orch_ssh_exec *ex)
{
	if (ex->channel)
		libssh2_channel_free(ex->channel);
	ex->channel = NULL;
	free(ex->command);
	ex->command = NULL;
	orch_buf_free(&ex->input);
	orch_buf_free(&ex->out);
	orch_buf_free(&ex->err);
}

static int broken(orch_ssh *ssh, orch_ssh_exec *ex, const char *what)
{
	orch_error_set("connection lost (%s): %s", what,
	               session_error(ssh->session));
	if (ex->channel)
		libssh2_channel_free(ex->channel);
	ex->channel = NULL;
	ex->done = 1;
	ex->state = EX_DONE;
	return ORCH_ERROR;
}

int orch_ssh_exec_step(orch_ssh *ssh, orch_ssh_exec *ex)
{
	LIBSSH2_SESSION *s = ssh->session;
	char chunk[32768];
	ssize_t n;
	int rc, progress = 0;

	switch (ex->state) {
	case EX_OPEN:
		ex->channel = libssh2_channel_open_session(s);
		if (!ex->channel) {
			if (libssh2_session_last_errno(s) ==
			    LIBSSH2_ERROR_EAGAIN)
				return 0;
			return broken(ssh, ex, "opening a channel");
		}
		ex->state = EX_EXEC;
		/* fall through */
	case EX_EXEC:
		rc = libssh2_channel_exec(ex->channel, ex->command);
		if (rc == LIBSSH2_ERROR_EAGAIN)
			return 0;
		if (rc < 0)
			return broken(ssh, ex, "starting a command");
		ex->state = EX_RUN;
		progress = 1;
		/* fall through */
	case EX_RUN:
		while (ex->input_off < ex->input.len) {
			n = libssh2_channel_write(
			    ex->channel, ex->input.ptr + ex->input_off,
			    ex->input.len - ex->input_off);
			if (n == LIBSSH2_ERROR_EAGAIN)
				break;
			if (n < 0 && ex->keep_input &&
			    (n == LIBSSH2_ERROR_CHANNEL_CLOSED ||
			     libssh2_channel_eof(ex->channel))) {
				/* a shell that ended before it read what it
				 * was sent: its channel ends, not the session
				 */
				ex->input_off = ex->input.len;
				break;
			}
			if (n < 0)
				return broken(ssh, ex, "writing to a command");
			ex->input_off += (size_t)n;
			progress = 1;
		}
		if (ex->keep_input && ex->input_off == ex->input.len &&
		    ex->input.len) {
			/* all sent: the buffer starts again (wiped: requests
			 * may hold secrets) */
			volatile char *p = ex->input.ptr;
			for (size_t i = 0; i < ex->input.len; i++)
				p[i] = '\0';
			orch_buf_clear(&ex->input);
			ex->input_off = 0;
		}
		if (ex->input_off == ex->input.len && !ex->eof_sent &&
		    !ex->keep_input) {
			rc = libssh2_channel_send_eof(ex->channel);
			if (rc == 0) {
				ex->eof_sent = 1;
				progress = 1;
			} else if (rc != LIBSSH2_ERROR_EAGAIN) {
				return broken(ssh, ex,
				              "closing a command's input");
			}
		}
		for (int stream = 0; stream < 2; stream++) {
			orch_buf *dst = stream ? &ex->err : &ex->out;
			while ((n = libssh2_channel_read_ex(
			            ex->channel, stream, chunk,
			            sizeof(chunk))) > 0) {
				orch_buf_put(dst, chunk, (size_t)n);
				progress = 1;
			}
			if (n < 0 && n != LIBSSH2_ERROR_EAGAIN)
				return broken(ssh, ex,
				              "reading a command's output");
		}
		if (!libssh2_channel_eof(ex->channel))
			return progress;
		ex->state = EX_CLOSE;
		/* fall through */
	case EX_CLOSE:
		rc = libssh2_channel_close(ex->channel);
		if (rc == LIBSSH2_ERROR_EAGAIN)
			return 0;
		if (rc < 0)
			return broken(ssh, ex, "closing a channel");
		ex->state = EX_WAIT_CLOSED;
		/* fall through */
	case EX_WAIT_CLOSED: {
		char *sig = NULL;
		size_t siglen = 0;
		rc = libssh2_channel_wait_closed(ex->channel);
		if (rc == LIBSSH2_ERROR_EAGAIN)
			return 0;
		if (rc < 0)
			return broken(ssh, ex, "closing a channel");
		ex->exit_status = libssh2_channel_get_exit_status(ex->channel);
		if (libssh2_channel_get_exit_signal(ex->channel, &sig, &siglen,
		                                    NULL, NULL, NULL,
		                                    NULL) == 0 &&
		    sig) {
			snprintf(ex->exit_signal, sizeof(ex->exit_signal),
			         "%.*s", (int)siglen, sig);
			libssh2_free(s, sig);
			if (ex->exit_status == 0)
				ex->exit_status = 128 + 9;
		}
		libssh2_channel_free(ex->channel);
		ex->channel = NULL;
		ex->state = EX_DONE;
		ex->done = 1;
		return 1;
	}
	default:
		return 0;
	}
}

int orch_ssh_exec_run(orch_ssh *ssh, orch_ssh_exec *ex, int timeout_ms)
{
	int64_t deadline = orch_monotonic_ms() + timeout_ms;
	int rc;

	while (!ex->done) {
		if ((rc = orch_ssh_exec_step(ssh, ex)) < 0)
			return rc;
		if (rc == 0) {
			if (orch_monotonic_ms() > deadline)
				return orch_error_set(
				    "remote command did not finish within %d s",
				    timeout_ms / 1000);
			orch_ssh_wait(ssh, -1, 100);
		}
	}
	return 0;
}
