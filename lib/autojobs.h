#ifndef ORCH_AUTOJOBS_H
#define ORCH_AUTOJOBS_H

#include <stddef.h>
#include <stdint.h>

/*
 * run -j auto: how many tasks this machine's local worker runs at once,
 * from its load average and free memory, between 1 and the CPU count.
 *
 *   by load:   CPUs minus the load that is not ours (the 1-minute load
 *              average less the tasks we run here), rounded down
 *   by memory: the tasks we run plus as many more as fit in the available
 *              memory (MemAvailable) above ORCH_AUTOJOBS_RESERVE_KB, each
 *              counted at the largest peak RSS a task of the plan had
 *              (ORCH_AUTOJOBS_TASK_KB until one is known)
 *
 * The smaller of the two, kept between 1 and the CPU count.
 */

#define ORCH_AUTOJOBS_MS 3000 /* how often a run looks again */
#define ORCH_AUTOJOBS_TASK_KB (256 * 1024)
#define ORCH_AUTOJOBS_RESERVE_KB (256 * 1024)

typedef struct {
	int cpus;
	double load1;             /* 1-minute load average; < 0: unknown */
	int64_t mem_available_kb; /* < 0: unknown */
	int running;              /* our tasks running on this machine */
	int64_t task_kb;          /* largest peak RSS of a task; 0: unknown */
} orch_autojobs_input;

/* CPUs online, at least 1. */
int orch_autojobs_cpus(void);

/*
 * Fill load1 and mem_available_kb from the machine, or from `probe_file`
 * when not NULL ("LOAD MEM_KB": the tests' way to set them).
 */
void orch_autojobs_probe(orch_autojobs_input *in, const char *probe_file);

/* The slots for `in` (pure). */
int orch_autojobs_slots(const orch_autojobs_input *in);

/* "load 0.52 on 2 CPUs, 9.8 GiB available" */
void orch_autojobs_describe(char *out, size_t outlen,
                            const orch_autojobs_input *in);

#endif
