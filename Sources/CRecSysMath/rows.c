// See include/recsys_rows.h.
#include "recsys_rows.h"

#include "elements.h"

// How many rows ahead to prefetch: enough to cover a DRAM miss with the work on the rows between
// (tens of ns per row at d 64); measured on lstm_B / sasrec_B: 16 over 8 took 2-3 % off the
// 2000-candidate points (issue 19), 4 rows per iteration with independent chains gained nothing.
enum { PREFETCH_AHEAD = 16, CACHE_LINE_FLOATS = 16 };

INLINE void prefetch_row(const float *matrix, size_t dim, const int32_t *indices, size_t i, size_t count) {
  if (i >= count) return;
  const float *row = matrix + (size_t)indices[i] * dim;
  for (size_t j = 0; j < dim; j += CACHE_LINE_FLOATS) __builtin_prefetch(row + j, 0, 3);
}

void recsys_gather_rows(const float *matrix, size_t dim, const int32_t *indices, size_t count, float *output) {
  for (size_t i = 0; i < PREFETCH_AHEAD && i < count; ++i) prefetch_row(matrix, dim, indices, i, count);
  for (size_t i = 0; i < count; ++i) {
    prefetch_row(matrix, dim, indices, i + PREFETCH_AHEAD, count);
    memcpy(output + i * dim, matrix + (size_t)indices[i] * dim, dim * sizeof(float));
  }
}

// The 16 lanes' sum as a tree (8 + 8, 4 + 4, 2 + 2, 1 + 1): four dependent adds instead of sixteen.
// A macro so that it compiles under each variant's target.
typedef float lanes8 __attribute__((vector_size(8 * sizeof(float))));
typedef float lanes4 __attribute__((vector_size(4 * sizeof(float))));
#define SUM_LANES(v, out)                                                                             \
  do {                                                                                                \
    lanes8 s8 = __builtin_shufflevector(v, v, 0, 1, 2, 3, 4, 5, 6, 7) +                               \
                __builtin_shufflevector(v, v, 8, 9, 10, 11, 12, 13, 14, 15);                          \
    lanes4 s4 = __builtin_shufflevector(s8, s8, 0, 1, 2, 3) + __builtin_shufflevector(s8, s8, 4, 5, 6, 7); \
    out = (s4[0] + s4[2]) + (s4[1] + s4[3]);                                                          \
  } while (0)

#define DOT_VARIANT(suffix, attributes)                                                               \
  attributes static void dot_rows_##suffix(const float *matrix, size_t dim, const int32_t *indices,   \
                                           size_t count, const float *vector, float *output) {        \
    for (size_t i = 0; i < PREFETCH_AHEAD && i < count; ++i) prefetch_row(matrix, dim, indices, i, count); \
    for (size_t i = 0; i < count; ++i) {                                                               \
      prefetch_row(matrix, dim, indices, i + PREFETCH_AHEAD, count);                                   \
      const float *row = matrix + (size_t)indices[i] * dim;                                            \
      lanes acc = {0};                                                                                 \
      size_t j = 0;                                                                                    \
      for (; j + LANES <= dim; j += LANES) acc += LOAD(row + j) * LOAD(vector + j);                    \
      float sum;                                                                                       \
      SUM_LANES(acc, sum);                                                                             \
      for (; j < dim; ++j) sum += row[j] * vector[j];                                                  \
      output[i] = sum;                                                                                 \
    }                                                                                                  \
  }

DOT_VARIANT(avx512, __attribute__((target("avx512f,avx512dq,avx512vl,avx2,fma"))))
DOT_VARIANT(avx2, __attribute__((target("avx2,fma"))))
DOT_VARIANT(sse2, )

// Lanes of 16 floats, then the tail one float at a time; the sum order (row + shared, then the
// features in order) is the same in every variant.
typedef int32_t mask_lanes __attribute__((vector_size(LANES * sizeof(int32_t))));
#define GATHER_ADD_VARIANT(suffix, attributes)                                                          \
  attributes static void gather_rows_add_##suffix(                                                     \
      const float *matrix, size_t dim, const int32_t *indices, size_t count, const float *shared,      \
      const float *features, const int32_t *feature_rows, size_t feature_dim, const float *weights,    \
      int relu, float *output) {                                                                       \
    for (size_t i = 0; i < PREFETCH_AHEAD && i < count; ++i) prefetch_row(matrix, dim, indices, i, count); \
    const lanes zero = {0};                                                                            \
    for (size_t i = 0; i < count; ++i) {                                                               \
      prefetch_row(matrix, dim, indices, i + PREFETCH_AHEAD, count);                                   \
      const float *row = matrix + (size_t)indices[i] * dim;                                            \
      const float *feature = feature_dim ? features + (size_t)feature_rows[i] * feature_dim : NULL;    \
      float *out = output + i * dim;                                                                   \
      size_t j = 0;                                                                                    \
      for (; j + LANES <= dim; j += LANES) {                                                           \
        lanes value = LOAD(row + j) + LOAD(shared + j);                                                \
        for (size_t f = 0; f < feature_dim; ++f) value += feature[f] * LOAD(weights + f * dim + j);    \
        if (relu) value = (lanes)((mask_lanes)value & ~(mask_lanes)(value < zero)); /* NaN stays NaN */ \
        memcpy(out + j, &value, sizeof value);                                                         \
      }                                                                                                \
      for (; j < dim; ++j) {                                                                           \
        float value = row[j] + shared[j];                                                              \
        for (size_t f = 0; f < feature_dim; ++f) value += feature[f] * weights[f * dim + j];           \
        out[j] = relu && value < 0 ? 0 : value;                                                        \
      }                                                                                                \
    }                                                                                                  \
  }

GATHER_ADD_VARIANT(avx512, __attribute__((target("avx512f,avx512dq,avx512vl,avx2,fma"))))
GATHER_ADD_VARIANT(avx2, __attribute__((target("avx2,fma"))))
GATHER_ADD_VARIANT(sse2, )

void recsys_gather_rows_add(const float *matrix, size_t dim, const int32_t *indices, size_t count, const float *shared,
                            const float *features, const int32_t *feature_rows, size_t feature_dim,
                            const float *feature_weights, int relu, float *output) {
  switch (recsys_math_cpu_level()) {
  case RECSYS_CPU_AVX512:
    gather_rows_add_avx512(matrix, dim, indices, count, shared, features, feature_rows, feature_dim, feature_weights,
                           relu, output);
    break;
  case RECSYS_CPU_AVX2:
    gather_rows_add_avx2(matrix, dim, indices, count, shared, features, feature_rows, feature_dim, feature_weights,
                         relu, output);
    break;
  default:
    gather_rows_add_sse2(matrix, dim, indices, count, shared, features, feature_rows, feature_dim, feature_weights,
                         relu, output);
    break;
  }
}

void recsys_gather_rows_add_baseline(const float *matrix, size_t dim, const int32_t *indices, size_t count,
                                     const float *shared, const float *features, const int32_t *feature_rows,
                                     size_t feature_dim, const float *feature_weights, int relu, float *output) {
  gather_rows_add_sse2(matrix, dim, indices, count, shared, features, feature_rows, feature_dim, feature_weights,
                       relu, output);
}

void recsys_dot_rows(const float *matrix, size_t dim, const int32_t *indices, size_t count, const float *vector,
                     float *output) {
  switch (recsys_math_cpu_level()) {
  case RECSYS_CPU_AVX512: dot_rows_avx512(matrix, dim, indices, count, vector, output); break;
  case RECSYS_CPU_AVX2: dot_rows_avx2(matrix, dim, indices, count, vector, output); break;
  default: dot_rows_sse2(matrix, dim, indices, count, vector, output); break;
  }
}
