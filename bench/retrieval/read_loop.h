/* The plain read the benchmarks measure everything against: the sum of a float buffer with wide
 * loads into four independent accumulators, so the loads, not the adds, set the pace. One header
 * for read_bandwidth.c, scan_roof.c and bench/kernels.cc, so "the read bandwidth" means the same
 * loop everywhere: AVX2 (what the retrieval scan kernel uses), and an AVX-512 twin that
 * bench/kernels.cc takes where the CPU has it (make bench's roofline: cache-sized buffers read
 * faster with 64-byte loads), and the allocation of the buffers they read. Header-only (C and C++):
 * each tool is one compiler call.
 */
#ifndef RECSYS_BENCH_READ_LOOP_H
#define RECSYS_BENCH_READ_LOOP_H

#include <immintrin.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/mman.h>

/* A buffer on the pages the sidecar's weights get (Sources/SafeTensors/PrivateBytes.swift asks for
 * transparent huge pages): 2 MiB aligned, advised MADV_HUGEPAGE. Measuring the roof on 4 KiB pages
 * would put it below what the sidecar's own scans can read (22-27 against 28.7 GB/s at 1M rows).
 * free() releases it. */
static inline void *recsys_bench_alloc_table(size_t bytes) {
  const size_t huge = (size_t)2 << 20;
  size_t rounded = (bytes + huge - 1) / huge * huge;
  void *memory = aligned_alloc(huge, rounded > 0 ? rounded : huge);
  if (memory != NULL) madvise(memory, rounded, MADV_HUGEPAGE);
  return memory;
}

__attribute__((target("avx2"))) static inline float recsys_read_sum(const float *data, size_t count) {
  __m256 a = _mm256_setzero_ps(), b = a, c = a, d = a;
  size_t i = 0;
  for (; i + 32 <= count; i += 32) {
    a = _mm256_add_ps(a, _mm256_loadu_ps(data + i));
    b = _mm256_add_ps(b, _mm256_loadu_ps(data + i + 8));
    c = _mm256_add_ps(c, _mm256_loadu_ps(data + i + 16));
    d = _mm256_add_ps(d, _mm256_loadu_ps(data + i + 24));
  }
  float lanes[8];
  _mm256_storeu_ps(lanes, _mm256_add_ps(_mm256_add_ps(a, b), _mm256_add_ps(c, d)));
  float total = 0;
  for (int lane = 0; lane < 8; ++lane) total += lanes[lane];
  for (; i < count; ++i) total += data[i];
  return total;
}

__attribute__((target("avx512f"))) static inline float recsys_read_sum_avx512(const float *data, size_t count) {
  __m512 a = _mm512_setzero_ps(), b = a, c = a, d = a;
  size_t i = 0;
  for (; i + 64 <= count; i += 64) {
    a = _mm512_add_ps(a, _mm512_loadu_ps(data + i));
    b = _mm512_add_ps(b, _mm512_loadu_ps(data + i + 16));
    c = _mm512_add_ps(c, _mm512_loadu_ps(data + i + 32));
    d = _mm512_add_ps(d, _mm512_loadu_ps(data + i + 48));
  }
  float lanes[16];
  _mm512_storeu_ps(lanes, _mm512_add_ps(_mm512_add_ps(a, b), _mm512_add_ps(c, d)));
  float total = 0;
  for (int lane = 0; lane < 16; ++lane) total += lanes[lane];
  for (; i < count; ++i) total += data[i];
  return total;
}

#endif /* RECSYS_BENCH_READ_LOOP_H */
