/* The exact mode's scan kernel (Sources/CRecSysScan/scan.c, the code the sidecar runs) against a
 * plain read of the same table (read_loop.h), interleaved pass by pass: the best pass of each, so
 * the ratio is the scan's share of the read bandwidth with both seeing the same machine state.
 * The scan runs in the sidecar's blocks of 4096 rows and keeps a running maximum of each block (a
 * stand-in for the top-k's threshold test, which reads the scores from L1), with the kernel the
 * sidecar picks for that table size (no prefetch when it fits in half the L3). Measured on one core
 * and split across two (the upper half on recsys_second_core.h's helper thread, as a lone call in
 * the sidecar does), each against the plain read with as many threads.
 *
 *   scan_roof ROWS [DIM=64] [PASSES=10]   ->  one JSON line
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "read_loop.h"
#include "recsys_scan.h"
#include "recsys_second_core.h"

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

struct part {
  const float *table, *query;
  size_t first, last, dim;
  int cached; /* the table fits in half the L3: the kernel the sidecar then picks (no prefetch) */
  size_t *next; /* the shared block counter of a scan on two cores (NULL: this part alone) */
  float best;   /* scan: the best score; read: the sum */
};

/* Scans blocks of 4096 rows: claimed from part->next when shared (as the sidecar's two threads
 * do), else first..last in order. */
static void scan_part(void *argument) {
  struct part *part = argument;
  float block[4096], best = -1e30f;
  size_t cursor = part->first;
  for (;;) {
    size_t first = part->next ? part->first + recsys_second_core_claim(part->next, 4096) : cursor;
    if (first >= part->last) break;
    cursor = first + 4096;
    size_t n = part->last - first < 4096 ? part->last - first : 4096;
    (part->cached ? recsys_scan_f32_cached : recsys_scan_f32)(part->table + first * part->dim, n, part->dim,
                                                              part->query, block);
    for (size_t i = 0; i < n; ++i) best = block[i] > best ? block[i] : best;
  }
  part->best = best;
}

static void *read_part(void *argument) {
  struct part *part = argument;
  part->best = recsys_read_sum(part->table + part->first * part->dim, (part->last - part->first) * part->dim);
  return NULL;
}

/* Seconds of one pass over rows [0, rows) on `cores` cores (1 or 2); `scan` or plain read. */
static double pass(const float *table, const float *query, size_t rows, size_t dim, int cores, int scan, double *check) {
  size_t next = 0, middle = cores == 2 ? rows / 2 : rows;
  int cached = rows * dim * sizeof(float) <= recsys_scan_cache_bytes() / 2;
  double start = now(), seconds;
  if (scan) {
    /* Two cores: both threads claim blocks of the whole table from one counter. */
    struct part mine = {table, query, 0, rows, dim, cached, cores == 2 ? &next : NULL, 0}, helpers = mine;
    int shared = cores == 2 && recsys_second_core_start(scan_part, &helpers);
    scan_part(&mine);
    if (shared) recsys_second_core_finish();
    seconds = now() - start;
    *check += mine.best + (shared ? helpers.best : 0);
  } else {
    struct part lower = {table, query, 0, middle, dim, cached, NULL, 0};
    struct part upper = {table, query, middle, rows, dim, cached, NULL, 0};
    pthread_t reader;
    int split = cores == 2 && pthread_create(&reader, NULL, read_part, &upper) == 0;
    read_part(&lower);
    if (split) pthread_join(reader, NULL);
    else if (cores == 2) read_part(&upper);
    seconds = now() - start;
    *check += lower.best + (cores == 2 ? upper.best : 0);
  }
  return seconds;
}

int main(int argc, char **argv) {
  if (argc < 2) return 2;
  size_t rows = strtoul(argv[1], NULL, 10), dim = argc > 2 ? strtoul(argv[2], NULL, 10) : 64;
  int passes = argc > 3 ? atoi(argv[3]) : 10;
  size_t count = rows * dim, bytes = count * sizeof(float);
  float *table = recsys_bench_alloc_table(bytes), query[1024];
  if (!table || dim > 1024) return 1;
  for (size_t i = 0; i < count; ++i) table[i] = (float)((i * 2654435761u) % 1000) * 1e-3f - 0.5f;
  for (size_t j = 0; j < dim; ++j) query[j] = (float)j / dim - 0.5f;
  double best[2][2] = {{1e30, 1e30}, {1e30, 1e30}}, check = 0; /* [cores - 1][scan] */
  recsys_second_core_enter();
  for (int p = 0; p < passes; ++p) {
    for (int cores = 1; cores <= 2; ++cores) {
      for (int scan = 0; scan <= 1; ++scan) {
        double seconds = pass(table, query, rows, dim, cores, scan, &check);
        if (seconds < best[cores - 1][scan]) best[cores - 1][scan] = seconds;
      }
    }
  }
  recsys_second_core_leave();
  printf("{\"rows\": %zu, \"dim\": %zu, \"scan_gbps\": %.3f, \"read_gbps\": %.3f, \"scan_ms\": %.3f, "
         "\"scan_gbps_2_cores\": %.3f, \"read_gbps_2_threads\": %.3f, \"scan_ms_2_cores\": %.3f, \"check\": %.1f}\n",
         rows, dim, bytes / best[0][1] / 1e9, bytes / best[0][0] / 1e9, best[0][1] * 1e3, bytes / best[1][1] / 1e9,
         bytes / best[1][0] / 1e9, best[1][1] * 1e3, check);
  free(table);
  return 0;
}
