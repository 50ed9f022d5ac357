/* DRAM read bandwidth of one core: sums a buffer far larger than the caches with AVX2 loads
 * (several independent accumulators, so the loads, not the adds, limit it) and prints the best
 * GB/s of several passes. One thread, like one call in flight in the sidecar.
 *
 *   read_bandwidth [MiB=1024] [passes=8]
 */
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

__attribute__((target("avx2"))) static float sum(const float *data, size_t count) {
  __m256 a = _mm256_setzero_ps(), b = a, c = a, d = a;
  for (size_t i = 0; i + 32 <= count; i += 32) {
    a = _mm256_add_ps(a, _mm256_load_ps(data + i));
    b = _mm256_add_ps(b, _mm256_load_ps(data + i + 8));
    c = _mm256_add_ps(c, _mm256_load_ps(data + i + 16));
    d = _mm256_add_ps(d, _mm256_load_ps(data + i + 24));
  }
  __m256 s = _mm256_add_ps(_mm256_add_ps(a, b), _mm256_add_ps(c, d));
  float lanes[8];
  _mm256_storeu_ps(lanes, s);
  return lanes[0] + lanes[1] + lanes[2] + lanes[3] + lanes[4] + lanes[5] + lanes[6] + lanes[7];
}

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
  size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 1024;
  int passes = argc > 2 ? atoi(argv[2]) : 8;
  size_t bytes = mib << 20, count = bytes / sizeof(float);
  float *data = aligned_alloc(64, bytes);
  if (!data) return 1;
  for (size_t i = 0; i < count; ++i) data[i] = (float)(i & 1023) * 1e-3f;
  double best = 0, check = 0;
  for (int pass = 0; pass < passes; ++pass) {
    double start = now();
    check += sum(data, count);
    double rate = bytes / (now() - start) / 1e9;
    if (rate > best) best = rate;
  }
  printf("{\"read_gbps\": %.3f, \"mib\": %zu, \"passes\": %d, \"check\": %.1f}\n", best, mib, passes, check);
  free(data);
  return 0;
}
