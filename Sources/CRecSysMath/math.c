// See include/recsys_math.h. The element functions are plain C with selects instead of branches,
// so the loops in VARIANT below vectorise; each variant is the same source under another target.
#include "recsys_math.h"

#include "elements.h"

// One loop per function and target; `restrict`-free in-place loops vectorise as they only read and
// write values[i].
#define VARIANT(suffix, attributes)                                                                   \
  attributes static void exp_##suffix(float *v, size_t n) {                                           \
    for (size_t i = 0; i < n; ++i) v[i] = exp_one(v[i]);                                              \
  }                                                                                                   \
  attributes static void sigmoid_##suffix(float *v, size_t n) {                                       \
    for (size_t i = 0; i < n; ++i) v[i] = sigmoid_one(v[i]);                                          \
  }                                                                                                   \
  attributes static void tanh_##suffix(float *v, size_t n) {                                          \
    for (size_t i = 0; i < n; ++i) v[i] = tanh_one(v[i]);                                             \
  }                                                                                                   \
  attributes static void erf_##suffix(float *v, size_t n) {                                           \
    for (size_t i = 0; i < n; ++i) v[i] = erf_one(v[i]);                                              \
  }                                                                                                   \
  attributes static void gelu_##suffix(float *v, size_t n) {                                          \
    for (size_t i = 0; i < n; ++i) v[i] = gelu_one(v[i]);                                             \
  }

VARIANT(avx512, __attribute__((target("avx512f,avx512dq,avx512vl,avx2,fma"))))
VARIANT(avx2, __attribute__((target("avx2,fma"))))
VARIANT(sse2, )

typedef void (*kernel)(float *, size_t);

struct table {
  kernel exp, sigmoid, tanh, erf, gelu;
  const char *name;
};

enum recsys_cpu_level recsys_math_cpu_level(void) {
  // Racing first calls compute the same answer; an int store is atomic on x86-64.
  static _Atomic int known = -1;
  int level = known;
  if (level < 0) {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
        __builtin_cpu_supports("avx512vl"))
      level = RECSYS_CPU_AVX512;
    else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
      level = RECSYS_CPU_AVX2;
    else
      level = RECSYS_CPU_SSE2;
    known = level;
  }
  return (enum recsys_cpu_level)level;
}

static const struct table *chosen(void) {
  static const struct table avx512 = {exp_avx512, sigmoid_avx512, tanh_avx512, erf_avx512, gelu_avx512, "avx512"};
  static const struct table avx2 = {exp_avx2, sigmoid_avx2, tanh_avx2, erf_avx2, gelu_avx2, "avx2"};
  static const struct table sse2 = {exp_sse2, sigmoid_sse2, tanh_sse2, erf_sse2, gelu_sse2, "sse2"};
  switch (recsys_math_cpu_level()) {
  case RECSYS_CPU_AVX512: return &avx512;
  case RECSYS_CPU_AVX2: return &avx2;
  default: return &sse2;
  }
}

void recsys_exp(float *values, size_t count) { chosen()->exp(values, count); }
void recsys_sigmoid(float *values, size_t count) { chosen()->sigmoid(values, count); }
void recsys_tanh(float *values, size_t count) { chosen()->tanh(values, count); }
void recsys_erf(float *values, size_t count) { chosen()->erf(values, count); }
void recsys_gelu(float *values, size_t count) { chosen()->gelu(values, count); }
const char *recsys_math_variant(void) { return chosen()->name; }
