// recsys_linear: nn.Linear on a few dozen rows with the weight stored transposed once at load, for
// the encoder GEMMs of SASRec (50 rows, K = 64 .. 512). OpenBLAS packs both operands on every call,
// which is large against K = 64; this kernel keeps a 4 x 64 output tile in AVX-512 registers over
// the whole K and reads the pre-transposed weight rows directly. Only the AVX-512 variant measured
// faster than OpenBLAS (AVX2 and SSE2 builds were slower), so there is no other variant: callers ask
// `recsys_linear_transposed_available()` and use OpenBLAS elsewhere.
#ifndef RECSYS_LINEAR_H
#define RECSYS_LINEAR_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// 1 when this CPU has AVX-512 (F, DQ, VL) and `recsys_linear_transposed` computes; 0 otherwise.
int recsys_linear_transposed_available(void);

/// output[r * output_stride + j] = bias[j] + sum_p input[r * input_stride + p] * weight_t[p * weight_stride + j]
/// for r < rows, j < out_features, p < in_features; `bias` may be NULL (then 0). `weight_t` is
/// nn.Linear's weight transposed ([in_features x out_features] with row stride weight_stride, so a
/// column block of a wider transposed weight is `weight_t + first_column`). `output` must not
/// overlap `input` or `weight_t`. Returns 0 and writes nothing without AVX-512.
int recsys_linear_transposed(const float *input, size_t rows, size_t in_features, size_t input_stride,
                             const float *weight_t, size_t weight_stride, const float *bias,
                             float *output, size_t out_features, size_t output_stride);

#ifdef __cplusplus
}
#endif

#endif
