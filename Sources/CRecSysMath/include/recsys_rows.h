// recsys_rows: scattered rows of an embedding table (a request's candidates), copied or dotted with a
// vector, with the rows a few indices ahead prefetched; compiled for AVX-512, AVX2 + FMA and SSE2
// and chosen at run time like recsys_math.h's kernels.
//
// Why: the candidates' rows are cache misses spread over a table of megabytes; a plain loop waits
// for each (the row copy was 15-18 % of the candidate points, issue 19). Prefetching the rows
// PREFETCH_AHEAD indices ahead overlaps the misses with the work on the current row; dotting rows
// where they lie saves the copy into a block and the GEMV call per block.
//
// Every index must be a row of the table (the Swift callers check): nothing here checks bounds.
#ifndef RECSYS_ROWS_H
#define RECSYS_ROWS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// output[i * dim ..< (i + 1) * dim] = matrix[indices[i] * dim ..< (indices[i] + 1) * dim].
void recsys_gather_rows(const float *matrix, size_t dim, const int32_t *indices, size_t count, float *output);

/// output[i] = matrix row indices[i] · vector (dim floats each). The sum order depends only on dim,
/// so a row gets the same score wherever it sits in the list.
void recsys_dot_rows(const float *matrix, size_t dim, const int32_t *indices, size_t count, const float *vector,
                     float *output);

/// output[i * dim + j] = matrix[indices[i] * dim + j] + vector[j], then max(·, 0) when relu != 0
/// (NaN stays NaN): mlp's first layer from its per-item cache, a gather and a broadcast add in one
/// pass (as a Swift loop for the SSE2 baseline it was a quarter of mlp_A_hidden128-64, issue 19).
void recsys_gather_rows_adding(const float *matrix, size_t dim, const int32_t *indices, size_t count,
                               const float *vector, int relu, float *output);

/// The same, always the baseline (SSE2) variant, whatever the CPU: lets tests check the code that
/// runs on machines without AVX-512 or AVX2.
void recsys_gather_rows_adding_baseline(const float *matrix, size_t dim, const int32_t *indices, size_t count,
                                        const float *vector, int relu, float *output);

#ifdef __cplusplus
}
#endif

#endif
