// See include/recsys_linear.h.
#include "recsys_linear.h"

#include <immintrin.h>

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
TILE(4, 32)
TILE(1, 32)
TILE(4, 16)
TILE(1, 16)

// The last n % 16 columns of ROWS rows with masked loads and stores (nothing read past column n).
#define MASKED_TILE(ROWS)                                                                           \
  AVX512 static inline __attribute__((always_inline)) void tile_##ROWS##x_masked(                  \
      const float *x, size_t xs, size_t k, const float *wt, size_t ws, const float *bias, float *y, \
      size_t ys, __mmask16 m) {                                                                     \
    __m512 b = bias ? _mm512_maskz_loadu_ps(m, bias) : _mm512_setzero_ps();                         \
    __m512 acc[ROWS];                                                                               \
    for (int r = 0; r < ROWS; ++r) acc[r] = b;                                                      \
    for (size_t p = 0; p < k; ++p) {                                                                \
      __m512 w = _mm512_maskz_loadu_ps(m, wt + p * ws);                                             \
      for (int r = 0; r < ROWS; ++r) acc[r] = _mm512_fmadd_ps(_mm512_set1_ps(x[r * xs + p]), w, acc[r]); \
    }                                                                                               \
    for (int r = 0; r < ROWS; ++r) _mm512_mask_storeu_ps(y + r * ys, m, acc[r]);                    \
  }

MASKED_TILE(4)
MASKED_TILE(1)

// One panel of COLS columns over all rows, 4 rows at a time.
#define PANEL(COLS)                                                                                  \
  for (; j + COLS <= n; j += COLS) {                                                                 \
    const float *panelBias = bias ? bias + j : 0;                                                    \
    size_t r = 0;                                                                                    \
    for (; r + 4 <= rows; r += 4) tile_4x##COLS(x + r * xs, xs, k, wt + j, ws, panelBias, y + r * ys + j, ys); \
    for (; r < rows; ++r) tile_1x##COLS(x + r * xs, xs, k, wt + j, ws, panelBias, y + r * ys + j, ys);         \
  }

AVX512 static void linear_avx512(const float *x, size_t rows, size_t k, size_t xs, const float *wt, size_t ws,
                                 const float *bias, float *y, size_t n, size_t ys) {
  size_t j = 0;
  // Column panels outermost: one panel of the weight (k x 64) stays in cache for every row tile.
  // Narrower panels for what is left (d 32: SASRec's out projection and FFN output are 32 wide;
  // without them those ran a scalar loop striding down the weight, half of a d-32 request, issue 19).
  PANEL(64)
  PANEL(32)
  PANEL(16)
  if (j < n) {
    __mmask16 m = (__mmask16)((1u << (n - j)) - 1u);
    const float *panelBias = bias ? bias + j : 0;
    size_t r = 0;
    for (; r + 4 <= rows; r += 4) tile_4x_masked(x + r * xs, xs, k, wt + j, ws, panelBias, y + r * ys + j, ys, m);
    for (; r < rows; ++r) tile_1x_masked(x + r * xs, xs, k, wt + j, ws, panelBias, y + r * ys + j, ys, m);
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
