// The element functions every kernel of CRecSysMath shares (math.c's buffers, lstm.c's fused step),
// and the CPU level both dispatch on. Private to this target: not part of include/.
#ifndef RECSYS_MATH_ELEMENTS_H
#define RECSYS_MATH_ELEMENTS_H

#include <stdint.h>
#include <string.h>

#define INLINE static inline __attribute__((always_inline))

INLINE uint32_t bits_of(float x) {
  uint32_t u;
  memcpy(&u, &x, sizeof u);
  return u;
}

INLINE float float_of(uint32_t u) {
  float x;
  memcpy(&x, &u, sizeof x);
  return x;
}

// exp: x = n ln2 + r, |r| <= ln2 / 2, exp(r) by the Cephes expf polynomial, times 2^n built in the
// exponent bits. n is x log2(e) rounded with the 1.5 * 2^23 trick (the low mantissa bits hold it).
INLINE float exp_one(float input) {
  float x = input < -87.3f ? -87.3f : input;
  x = x > 88.0f ? 88.0f : x;
  const float shifter = 12582912.0f;
  float shifted = x * 1.44269504f + shifter;
  float n = shifted - shifter;
  float r = x - n * 0.693359375f - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  uint32_t n_bits = bits_of(shifted) - 0x4B400000u;
  float scale = float_of((n_bits + 127u) << 23);
  float out = input < -87.3f ? 0.0f : p * scale;
  return input != input ? input : out;
}

INLINE float sigmoid_one(float x) { return 1.0f / (1.0f + exp_one(-x)); }

// tanh(x) = sign(x) (1 - 2 / (exp(2|x|) + 1)); below |x| = 1/64 that cancels, so there the series
// x - x^3/3 + 2x^5/15.
INLINE float tanh_one(float x) {
  uint32_t sign = bits_of(x) & 0x80000000u;
  float m = float_of(bits_of(x) & 0x7FFFFFFFu);
  float e = exp_one(2.0f * m);
  float m2 = m * m;
  float series = m * (1.0f + m2 * (-1.0f / 3.0f + m2 * (2.0f / 15.0f)));
  float t = m < 1.0f / 64.0f ? series : 1.0f - 2.0f / (e + 1.0f);
  float out = float_of(bits_of(t) | sign);
  return x != x ? x : out;
}

// erf as the rational minimax fit Eigen and XLA use for float, erf(x) = x P(x^2) / Q(x^2) on [-4, 4].
INLINE float erf_one(float input) {
  float x = input < -4.0f ? -4.0f : input;
  x = x > 4.0f ? 4.0f : x;
  float x2 = x * x;
  float p = x2 * -2.72614225801306e-10f + 2.77068142495902e-08f;
  p = x2 * p + -2.10102402082508e-06f;
  p = x2 * p + -5.69250639462346e-05f;
  p = x2 * p + -7.34990630326855e-04f;
  p = x2 * p + -2.95459980854025e-03f;
  p = x2 * p + -1.60960333262415e-02f;
  p = x * p;
  float q = x2 * -1.45660718464996e-05f + -2.13374055278905e-04f;
  q = x2 * q + -1.68282697438203e-03f;
  q = x2 * q + -7.37332916720468e-03f;
  q = x2 * q + -1.42647390514189e-02f;
  float out = p / q;
  return input != input ? input : out;
}

INLINE float gelu_one(float x) { return 0.5f * x * (1.0f + erf_one(x * 0.70710678118654752440f)); }

// Generic vectors (clang/GCC vector extensions): one `lanes` is 16 floats, one zmm on AVX-512, two
// ymm on AVX2, four xmm on SSE2, so one source serves every variant.
enum { LANES = 16 };
typedef float lanes __attribute__((vector_size(LANES * sizeof(float))));
// The same vector read from any float address (Swift arrays are only 16-byte aligned). A macro, not
// a function: a function returning `lanes` would need its own target attribute per variant.
typedef float unaligned_lanes __attribute__((vector_size(LANES * sizeof(float)), aligned(sizeof(float))));
#define LOAD(p) (*(const unaligned_lanes *)(p))

// Which compiled variant this CPU runs, decided once from cpuid (math.c).
enum recsys_cpu_level { RECSYS_CPU_SSE2, RECSYS_CPU_AVX2, RECSYS_CPU_AVX512 };
enum recsys_cpu_level recsys_math_cpu_level(void);

#endif
