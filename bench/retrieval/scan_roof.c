/* The exact mode's scan kernel (Sources/CRecSysScan/scan.c, the code the sidecar runs) against a
 * plain AVX2 read of the same table, interleaved pass by pass on one core: the best pass of each,
 * so the ratio is the scan's share of the read bandwidth with both seeing the same machine state.
 * The scan runs in the sidecar's blocks of 4096 rows and keeps a running maximum of each block (a
 * stand-in for the top-k's threshold test, which reads the scores from L1).
 *
 *   scan_roof ROWS [DIM=64] [PASSES=10]   ->  one JSON line
 */
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "recsys_scan.h"

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

__attribute__((target("avx2"))) static float read_all(const float *data, size_t count) {
  __m256 a = _mm256_setzero_ps(), b = a, c = a, d = a;
  for (size_t i = 0; i + 32 <= count; i += 32) {
    a = _mm256_add_ps(a, _mm256_load_ps(data + i));
    b = _mm256_add_ps(b, _mm256_load_ps(data + i + 8));
    c = _mm256_add_ps(c, _mm256_load_ps(data + i + 16));
    d = _mm256_add_ps(d, _mm256_load_ps(data + i + 24));
  }
  float lanes[8];
  _mm256_storeu_ps(lanes, _mm256_add_ps(_mm256_add_ps(a, b), _mm256_add_ps(c, d)));
  return lanes[0] + lanes[3] + lanes[7];
}

int main(int argc, char **argv) {
  if (argc < 2) return 2;
  size_t rows = strtoul(argv[1], NULL, 10), dim = argc > 2 ? strtoul(argv[2], NULL, 10) : 64;
  int passes = argc > 3 ? atoi(argv[3]) : 10;
  size_t count = rows * dim, bytes = count * sizeof(float);
  float *table = aligned_alloc(64, (bytes + 63) / 64 * 64), query[1024], block[4096];
  if (!table || dim > 1024) return 1;
  for (size_t i = 0; i < count; ++i) table[i] = (float)((i * 2654435761u) % 1000) * 1e-3f - 0.5f;
  for (size_t j = 0; j < dim; ++j) query[j] = (float)j / dim - 0.5f;
  double best_scan = 1e30, best_read = 1e30, check = 0;
  for (int pass = 0; pass < passes; ++pass) {
    double start = now();
    float best = -1e30f;
    for (size_t first = 0; first < rows; first += 4096) {
      size_t n = rows - first < 4096 ? rows - first : 4096;
      recsys_scan_f32(table + first * dim, n, dim, query, block);
      for (size_t i = 0; i < n; ++i) best = block[i] > best ? block[i] : best;
    }
    double scan = now() - start;
    start = now();
    check += read_all(table, count) + best;
    double read = now() - start;
    if (scan < best_scan) best_scan = scan;
    if (read < best_read) best_read = read;
  }
  printf("{\"rows\": %zu, \"dim\": %zu, \"scan_gbps\": %.3f, \"read_gbps\": %.3f, \"scan_ms\": %.3f, \"check\": %.1f}\n",
         rows, dim, bytes / best_scan / 1e9, bytes / best_read / 1e9, best_scan * 1e3, check);
  free(table);
  return 0;
}
