/* DRAM read bandwidth with one and with two threads: sums a buffer far larger than the caches
 * (read_loop.h) and prints the best GB/s of several passes for each. One thread is one call in
 * flight scanning alone; two threads (each half the buffer, started together) are what a lone
 * call that splits its scan across both cores can draw, so the roof is the better of the two.
 *
 *   read_bandwidth [MiB=1024] [passes=8]   ->  one JSON line
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "read_loop.h"

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

struct half {
  const float *data;
  size_t count;
  float sum;
};

static void *read_half(void *argument) {
  struct half *half = argument;
  half->sum = recsys_read_sum(half->data, half->count);
  return NULL;
}

/* Best GB/s over `passes` reads of data[0..count) split across `threads` (1 or 2) threads. */
static double best_rate(const float *data, size_t count, int threads, int passes, double *check) {
  double best = 0;
  for (int pass = 0; pass < passes; ++pass) {
    struct half halves[2] = {{data, count / threads, 0}, {data + count / threads, count - count / threads, 0}};
    pthread_t helper;
    double start = now();
    if (threads == 2 && pthread_create(&helper, NULL, read_half, &halves[1]) != 0) return 0;
    read_half(&halves[0]);
    if (threads == 2) pthread_join(helper, NULL);
    double rate = count * sizeof(float) / (now() - start) / 1e9;
    *check += halves[0].sum + (threads == 2 ? halves[1].sum : 0);
    if (rate > best) best = rate;
  }
  return best;
}

int main(int argc, char **argv) {
  size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 1024;
  int passes = argc > 2 ? atoi(argv[2]) : 8;
  size_t bytes = mib << 20, count = bytes / sizeof(float);
  float *data = recsys_bench_alloc_table(bytes);
  if (!data) return 1;
  for (size_t i = 0; i < count; ++i) data[i] = (float)(i & 1023) * 1e-3f;
  double check = 0;
  /* Interleaved, so both see the same machine state (the cores are shared with other work). */
  double one = 0, two = 0;
  for (int round = 0; round < 2; ++round) {
    double a = best_rate(data, count, 1, passes / 2 > 0 ? passes / 2 : 1, &check);
    double b = best_rate(data, count, 2, passes / 2 > 0 ? passes / 2 : 1, &check);
    one = a > one ? a : one;
    two = b > two ? b : two;
  }
  printf("{\"read_gbps\": %.3f, \"read_gbps_1_thread\": %.3f, \"read_gbps_2_threads\": %.3f, \"mib\": %zu, "
         "\"passes\": %d, \"check\": %.1f}\n",
         one > two ? one : two, one, two, mib, passes, check);
  free(data);
  return 0;
}
