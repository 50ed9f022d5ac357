// See include/recsys_linear.h.
#include "recsys_linear.h"

#define AVX512 __attribute__((target("avx512f,avx512dq,avx512vl,avx2,fma")))

// One ROWS x COLS output tile accumulated over all of k; the constant bounds let the compiler keep
// `acc` in registers (4 x 64 floats = 16 zmm) and unroll the column loop into vector FMAs.
#define TILE(ROWS, COLS)                                                                            \
  static inline __attribute__((always_inline)) void tile_##ROWS##x##COLS(                           \
      const float *x, size_t xs, size_t k, const float *wt, size_t ws, const float *bias, float *y, \
      size_t ys) {                                                                                  \
    float acc[ROWS][COLS];                                                                          \
    for (int r = 0; r < ROWS; ++r)                                                                  \
      for (int c = 0; c < COLS; ++c) acc[r][c] = bias ? bias[c] : 0.0f;                             \
    for (size_t p = 0; p < k; ++p) {                                                                \
      const float *w = wt + p * ws;                                                                 \
      for (int r = 0; r < ROWS; ++r) {                                                              \
        float a = x[r * xs + p];                                                                    \
        for (int c = 0; c < COLS; ++c) acc[r][c] += a * w[c];                                       \
      }                                                                                             \
    }                                                                                               \
    for (int r = 0; r < ROWS; ++r)                                                                  \
      for (int c = 0; c < COLS; ++c) y[r * ys + c] = acc[r][c];                                     \
  }

TILE(4, 64)
TILE(1, 64)

AVX512 static void linear_avx512(const float *x, size_t rows, size_t k, size_t xs, const float *wt, size_t ws,
                                 const float *bias, float *y, size_t n, size_t ys) {
  size_t j = 0;
  // Column panels outermost: one panel of the weight (k x 64) stays in cache for every row tile.
  for (; j + 64 <= n; j += 64) {
    const float *panelBias = bias ? bias + j : 0;
    size_t r = 0;
    for (; r + 4 <= rows; r += 4) tile_4x64(x + r * xs, xs, k, wt + j, ws, panelBias, y + r * ys + j, ys);
    for (; r < rows; ++r) tile_1x64(x + r * xs, xs, k, wt + j, ws, panelBias, y + r * ys + j, ys);
  }
  // The last n % 64 columns (no SASRec width has any): one dot product each.
  for (size_t r = 0; r < rows && j < n; ++r)
    for (size_t c = j; c < n; ++c) {
      float sum = bias ? bias[c] : 0.0f;
      for (size_t p = 0; p < k; ++p) sum += x[r * xs + p] * wt[p * ws + c];
      y[r * ys + c] = sum;
    }
}

int recsys_linear_transposed_available(void) {
  // Racing first calls compute the same answer; an int store is atomic on x86-64.
  static _Atomic int known = -1;
  int available = known;
  if (available < 0) {
    __builtin_cpu_init();
    available = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
                __builtin_cpu_supports("avx512vl");
    known = available;
  }
  return available;
}

int recsys_linear_transposed(const float *input, size_t rows, size_t in_features, size_t input_stride,
                             const float *weight_t, size_t weight_stride, const float *bias, float *output,
                             size_t out_features, size_t output_stride) {
  if (!recsys_linear_transposed_available()) return 0;
  linear_avx512(input, rows, in_features, input_stride, weight_t, weight_stride, bias, output, out_features,
                output_stride);
  return 1;
}
