// See include/recsys_lstm.h. Generic vector code (`lanes`, elements.h); each variant is the same
// source compiled for another target.
#include "recsys_lstm.h"

#include "elements.h"

enum { BLOCK = LANES, GATES = 4 };

size_t recsys_lstm_packed_count(size_t hidden) {
  size_t blocks = (hidden + BLOCK - 1) / BLOCK;
  return blocks * hidden * GATES * BLOCK;
}

void recsys_lstm_pack(const float *weight_hh, size_t hidden, float *packed) {
  size_t blocks = (hidden + BLOCK - 1) / BLOCK;
  for (size_t b = 0; b < blocks; ++b)
    for (size_t k = 0; k < hidden; ++k)
      for (size_t q = 0; q < GATES; ++q)
        for (size_t l = 0; l < BLOCK; ++l) {
          size_t unit = b * BLOCK + l;
          *packed++ = unit < hidden ? weight_hh[(q * hidden + unit) * hidden + k] : 0.0f;
        }
}

// W_hh · h for one block of 16 units, the four gates in acc[0..3]. Two accumulator sets over even and
// odd k hide the FMA latency (each set is a dependent chain).
#define STEP_VARIANT(suffix, attributes)                                                              \
  attributes static void step_##suffix(const float *packed, size_t hidden, const float *pre,          \
                                       const float *h_prev, float *cell, float *h_out) {               \
    size_t blocks = (hidden + BLOCK - 1) / BLOCK;                                                      \
    for (size_t b = 0; b < blocks; ++b) {                                                              \
      float acc[GATES][BLOCK] __attribute__((aligned(64))) = {{0}};                                   \
      if (h_prev) {                                                                                    \
        lanes even[GATES] = {0}, odd[GATES] = {0};                                                     \
        const float *w = packed + b * hidden * GATES * BLOCK;                                          \
        size_t k = 0;                                                                                  \
        for (; k + 1 < hidden; k += 2, w += 2 * GATES * BLOCK) {                                       \
          float h0 = h_prev[k], h1 = h_prev[k + 1];                                                    \
          for (int q = 0; q < GATES; ++q) {                                                            \
            even[q] += LOAD(w + q * BLOCK) * h0;                                                       \
            odd[q] += LOAD(w + (GATES + q) * BLOCK) * h1;                                              \
          }                                                                                            \
        }                                                                                              \
        if (k < hidden)                                                                                \
          for (int q = 0; q < GATES; ++q) even[q] += LOAD(w + q * BLOCK) * h_prev[k];                  \
        for (int q = 0; q < GATES; ++q) {                                                              \
          lanes sum = even[q] + odd[q];                                                                \
          memcpy(acc[q], &sum, sizeof sum);                                                            \
        }                                                                                              \
      }                                                                                                \
      size_t first = b * BLOCK;                                                                        \
      size_t units = hidden - first < BLOCK ? hidden - first : BLOCK;                                  \
      for (size_t l = 0; l < units; ++l) {                                                             \
        size_t j = first + l;                                                                          \
        float i = sigmoid_one(pre[j] + acc[0][l]);                                                     \
        float f = sigmoid_one(pre[hidden + j] + acc[1][l]);                                            \
        float g = tanh_one(pre[2 * hidden + j] + acc[2][l]);                                           \
        float o = sigmoid_one(pre[3 * hidden + j] + acc[3][l]);                                        \
        float c = f * cell[j] + i * g;                                                                 \
        cell[j] = c;                                                                                   \
        h_out[j] = o * tanh_one(c);                                                                    \
      }                                                                                                \
    }                                                                                                  \
  }

STEP_VARIANT(avx512, __attribute__((target("avx512f,avx512dq,avx512vl,avx2,fma"))))
STEP_VARIANT(avx2, __attribute__((target("avx2,fma"))))
STEP_VARIANT(sse2, )

void recsys_lstm_step(const float *packed, size_t hidden, const float *pre, const float *h_prev, float *cell,
                      float *h_out) {
  switch (recsys_math_cpu_level()) {
  case RECSYS_CPU_AVX512: step_avx512(packed, hidden, pre, h_prev, cell, h_out); break;
  case RECSYS_CPU_AVX2: step_avx2(packed, hidden, pre, h_prev, cell, h_out); break;
  default: step_sse2(packed, hidden, pre, h_prev, cell, h_out); break;
  }
}
