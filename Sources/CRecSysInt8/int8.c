#include "recsys_int8.h"

/* One row's integer dot product; the compiler vectorises it for the target it is built for. */
#define RECSYS_INT8_DOT_BODY                                      \
  for (size_t r = 0; r < count; ++r) {                            \
    const int8_t *row = rows + r * dim;                           \
    int32_t sum = 0;                                              \
    for (size_t j = 0; j < dim; ++j) sum += (int32_t)row[j] * (int32_t)query[j]; \
    out[r] = scales[r] * query_scale * (float)sum;                \
  }

__attribute__((target("avx2"))) static void scores_avx2(const int8_t *rows, const float *scales, size_t count,
                                                         size_t dim, const int8_t *query, float query_scale,
                                                         float *out) {
  RECSYS_INT8_DOT_BODY
}

static void scores_plain(const int8_t *rows, const float *scales, size_t count, size_t dim, const int8_t *query,
                         float query_scale, float *out) {
  RECSYS_INT8_DOT_BODY
}

void recsys_int8_scores(const int8_t *rows, const float *scales, size_t count, size_t dim, const int8_t *query,
                        float query_scale, float *out) {
  static int has_avx2 = -1; /* a benign race: every thread computes the same answer */
  if (has_avx2 < 0) {
    __builtin_cpu_init();
    has_avx2 = __builtin_cpu_supports("avx2") ? 1 : 0;
  }
  if (has_avx2) {
    scores_avx2(rows, scales, count, dim, query, query_scale, out);
  } else {
    scores_plain(rows, scales, count, dim, query, query_scale, out);
  }
}
