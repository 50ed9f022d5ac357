// recsys_math: the element-wise transcendental kernels of RecSysKernels (exp, sigmoid, tanh, erf,
// GELU over whole buffers, in place), compiled three times (AVX-512, AVX2 + FMA, baseline SSE2) and
// chosen once at run time from the CPU's features.
//
// Why C: the Swift module is built for the x86-64 baseline (SSE2) so that one binary runs on every
// machine; these loops were a fifth of an lstm request's CPU (perf, issue 19). Here the same
// branch-free polynomials are written per element and vectorised by the compiler for each target.
// Every element of a buffer takes the same code path on one machine, so a value gets the same
// result wherever it sits in a buffer. Accuracy (RecSysKernelsTests/TranscendentalTests): exp within
// 3e-7 relative, sigmoid and tanh within 3e-7 absolute, erf within 5e-7 absolute. NaN stays NaN.
#ifndef RECSYS_MATH_H
#define RECSYS_MATH_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// values[i] = exp(values[i]); 0 below -87.3, exp(88) above 88 (never infinity).
void recsys_exp(float *values, size_t count);
/// values[i] = 1 / (1 + exp(-values[i])).
void recsys_sigmoid(float *values, size_t count);
/// values[i] = tanh(values[i]).
void recsys_tanh(float *values, size_t count);
/// values[i] = erf(values[i]).
void recsys_erf(float *values, size_t count);
/// values[i] = 0.5 x (1 + erf(x / sqrt(2))) (exact GELU, nn.GELU()).
void recsys_gelu(float *values, size_t count);
/// Which compiled variant runs on this CPU: "avx512", "avx2" or "sse2".
const char *recsys_math_variant(void);

#ifdef __cplusplus
}
#endif

#endif
