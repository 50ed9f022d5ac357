#include "recsys_scan.h"

#include <immintrin.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* ---- plain loops: any CPU, any dim ---- */

static void scan_f32_plain(const float *rows, size_t count, size_t dim, const float *query, float *out) {
  for (size_t r = 0; r < count; ++r) {
    const float *row = rows + r * dim;
    float sum = 0;
    for (size_t j = 0; j < dim; ++j) sum += row[j] * query[j];
    out[r] = sum;
  }
}

static void scan_int8_plain(const int8_t *rows, const float *scales, size_t count, size_t dim, const int8_t *query,
                            float query_scale, float *out) {
  for (size_t r = 0; r < count; ++r) {
    const int8_t *row = rows + r * dim;
    int32_t sum = 0;
    for (size_t j = 0; j < dim; ++j) sum += (int32_t)row[j] * (int32_t)query[j];
    out[r] = scales[r] * query_scale * (float)sum;
  }
}

/* ---- AVX2 + FMA: eight rows per step ---- */

/* Bytes ahead of the current eight rows that a step asks the cache for (one step of a d = 64
 * table). The hardware prefetcher alone left the fp32 scan at about 2/3 of the plain read
 * bandwidth; 8 KiB ahead reached about 3/4, 2 KiB ahead 93-100 % (1M and 5M rows, d = 64;
 * 1, 3, 4, 16 and 32 KiB and the T1/NTA hints were all slower). */
#define RECSYS_SCAN_PREFETCH_BYTES 2048
/* The int8 scan's distance (its steps read a quarter of the bytes; not re-measured with 2 KiB). */
#define RECSYS_SCAN_INT8_PREFETCH_BYTES 8192

__attribute__((target("avx2,fma"))) static inline void prefetch_ahead(const void *group, size_t group_bytes,
                                                                      const void *end, size_t distance) {
  const char *ahead = (const char *)group + distance;
  if (ahead + group_bytes > (const char *)end) return;
  for (size_t line = 0; line < group_bytes; line += 64) _mm_prefetch(ahead + line, _MM_HINT_T0);
}

/* The eight lanes-sums of a[0..7], as one vector [sum(a0), ..., sum(a7)]. */
__attribute__((target("avx2,fma"))) static inline __m256 sum8_ps(const __m256 *a) {
  __m256 t0 = _mm256_hadd_ps(a[0], a[1]), t1 = _mm256_hadd_ps(a[2], a[3]);
  __m256 t2 = _mm256_hadd_ps(a[4], a[5]), t3 = _mm256_hadd_ps(a[6], a[7]);
  __m256 u0 = _mm256_hadd_ps(t0, t1), u1 = _mm256_hadd_ps(t2, t3);
  return _mm256_add_ps(_mm256_permute2f128_ps(u0, u1, 0x20), _mm256_permute2f128_ps(u0, u1, 0x31));
}

__attribute__((target("avx2,fma"))) static inline __m256i sum8_epi32(const __m256i *a) {
  __m256i t0 = _mm256_hadd_epi32(a[0], a[1]), t1 = _mm256_hadd_epi32(a[2], a[3]);
  __m256i t2 = _mm256_hadd_epi32(a[4], a[5]), t3 = _mm256_hadd_epi32(a[6], a[7]);
  __m256i u0 = _mm256_hadd_epi32(t0, t1), u1 = _mm256_hadd_epi32(t2, t3);
  return _mm256_add_epi32(_mm256_permute2x128_si256(u0, u1, 0x20), _mm256_permute2x128_si256(u0, u1, 0x31));
}

/* dim % 8 == 0; `prefetch` 0 for a table that stays in the cache (the prefetches there only cost
 * issue slots: 50k rows of d = 64 scanned at 53 GB/s without, 41-48 with). */
__attribute__((target("avx2,fma"))) static void scan_f32_avx2(const float *rows, size_t count, size_t dim,
                                                              const float *query, float *out, int prefetch) {
  size_t r = 0;
  for (; r + 8 <= count; r += 8) {
    const float *base = rows + r * dim;
    if (prefetch) prefetch_ahead(base, 8 * dim * sizeof(float), rows + count * dim, RECSYS_SCAN_PREFETCH_BYTES);
    __m256 acc[8];
    for (int i = 0; i < 8; ++i) acc[i] = _mm256_setzero_ps();
    for (size_t j = 0; j < dim; j += 8) {
      __m256 q = _mm256_loadu_ps(query + j);
      for (int i = 0; i < 8; ++i) acc[i] = _mm256_fmadd_ps(_mm256_loadu_ps(base + i * dim + j), q, acc[i]);
    }
    _mm256_storeu_ps(out + r, sum8_ps(acc));
  }
  scan_f32_plain(rows + r * dim, count - r, dim, query, out + r);
}

/* ---- AVX-512: sixteen rows per step ---- */

/* The sixteen lane-sums of a[0..15], as one vector [sum(a0), ..., sum(a15)]: each step adds
 * pairs of vectors after interleaving them, so every add does useful work for two rows (15
 * adds and 30 shuffles for 16 rows instead of a reduction per row). */
__attribute__((target("avx512f"))) static inline __m512 sum16_ps(const __m512 *a) {
  __m512 b[8], c[4], d[2];
  /* b[i]: 8-lane partial sums of rows 2i, 2i+1, interleaved per 128-bit lane pair. */
  for (int i = 0; i < 8; ++i)
    b[i] = _mm512_add_ps(_mm512_unpacklo_ps(a[2 * i], a[2 * i + 1]), _mm512_unpackhi_ps(a[2 * i], a[2 * i + 1]));
  /* c[i]: rows 4i..4i+3, 4 lanes each (one per 128-bit lane). */
  for (int i = 0; i < 4; ++i) {
    __m512d lo = _mm512_unpacklo_pd(_mm512_castps_pd(b[2 * i]), _mm512_castps_pd(b[2 * i + 1]));
    __m512d hi = _mm512_unpackhi_pd(_mm512_castps_pd(b[2 * i]), _mm512_castps_pd(b[2 * i + 1]));
    c[i] = _mm512_add_ps(_mm512_castpd_ps(lo), _mm512_castpd_ps(hi));
  }
  /* Each c[i] holds, in each 128-bit lane L, the lane-L sums of rows 4i..4i+3; add the lanes. */
  for (int i = 0; i < 2; ++i) {
    __m512 x = _mm512_shuffle_f32x4(c[2 * i], c[2 * i + 1], 0x88); /* lanes 0,2 of each */
    __m512 y = _mm512_shuffle_f32x4(c[2 * i], c[2 * i + 1], 0xdd); /* lanes 1,3 of each */
    d[i] = _mm512_add_ps(x, y); /* rows 8i..8i+7: lane 0 = rows 0-3 (lanes 0+1), lane 1 = rows 0-3 (2+3), ... */
  }
  __m512 x = _mm512_shuffle_f32x4(d[0], d[1], 0x88);
  __m512 y = _mm512_shuffle_f32x4(d[0], d[1], 0xdd);
  return _mm512_add_ps(x, y);
}

/* Rows read in memory order, each row's products in one register against the query held in
 * registers (DIM / 16 of them), sixteen rows reduced together; no software prefetch. Measured
 * in-process against a plain read of the same table (bench/retrieval/scan_roof.c, the table on
 * huge pages as the sidecar's weights are): 50k rows of d = 64 (in L3) 72-73 GB/s against 35-47
 * for the AVX2 kernel, read 93; 1M and 5M rows (DRAM) 29-31 GB/s against 23-29 for the AVX2 kernel
 * with its prefetches, read 30-32. (On 4 KiB pages the AVX2 kernel's prefetches still won at 1M,
 * 23-25 against 18-23: the weights are advised onto huge pages, PrivateBytes.swift.) DIM is a
 * compile-time constant so the row loop unrolls fully. */
#define SCAN_F32_AVX512(DIM)                                                                              \
  __attribute__((target("avx512f"))) static void scan_f32_avx512_##DIM(                                     \
      const float *rows, size_t count, const float *query, float *out) {                                    \
    __m512 q[DIM / 16];                                                                                   \
    for (int j = 0; j < DIM / 16; ++j) q[j] = _mm512_loadu_ps(query + 16 * j);                              \
    size_t r = 0;                                                                                         \
    for (; r + 16 <= count; r += 16) {                                                                    \
      const float *base = rows + r * DIM;                                                                 \
      __m512 acc[16];                                                                                     \
      for (int i = 0; i < 16; ++i) {                                                                      \
        __m512 sum = _mm512_mul_ps(_mm512_loadu_ps(base + i * DIM), q[0]);                                \
        for (int j = 1; j < DIM / 16; ++j) sum = _mm512_fmadd_ps(_mm512_loadu_ps(base + i * DIM + 16 * j), q[j], sum); \
        acc[i] = sum;                                                                                     \
      }                                                                                                   \
      _mm512_storeu_ps(out + r, sum16_ps(acc));                                                           \
    }                                                                                                     \
    scan_f32_plain(rows + r * DIM, count - r, DIM, query, out + r);                                       \
  }
SCAN_F32_AVX512(32)
SCAN_F32_AVX512(64)
SCAN_F32_AVX512(128)

/* The AVX-512 kernel for the table's width, or NULL (then AVX2 or plain). */
typedef void (*scan_f32_kernel)(const float *, size_t, const float *, float *);
static scan_f32_kernel avx512_kernel_for(size_t dim) {
  switch (dim) {
    case 32: return scan_f32_avx512_32;
    case 64: return scan_f32_avx512_64;
    case 128: return scan_f32_avx512_128;
    default: return NULL;
  }
}

/* ---- one row as a block scan scores it ---- */

/* Every add of sum16_ps / sum8_ps combines lanes of one row, so a row's result depends only on
 * its own accumulator and its place in the step: the row alone in that place, zeros in the
 * others, gives the same bits as the block scan, from one row's bytes instead of sixteen. */
#define SCAN_F32_AVX512_ROW(DIM)                                                                          \
  __attribute__((target("avx512f"))) static float scan_f32_avx512_row_##DIM(const float *row, size_t place, \
                                                                          const float *query) {           \
    __m512 sum = _mm512_mul_ps(_mm512_loadu_ps(row), _mm512_loadu_ps(query));                             \
    for (int j = 1; j < DIM / 16; ++j)                                                                    \
      sum = _mm512_fmadd_ps(_mm512_loadu_ps(row + 16 * j), _mm512_loadu_ps(query + 16 * j), sum);         \
    __m512 acc[16];                                                                                       \
    for (int i = 0; i < 16; ++i) acc[i] = _mm512_setzero_ps();                                            \
    acc[place] = sum;                                                                                     \
    float sums[16];                                                                                       \
    _mm512_storeu_ps(sums, sum16_ps(acc));                                                                \
    return sums[place];                                                                                   \
  }
SCAN_F32_AVX512_ROW(32)
SCAN_F32_AVX512_ROW(64)
SCAN_F32_AVX512_ROW(128)

typedef float (*scan_f32_row_kernel)(const float *, size_t, const float *);
static scan_f32_row_kernel avx512_row_kernel_for(size_t dim) {
  switch (dim) {
    case 32: return scan_f32_avx512_row_32;
    case 64: return scan_f32_avx512_row_64;
    case 128: return scan_f32_avx512_row_128;
    default: return NULL;
  }
}

/* scan_f32_avx2's step for one row in place `place` of its eight (dim % 8 == 0). */
__attribute__((target("avx2,fma"))) static float scan_f32_avx2_row(const float *row, size_t dim, size_t place,
                                                                   const float *query) {
  __m256 acc[8];
  for (int i = 0; i < 8; ++i) acc[i] = _mm256_setzero_ps();
  __m256 sum = _mm256_setzero_ps();
  for (size_t j = 0; j < dim; j += 8) sum = _mm256_fmadd_ps(_mm256_loadu_ps(row + j), _mm256_loadu_ps(query + j), sum);
  acc[place] = sum;
  float sums[8];
  _mm256_storeu_ps(sums, sum8_ps(acc));
  return sums[place];
}

/* dim % 16 == 0 */
__attribute__((target("avx2,fma"))) static void scan_int8_avx2(const int8_t *rows, const float *scales, size_t count,
                                                               size_t dim, const int8_t *query, float query_scale,
                                                               float *out) {
  size_t r = 0;
  const __m256 qs = _mm256_set1_ps(query_scale);
  for (; r + 8 <= count; r += 8) {
    const int8_t *base = rows + r * dim;
    prefetch_ahead(base, 8 * dim, rows + count * dim, RECSYS_SCAN_INT8_PREFETCH_BYTES);
    __m256i acc[8];
    for (int i = 0; i < 8; ++i) acc[i] = _mm256_setzero_si256();
    for (size_t j = 0; j < dim; j += 16) {
      __m256i q = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(query + j)));
      for (int i = 0; i < 8; ++i) {
        __m256i row = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(base + i * dim + j)));
        acc[i] = _mm256_add_epi32(acc[i], _mm256_madd_epi16(row, q));
      }
    }
    __m256 sums = _mm256_cvtepi32_ps(sum8_epi32(acc));
    _mm256_storeu_ps(out + r, _mm256_mul_ps(_mm256_mul_ps(_mm256_loadu_ps(scales + r), qs), sums));
  }
  scan_int8_plain(rows + r * dim, scales + r, count - r, dim, query, query_scale, out + r);
}

/* ---- AVX-512 VNNI: int8 dot products with vpdpbusd ---- */

/* dim % 32 == 0. vpdpbusd multiplies unsigned bytes by signed ones, four products into each int32
 * lane: the row's codes q are made unsigned by flipping the sign bit (q ^ 0x80 = q + 128, one xor
 * per 32 bytes) and the query p stays signed, so each sum is q.p + 128 * sum(p), the second term
 * one constant per call. A lane adds at most dim / 8 products of 255 * 127: no overflow for
 * dim <= 65536. Eight rows a step in 256-bit registers (Zen 4 runs 512-bit ones as two halves
 * anyway) reduced together as in the AVX2 kernel; same float expression for the scale, so the
 * result is the AVX2 kernel's bit for bit. */
__attribute__((target("avx2,fma,avx512f,avx512vl,avx512vnni"))) static void scan_int8_vnni(
    const int8_t *rows, const float *scales, size_t count, size_t dim, const int8_t *query, float query_scale,
    float *out, int prefetch) {
  int32_t query_sum = 0;
  for (size_t j = 0; j < dim; ++j) query_sum += query[j];
  const __m256i offset = _mm256_set1_epi32(128 * query_sum);
  const __m256i flip = _mm256_set1_epi8((char)0x80);
  const __m256 qs = _mm256_set1_ps(query_scale);
  size_t r = 0;
  for (; r + 8 <= count; r += 8) {
    const int8_t *base = rows + r * dim;
    if (prefetch) prefetch_ahead(base, 8 * dim, rows + count * dim, RECSYS_SCAN_INT8_PREFETCH_BYTES);
    __m256i acc[8];
    for (int i = 0; i < 8; ++i) acc[i] = _mm256_setzero_si256();
    for (size_t j = 0; j < dim; j += 32) {
      __m256i q = _mm256_loadu_si256((const __m256i *)(query + j));
      for (int i = 0; i < 8; ++i) {
        __m256i row = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(base + i * dim + j)), flip);
        acc[i] = _mm256_dpbusd_epi32(acc[i], row, q);
      }
    }
    __m256 sums = _mm256_cvtepi32_ps(_mm256_sub_epi32(sum8_epi32(acc), offset));
    _mm256_storeu_ps(out + r, _mm256_mul_ps(_mm256_mul_ps(_mm256_loadu_ps(scales + r), qs), sums));
  }
  scan_int8_plain(rows + r * dim, scales + r, count - r, dim, query, query_scale, out + r);
}

/* ---- dispatch ---- */

static int has_avx2_fma(void) {
  static int known = -1; /* a benign race: every thread computes the same answer */
  if (known < 0) {
    __builtin_cpu_init();
    known = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  }
  return known;
}

static int has_avx512f(void) {
  static int known = -1; /* a benign race, as above */
  if (known < 0) {
    __builtin_cpu_init();
    known = __builtin_cpu_supports("avx512f");
  }
  return known;
}

static int has_avx512_vnni(void) {
  static int known = -1; /* a benign race, as above */
  if (known < 0) {
    __builtin_cpu_init();
    known = __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512vl") &&
            __builtin_cpu_supports("avx512f") && has_avx2_fma();
  }
  return known;
}

static void scan_f32(const float *rows, size_t count, size_t dim, const float *query, float *out, int prefetch) {
  scan_f32_kernel wide = has_avx512f() ? avx512_kernel_for(dim) : NULL;
  if (wide != NULL) {
    wide(rows, count, query, out);
  } else if (dim % 8 == 0 && has_avx2_fma()) {
    scan_f32_avx2(rows, count, dim, query, out, prefetch);
  } else {
    scan_f32_plain(rows, count, dim, query, out);
  }
}

void recsys_scan_f32_rows_of_block(const float *block, size_t count, size_t dim, const float *query,
                                   const int32_t *positions, size_t n, float *out) {
  scan_f32_kernel wide = has_avx512f() ? avx512_kernel_for(dim) : NULL;
  const int narrow = wide == NULL && dim % 8 == 0 && has_avx2_fma();
  for (size_t i = 0; i < n; ++i) {
    const size_t p = (size_t)positions[i];
    const float *row = block + p * dim;
    if (wide != NULL && p < count / 16 * 16) {
      out[i] = avx512_row_kernel_for(dim)(row, p % 16, query);
    } else if (wide != NULL) {
      wide(row, 1, query, out + i); /* the kernel's own tail loop, as in the block scan */
    } else if (narrow && p < count / 8 * 8) {
      out[i] = scan_f32_avx2_row(row, dim, p % 8, query);
    } else if (narrow) {
      scan_f32_avx2(row, 1, dim, query, out + i, 0);
    } else {
      scan_f32_plain(row, 1, dim, query, out + i);
    }
  }
}

void recsys_scan_f32(const float *rows, size_t count, size_t dim, const float *query, float *out) {
  scan_f32(rows, count, dim, query, out, 1);
}

void recsys_scan_f32_cached(const float *rows, size_t count, size_t dim, const float *query, float *out) {
  scan_f32(rows, count, dim, query, out, 0);
}

/* Linux's sysfs, not sysconf: glibc's _SC_LEVEL3_CACHE_SIZE said 320 MiB in a VM whose L3 is
 * 32 MiB, which would have taken a 256 MB table for a cached one. Unknown: 0 (always prefetch). */
size_t recsys_scan_cache_bytes(void) {
  static long known = -1; /* a benign race: every thread reads the same file */
  if (known < 0) {
    long bytes = 0;
    FILE *file = fopen("/sys/devices/system/cpu/cpu0/cache/index3/size", "r");
    if (file != NULL) {
      char unit = 0;
      if (fscanf(file, "%ld%c", &bytes, &unit) >= 1) {
        if (unit == 'K') bytes <<= 10;
        if (unit == 'M') bytes <<= 20;
      }
      fclose(file);
    }
    known = bytes > 0 ? bytes : 0;
  }
  return (size_t)known;
}

static void scan_int8(const int8_t *rows, const float *scales, size_t count, size_t dim, const int8_t *query,
                      float query_scale, float *out, int prefetch) {
  if (dim % 32 == 0 && has_avx512_vnni()) {
    scan_int8_vnni(rows, scales, count, dim, query, query_scale, out, prefetch);
  } else if (dim % 16 == 0 && has_avx2_fma()) {
    scan_int8_avx2(rows, scales, count, dim, query, query_scale, out);
  } else {
    scan_int8_plain(rows, scales, count, dim, query, query_scale, out);
  }
}

void recsys_scan_int8(const int8_t *rows, const float *scales, size_t count, size_t dim, const int8_t *query,
                      float query_scale, float *out) {
  scan_int8(rows, scales, count, dim, query, query_scale, out, 1);
}

/* The bounds from a[r] (in `lower`), one loop the compiler vectorizes (for AVX2 in its twin). */
#define INT8_BOUNDS_LOOP                                                                                    \
  for (size_t r = 0; r < count; ++r) {                                                                      \
    const float a = lower[r];                                                                               \
    const float e = residual_norms[r] * query_norm + code_norms[r] * query_residual_norm + fabsf(a) * 0x1p-16f + \
                    absolute_slack;                                                                         \
    upper[r] = a + e;                                                                                       \
    lower[r] = a - e;                                                                                       \
  }
static void int8_bounds_plain(const float *residual_norms, const float *code_norms, size_t count, float query_norm,
                              float query_residual_norm, float absolute_slack, float *upper, float *lower) {
  INT8_BOUNDS_LOOP
}
__attribute__((target("avx2,fma"))) static void int8_bounds_avx2(const float *residual_norms, const float *code_norms,
                                                                 size_t count, float query_norm,
                                                                 float query_residual_norm, float absolute_slack,
                                                                 float *upper, float *lower) {
  INT8_BOUNDS_LOOP
}

void recsys_scan_int8_bounds(const int8_t *rows, const float *scales, const float *residual_norms,
                             const float *code_norms, size_t count, size_t dim, const int8_t *query, float query_scale,
                             float query_norm, float query_residual_norm, float absolute_slack, int cached,
                             float *upper, float *lower) {
  scan_int8(rows, scales, count, dim, query, query_scale, lower, !cached);
  /* Every term of e is >= 0, or NaN / inf for a row with non-finite values: a NaN bound is never
   * below a threshold, so such a row is always re-scored. */
  if (has_avx2_fma()) {
    int8_bounds_avx2(residual_norms, code_norms, count, query_norm, query_residual_norm, absolute_slack, upper, lower);
  } else {
    int8_bounds_plain(residual_norms, code_norms, count, query_norm, query_residual_norm, absolute_slack, upper, lower);
  }
}

static size_t select_not_below_plain(const float *values, size_t count, float threshold, int32_t *indices) {
  size_t found = 0;
  for (size_t i = 0; i < count; ++i)
    if (!(values[i] < threshold)) indices[found++] = (int32_t)i;
  return found;
}

/* Eight values per compare; most steps select nothing and cost one compare and one branch. */
__attribute__((target("avx2,fma"))) static size_t select_not_below_avx2(const float *values, size_t count,
                                                                        float threshold, int32_t *indices) {
  const __m256 t = _mm256_set1_ps(threshold);
  size_t found = 0, i = 0;
  for (; i + 8 <= count; i += 8) {
    unsigned mask = (unsigned)_mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(values + i), t, _CMP_NLT_UQ));
    while (mask != 0) {
      indices[found++] = (int32_t)(i + (size_t)__builtin_ctz(mask));
      mask &= mask - 1;
    }
  }
  for (; i < count; ++i)
    if (!(values[i] < threshold)) indices[found++] = (int32_t)i;
  return found;
}

size_t recsys_scan_select_not_below(const float *values, size_t count, float threshold, int32_t *indices) {
  return has_avx2_fma() ? select_not_below_avx2(values, count, threshold, indices)
                        : select_not_below_plain(values, count, threshold, indices);
}

/* Rows re-scored by the exact mode's int8 pre-pass (all threads, since the process started). */
static _Atomic size_t prefilter_rows_rescored;
static _Atomic size_t prefilter_calls;

void recsys_scan_prefilter_count(size_t calls, size_t rows_rescored) {
  static int report = -1; /* a benign race: every thread reads the same variable */
  if (report < 0) {
    const char *value = getenv("RECSYS_PREFILTER_STATS");
    report = value != NULL && strcmp(value, "1") == 0;
  }
  size_t rows = atomic_fetch_add(&prefilter_rows_rescored, rows_rescored) + rows_rescored;
  size_t total = atomic_fetch_add(&prefilter_calls, calls) + calls;
  if (report && calls > 0 && total % 1000 == 0)
    fprintf(stderr, "recsys prefilter: %zu calls, %.1f rows re-scored per call\n", total, (double)rows / (double)total);
}

size_t recsys_scan_prefilter_rows_rescored(void) { return atomic_load(&prefilter_rows_rescored); }

void *recsys_scan_table_alloc(size_t bytes) {
  if (bytes == 0) return NULL;
  void *table = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (table == MAP_FAILED) return NULL;
  if (bytes >= ((size_t)2 << 20)) madvise(table, bytes, MADV_HUGEPAGE); /* best effort */
  return table;
}

void recsys_scan_table_free(void *table, size_t bytes) {
  if (table != NULL && bytes > 0) munmap(table, bytes);
}
