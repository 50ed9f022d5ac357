// recsys_lstm: one fused step of an nn.LSTM layer's recurrence (issue 19), compiled for AVX-512,
// AVX2 + FMA and SSE2 and chosen at run time like recsys_math.h's kernels.
//
// Why: a step was an OpenBLAS sgemv over W_hh plus four activation passes and two loops over the
// gates, every one a round trip through memory and a call; the steps are dependent, so that overhead
// was most of an lstm request's distance from its roofline. Here one pass per block of 16 hidden
// units multiplies W_hh (pre-packed so the four gates of 16 units are one row of 64 floats per input
// unit, kept in registers), adds the input side, applies the gate nonlinearities (math.c's sigmoid
// and tanh polynomials, same accuracy) and updates c and h.
#ifndef RECSYS_LSTM_H
#define RECSYS_LSTM_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Floats `recsys_lstm_pack` writes for `hidden` units: 4 x hidden rounded up to 16 x hidden.
size_t recsys_lstm_packed_count(size_t hidden);

/// Packs `weight_hh` ([4H x H], PyTorch's lstm.weight_hh_l{k}, gates i, f, g, o) for
/// `recsys_lstm_step`: block b (units 16b ..< 16b + 16), input unit k, gate q, lane l at
/// ((b * H + k) * 4 + q) * 16 + l; units past H are zero.
void recsys_lstm_pack(const float *weight_hh, size_t hidden, float *packed);

/// One step: gates = pre + W_hh · h_prev (pre: [4H], the input side x_t · W_ih^T + b_ih + b_hh;
/// h_prev: [H], NULL for the zero state), then c = f * c + i * g and h = o * tanh(c) with
/// i, f, o = sigmoid, g = tanh of their gates. `cell` [H] is read and written; `h_out` [H] must not
/// overlap h_prev or cell. `pre` is only read.
void recsys_lstm_step(const float *packed, size_t hidden, const float *pre, const float *h_prev, float *cell,
                      float *h_out);

#ifdef __cplusplus
}
#endif

#endif
