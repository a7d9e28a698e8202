/*
 * run -j auto: local slots from the load average and free memory.
 */
#include "autojobs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int orch_autojobs_cpus(void)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	return cpus < 1 ? 1 : cpus > 4096 ? 4096 : (int)cpus;
}

static int64_t mem_available_kb(void)
{
	FILE *f = fopen("/proc/meminfo", "r");
	char line[256];
	long long kb = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "MemAvailable: %lld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

void orch_autojobs_probe(orch_autojobs_input *in, const char *probe_file)
{
	double load[1];

	in->load1 = -1;
	in->mem_available_kb = -1;
	if (probe_file) {
		FILE *f = fopen(probe_file, "r");
		long long kb;
		double l;
		if (f && fscanf(f, "%lf %lld", &l, &kb) == 2) {
			in->load1 = l;
			in->mem_available_kb = kb;
		}
		if (f)
			fclose(f);
		return;
	}
	if (getloadavg(load, 1) == 1)
		in->load1 = load[0];
	in->mem_available_kb = mem_available_kb();
}

int orch_autojobs_slots(const orch_autojobs_input *in)
{
	int cpus = in->cpus > 0 ? in->cpus : 1, slots = cpus;

	if (in->load1 >= 0) {
		double other = in->load1 - in->running;
		double by_load = cpus - (other > 0 ? other : 0);
		if (by_load < slots)
			slots = by_load < 1 ? 1 : (int)by_load;
	}
	if (in->mem_available_kb >= 0) {
		int64_t each =
		    in->task_kb > 0 ? in->task_kb : ORCH_AUTOJOBS_TASK_KB;
		int64_t spare = in->mem_available_kb - ORCH_AUTOJOBS_RESERVE_KB;
		int64_t by_mem = in->running + (spare > 0 ? spare / each : 0);
		if (by_mem < slots)
			slots = (int)by_mem;
	}
	return slots < 1 ? 1 : slots > cpus ? cpus : slots;
}

void orch_autojobs_describe(char *out, size_t outlen,
                            const orch_autojobs_input *in)
{
	char load[64] = "load unknown", mem[64] = "free memory unknown";

	if (in->load1 >= 0)
		snprintf(load, sizeof(load), "load %.2f", in->load1);
	if (in->mem_available_kb >= 0)
		snprintf(mem, sizeof(mem), "%.1f GiB available",
		         in->mem_available_kb / (1024.0 * 1024.0));
	snprintf(out, outlen, "%s on %d CPU%s, %s", load, in->cpus,
	         in->cpus == 1 ? "" : "s", mem);
}
