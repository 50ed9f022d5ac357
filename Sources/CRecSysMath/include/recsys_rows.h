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

/// A first layer's rows for a list of candidates from a table of precomputed per-item blocks:
///   output[i] = matrix[indices[i]] + shared + sum_f features[feature_rows[i] * feature_dim + f] * feature_weights[f],
/// with feature_weights [feature_dim x dim] (W's feature columns, transposed) and ReLU applied when
/// `relu` is non-zero. One pass: the row, the shared part and the features' few products (K of 8
/// or 32, where a GEMM call costs more than the arithmetic) are summed where the row is loaded.
/// feature_dim 0: features, feature_rows and feature_weights may be NULL.
void recsys_gather_rows_add(const float *matrix, size_t dim, const int32_t *indices, size_t count, const float *shared,
                            const float *features, const int32_t *feature_rows, size_t feature_dim,
                            const float *feature_weights, int relu, float *output);

/// The same, always the baseline (SSE2) variant, whatever the CPU: lets tests check the code that
/// runs on machines without AVX-512 or AVX2.
void recsys_gather_rows_add_baseline(const float *matrix, size_t dim, const int32_t *indices, size_t count,
                                     const float *shared, const float *features, const int32_t *feature_rows,
                                     size_t feature_dim, const float *feature_weights, int relu, float *output);

#ifdef __cplusplus
}
#endif

#endif
