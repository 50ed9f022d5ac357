/*
 * recsys_int8.h: the int8 catalog scan of the `quantized` retrieval mode (RecSysKernels wraps it).
 *
 * Rows are int8 with one float scale per row (row r ~= scales[r] * q[r]); the query is int8 with
 * its own scale. A score is scales[r] * query_scale * (q[r] . q_query), summed in int32 (exact:
 * d <= 65536 products of at most 127 * 127 cannot overflow). Written in C so the inner product
 * compiles to AVX2 (vpmaddwd) where the CPU has it, picked once at run time; a plain loop
 * elsewhere. The table is a quarter of the fp32 one, so the scan reads 4x fewer bytes.
 */
#ifndef RECSYS_INT8_H
#define RECSYS_INT8_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* out[r] = scales[r] * query_scale * sum_j rows[r * dim + j] * query[j], for r in [0, count). */
void recsys_int8_scores(const int8_t *rows, const float *scales, size_t count, size_t dim,
                        const int8_t *query, float query_scale, float *out);

#ifdef __cplusplus
}
#endif

#endif /* RECSYS_INT8_H */
