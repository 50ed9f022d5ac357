/*
 * recsys_second_core.h: one persistent helper thread that lets a lone whole-catalog call scan with
 * both cores.
 *
 * Why: one core draws only part of what the memory can deliver, and at 50k rows (a table in L3)
 * two cores halve the scan. But a split pays only while the other core would otherwise be idle:
 * with two calls in flight each core already scans its own call. So the helper is offered a job
 * only when the caller is the only whole-catalog call in flight in this process and the helper is
 * idle; otherwise the caller scans alone. The thread is created once (no thread per call) and
 * sleeps on a condition variable between jobs.
 *
 * Both threads claim blocks of rows from one counter (recsys_second_core_claim), so a helper that
 * the scheduler runs late (the core busy with other processes) costs at most the block it holds:
 * the caller takes every block the helper did not, and if the helper has not started when the
 * caller runs out of blocks, it never touches the job.
 *
 * And when the caller still had to wait for the helper for more than a quarter of the call (the
 * helper was preempted mid-block by other processes on its core), the next 32 calls scan alone.
 *
 * The environment variable RECSYS_SCAN_SHARE=0 turns sharing off (every call scans alone).
 *
 * Usage: enter(); posted = start(job, ctx); claim and scan blocks; if (posted) finish(); leave().
 */
#ifndef RECSYS_SECOND_CORE_H
#define RECSYS_SECOND_CORE_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef void (*recsys_second_core_job)(void *context);

/* Count one whole-catalog call in flight (enter) and its end (leave). */
void recsys_second_core_enter(void);
void recsys_second_core_leave(void);

/*
 * Posts job(context) to the helper thread and returns 1 when the caller is the only call in
 * flight (between enter and leave), the machine has two or more online cores and the helper is
 * idle; otherwise returns 0 and runs nothing. After a 1 the caller must call
 * recsys_second_core_finish() before anything the job reads goes away.
 */
int recsys_second_core_start(recsys_second_core_job job, void *context);

/*
 * Closes the posted job: returns at once if the helper has not entered it (it never will), else
 * once the job has returned. Call it after the caller's own share, when no block is left to claim.
 */
void recsys_second_core_finish(void);

/* The first of `step` items from a shared counter (atomic fetch-add): each thread's next block. */
size_t recsys_second_core_claim(size_t *counter, size_t step);

/* How many jobs the helper has run (entered before they closed) since the process started. */
unsigned long recsys_second_core_jobs_run(void);

#ifdef __cplusplus
}
#endif

#endif /* RECSYS_SECOND_CORE_H */
