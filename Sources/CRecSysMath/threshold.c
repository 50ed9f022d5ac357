// See include/recsys_threshold.h. Generic vector code (`lanes`, elements.h); each variant is the
// same source compiled for another target.
#include "recsys_threshold.h"

#include "elements.h"

typedef int32_t lane_masks __attribute__((vector_size(LANES * sizeof(int32_t))));

// Four vectors (64 scores) per test: a hit is rare, so the loop is one OR of four compares and a
// branch; the scalar loop then finds which of those 64 (or the tail) it was.
#define FIRST_ABOVE_VARIANT(suffix, attributes)                                                        \
  attributes static size_t first_above_##suffix(const float *values, size_t count, float threshold) { \
    size_t i = 0;                                                                                      \
    for (; i + 4 * LANES <= count; i += 4 * LANES) {                                                   \
      lane_masks above = (LOAD(values + i) > threshold) | (LOAD(values + i + LANES) > threshold) |     \
                         (LOAD(values + i + 2 * LANES) > threshold) |                                  \
                         (LOAD(values + i + 3 * LANES) > threshold);                                   \
      if (__builtin_reduce_or(above)) break;                                                           \
    }                                                                                                  \
    for (; i < count; ++i)                                                                             \
      if (values[i] > threshold) return i;                                                             \
    return count;                                                                                      \
  }

FIRST_ABOVE_VARIANT(avx512, __attribute__((target("avx512f,avx512dq,avx512vl,avx2,fma"))))
FIRST_ABOVE_VARIANT(avx2, __attribute__((target("avx2,fma"))))
FIRST_ABOVE_VARIANT(sse2, )

size_t recsys_first_above(const float *values, size_t count, float threshold) {
  switch (recsys_math_cpu_level()) {
  case RECSYS_CPU_AVX512: return first_above_avx512(values, count, threshold);
  case RECSYS_CPU_AVX2: return first_above_avx2(values, count, threshold);
  default: return first_above_sse2(values, count, threshold);
  }
}

size_t recsys_first_above_baseline(const float *values, size_t count, float threshold) {
  return first_above_sse2(values, count, threshold);
}
