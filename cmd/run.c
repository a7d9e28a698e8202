/* git orchestrate run: run a plan's tasks, with live progress. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cmd.h"
#include "run.h"
#include "util.h"
#include "synopsis.h"

static const char run_usage[] = SYNOPSIS_RUN;

struct progress {
	int tty;
	int json;
	int line_shown;
};

static void clear_line(struct progress *p)
{
	if (p->line_shown) {
		fputs("\r\033[K", stderr);
		p->line_shown = 0;
	}
}

static void on_event(const orch_run_event *event, void *payload)
{
	struct progress *p = payload;
	char dur[32], eta[32], elapsed[32], paused[128] = "";
	FILE *out = p->json ? stderr : stdout;

	switch (event->kind) {
	case ORCH_RUN_EVENT_START:
		break;
	case ORCH_RUN_EVENT_END:
		clear_line(p);
		orch_format_duration(dur, sizeof(dur), event->duration_ms);
		if (event->state == ORCH_STATE_DONE)
			fprintf(out, "%s: done on %s in %s (attempt %d)\n",
			        event->task, event->worker, dur,
			        event->attempt);
		else if (event->state == ORCH_STATE_READY)
			fprintf(out,
			        "%s: attempt %d on %s failed: %s; will retry\n",
			        event->task, event->attempt, event->worker,
			        event->message ? event->message : "");
		else
			fprintf(out, "%s: %s on %s after %s (attempt %d)%s%s\n",
			        event->task, orch_state_name(event->state),
			        event->worker, dur, event->attempt,
			        event->message ? ": " : "",
			        event->message ? event->message : "");
		fflush(out);
		break;
	case ORCH_RUN_EVENT_NOTE:
		clear_line(p);
		fprintf(stderr, "%s\n", event->message);
		break;
	case ORCH_RUN_EVENT_TICK:
		if (!p->tty)
			break;
		orch_format_duration(elapsed, sizeof(elapsed),
		                     event->elapsed_ms);
		if (event->eta_ms >= 0)
			orch_format_duration(eta, sizeof(eta), event->eta_ms);
		else
			snprintf(eta, sizeof(eta), "?");
		if (event->paused_until_ms) {
			char until[64];
			orch_format_time(until, sizeof(until),
			                 event->paused_until_ms);
			snprintf(paused, sizeof(paused),
			         "; paused until %s (rate limit)", until);
		}
		fprintf(stderr,
		        "\r\033[K%zu done, %zu running, %zu queued, %zu "
		        "failed; %s elapsed, ETA %s%s",
		        event->done, event->running, event->queued,
		        event->failed, elapsed, eta, paused);
		fflush(stderr);
		p->line_shown = 1;
		break;
	}
}

/*
 * The knobs the end-to-end tests turn, read here only: the run loop takes
 * them from its options.
 */
static void read_test_knobs(orch_run_options *opts)
{
	const char *env;

	if ((env = getenv("ORCH_RETRY_BASE_MS")))
		opts->retry_base_ms = atoll(env);
	if ((env = getenv("ORCH_AUTOJOBS_PROBE")))
		opts->autojobs_probe = env;
	if ((env = getenv("ORCH_RATE_LIMIT_FIRST_MS")))
		opts->rate_limit_first_ms = atoll(env);
	if ((env = getenv("ORCH_LOG_FLUSH_MS")))
		opts->log_flush_ms = atoll(env);
	if ((env = getenv("ORCH_TEST_LEASE_TTL_MS")))
		opts->lease_ttl_ms = atoll(env);
	opts->crash_before_record =
	    getenv("ORCH_TEST_CRASH_BEFORE_RECORD") != NULL;
}

int cmd_run(int argc, char **argv, orch_cli *cli)
{
	static const struct option options[] = {
	    {"worker", required_argument, NULL, 'w'},
	    {"merge", no_argument, NULL, 'm'},
	    {"json", no_argument, NULL, 'J'},
	    {"jobs", required_argument, NULL, 'j'},
	    {"remote", required_argument, NULL, 'r'},
	    {"wait-workers", required_argument, NULL, 'W'},
	    {NULL, 0, NULL, 0},
	};
	orch_strvec only = {0};
	orch_config *config = NULL;
	orch_run_options opts = {0};
	orch_run_summary summary;
	struct progress progress = {0};
	char *name = NULL, achieved[224];
	const char *remote = NULL;
	int opt, error, status;

	if (cli_wants_help(argc, argv, run_usage))
		return 0;
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "j:", options, NULL)) != -1) {
		switch (opt) {
		case 'w':
			orch_strvec_push(&only, optarg);
			break;
		case 'm':
			opts.merge = 1;
			break;
		case 'r':
			remote = optarg;
			break;
		case 'J':
			progress.json = 1;
			break;
		case 'W':
			if (orch_parse_duration(&opts.wait_workers_ms, optarg) <
			    0) {
				orch_strvec_free(&only);
				return cli_usage_error(
				    run_usage,
				    "--wait-workers needs a duration (90s, "
				    "10m, 1h), got '%s'",
				    optarg);
			}
			/* 0 in the options means the default: here, none */
			if (opts.wait_workers_ms == 0)
				opts.wait_workers_ms = -1;
			break;
		case 'j':
			if (!strcmp(optarg, "auto")) {
				opts.jobs_auto = 1;
				break;
			}
			opts.jobs = atoi(optarg);
			if (opts.jobs < 1 || opts.jobs > 4096) {
				orch_strvec_free(&only);
				return cli_usage_error(
				    run_usage,
				    "-j needs a number of slots or 'auto', "
				    "got '%s'",
				    optarg);
			}
			break;
		default:
			orch_strvec_free(&only);
			return cli_usage_error(run_usage, "unknown option '%s'",
			                       argv[optind - 1]);
		}
	}
	if (argc - optind > 1) {
		orch_strvec_free(&only);
		return cli_usage_error(run_usage, "unexpected argument '%s'",
		                       argv[optind + 1]);
	}
	if (remote && optind >= argc) {
		orch_strvec_free(&only);
		return cli_usage_error(run_usage,
		                       "--remote needs the plan's name");
	}
	if (remote && opts.merge) {
		orch_strvec_free(&only);
		return cli_usage_error(run_usage,
		                       "--merge cannot be used with --remote: "
		                       "the hub's hook or 'merge' merges");
	}
	if ((error = cli_open(cli)) < 0 ||
	    (error = cli_resolve_plan(
	         &name, cli, optind < argc ? argv[optind] : NULL)) < 0 ||
	    (remote && (error = orch_store_attach_remote(cli->store, remote,
	                                                 name)) < 0) ||
	    (error = cli_load_config(&config, cli)) < 0)
		goto fail;
	cli_catch_signals();
	progress.tty = cli_is_tty(2) && !progress.json;
	opts.plan = name;
	opts.only = &only;
	opts.interrupted = &cli_interrupted;
	opts.on_event = on_event;
	opts.payload = &progress;
	read_test_knobs(&opts);
	error = orch_run(&summary, cli->store, config, &opts);
	clear_line(&progress);
	if (error == ORCH_EINTR) {
		cli_print_error();
		status = ORCH_EXIT_INTERRUPTED;
		goto out;
	}
	if (error < 0)
		goto fail;
	{
		size_t bad = summary.counts[ORCH_STATE_FAILED] +
		             summary.counts[ORCH_STATE_TIMEOUT] +
		             summary.counts[ORCH_STATE_SKIPPED] +
		             summary.counts[ORCH_STATE_CANCELLED] +
		             summary.counts[ORCH_STATE_CONFLICT] +
		             summary.counts[ORCH_STATE_REJECTED];
		size_t good = summary.counts[ORCH_STATE_DONE] +
		              summary.counts[ORCH_STATE_MERGED];
		size_t left = summary.counts[ORCH_STATE_PENDING] +
		              summary.counts[ORCH_STATE_READY] +
		              summary.counts[ORCH_STATE_RUNNING];
		status = bad || left ? ORCH_EXIT_FAILED : ORCH_EXIT_OK;
		if (!progress.json) {
			printf("plan %s: %zu done", name, good);
			for (int s = ORCH_STATE_FAILED; s < ORCH_STATE__COUNT;
			     s++)
				if (summary.counts[s] && s != ORCH_STATE_MERGED)
					printf(", %zu %s", summary.counts[s],
					       orch_state_name((orch_state)s));
			if (left)
				printf(", %zu not run (no worker can run them)",
				       left);
			cli_format_achieved(achieved, sizeof(achieved),
			                    &summary.achieved,
			                    &summary.estimate);
			printf("; %s\n", achieved);
		}
	}
out:
	orch_config_free(config);
	orch_strvec_free(&only);
	if (progress.json) {
		/* the final status document, as `status --json` prints it */
		char *args[] = {"status", name, "--json", NULL};
		fflush(stdout);
		cmd_status(3, args, cli);
	}
	free(name);
	return status;
fail:
	orch_config_free(config);
	orch_strvec_free(&only);
	free(name);
	return cli_fail(error);
}
