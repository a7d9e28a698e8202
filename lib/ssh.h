#ifndef ORCH_SSH_H
#define ORCH_SSH_H

#include <stddef.h>

#include <git2.h>
#include <libssh2.h>

#include "config.h"
#include "util.h"

/*
 * SSH sessions to workers, on libssh2: where to connect (an alias of
 * ~/.ssh/config resolved as OpenSSH does), host key checking against an
 * OpenSSH known_hosts file, public key authentication, and commands run on
 * exec channels, driven without blocking so that one thread can serve many
 * channels of one session. Only the SSH worker uses this module.
 */

/* Where and how to connect, after ~/.ssh/config. */
typedef struct {
	char *alias; /* `host` as configured */
	char *host;  /* HostName, or the alias */
	char *user;
	int port;
	orch_strvec identities; /* key files to try after the agent, in order */
	char *known_hosts;
	orch_hostkey_check check;
} orch_ssh_target;

/*
 * Resolve `config` against the OpenSSH client configuration `ssh_config`
 * (NULL: ~/.ssh/config; a missing file is no error): HostName, User, Port
 * and IdentityFile of the matching Host blocks, first value wins, values of
 * orchestrate.ini win over it. Clear with orch_ssh_target_clear.
 */
int orch_ssh_target_resolve(orch_ssh_target *out,
                            const orch_worker_config *config,
                            const char *ssh_config);
void orch_ssh_target_clear(orch_ssh_target *target);

typedef struct orch_ssh orch_ssh;

/* What connecting learnt, for `workers check`. */
typedef struct {
	char key_type[16];    /* "ED25519", "RSA", ... */
	char fingerprint[64]; /* "SHA256:..." as OpenSSH prints it */
	int key_added;        /* accept-new recorded it */
	char auth[300];       /* how we authenticated */
} orch_ssh_info;

/*
 * Connect, check the host key, authenticate. Errors name the worker, the
 * host and what to do. Failures that retrying cannot fix (host key, key
 * or authentication problems) return ORCH_EINVALID, others ORCH_ERROR.
 * The session is left in non-blocking mode. Free with orch_ssh_free.
 */
int orch_ssh_connect(orch_ssh **out, const orch_ssh_target *target,
                     const char *worker, int timeout_ms);
void orch_ssh_free(orch_ssh *ssh);
const orch_ssh_info *orch_ssh_get_info(const orch_ssh *ssh);
/* The socket, to wait on. */
int orch_ssh_fd(const orch_ssh *ssh);

/*
 * Wait until the session's socket is ready for what libssh2 waits for, or
 * `fd_extra` (>= 0) is readable, at most `timeout_ms`.
 */
void orch_ssh_wait(orch_ssh *ssh, int fd_extra, int timeout_ms);
/* Send a keepalive when due; ORCH_ERROR when the connection is broken. */
int orch_ssh_keepalive(orch_ssh *ssh);

/* SHA256 fingerprint of a raw 32-byte hash, as OpenSSH prints it. */
void orch_ssh_fingerprint(char *out, size_t outlen,
                          const unsigned char hash[32]);

/*
 * One command on an exec channel, driven step by step. Set it up with
 * orch_ssh_exec_init, then call orch_ssh_exec_step until `done`. `input`
 * is written to the command's stdin, followed by EOF. Output accumulates
 * in `out` and `err` (the owner may drain them between steps).
 */
typedef struct {
	char *command;
	orch_buf input;
	size_t input_off;
	/* set by the owner: no EOF after `input`, which may grow later (a
	 * shell that reads one request after another) */
	int keep_input;
	int eof_sent;
	orch_buf out, err;
	int exit_status; /* -1 until known */
	char exit_signal[32];
	int done;
	int state;
	LIBSSH2_CHANNEL *channel;
} orch_ssh_exec;

void orch_ssh_exec_init(orch_ssh_exec *ex, const char *command,
                        const void *input, size_t len);
/*
 * Advance: 1 when something happened, 0 when it would block, ORCH_ERROR
 * when the session broke (message set; the channel is gone).
 */
int orch_ssh_exec_step(orch_ssh *ssh, orch_ssh_exec *ex);
/* Free the channel (if still open) and the buffers. */
void orch_ssh_exec_clear(orch_ssh_exec *ex);

/* Run a command to its end (blocking, up to timeout_ms). */
int orch_ssh_exec_run(orch_ssh *ssh, orch_ssh_exec *ex, int timeout_ms);

/* What `workers check` learns of one SSH worker (see worker_ssh.c). */
typedef struct {
	int connected;     /* reached, host key accepted, authenticated */
	char address[300]; /* user@host:port after ~/.ssh/config */
	orch_ssh_info ssh;
	char git_version[64]; /* "git version 2.39.5" */
	char sh[64];          /* what /bin/sh is */
	char workdir[512];    /* the project's directory there */
	long long free_kb;    /* free space there, -1 if unknown */
} orch_ssh_check_report;

#endif
