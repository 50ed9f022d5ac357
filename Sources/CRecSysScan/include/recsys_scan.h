/*
 * recsys_scan.h: the whole-catalog scans of the retrieval modes (RecSysKernels wraps them).
 *
 * A scan scores every row of an [count x dim] table against one query, which is a pure read of
 * the table: its speed is the memory's read bandwidth if the arithmetic keeps up. Written in C so
 * each kernel compiles to AVX2 + FMA where the CPU has it (picked once at run time; a plain loop
 * elsewhere): eight rows at a time, each row's products summed in its own register and the eight
 * sums reduced together, so no row pays for a horizontal add of its own. A table that stays in the
 * cache takes an AVX-512 kernel of sixteen rows a step where the CPU has it (d 32, 64, 128).
 *
 * Both kernels write count scores to `out`; neither allocates nor keeps state.
 */
#ifndef RECSYS_SCAN_H
#define RECSYS_SCAN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* out[r] = sum_j rows[r * dim + j] * query[j] (fp32, the `exact` mode). */
void recsys_scan_f32(const float *rows, size_t count, size_t dim, const float *query, float *out);

/*
 * The same for a table that stays in the last-level cache between calls (at most half of
 * recsys_scan_cache_bytes()): no software prefetch, which there only costs issue slots.
 */
void recsys_scan_f32_cached(const float *rows, size_t count, size_t dim, const float *query, float *out);

/*
 * out[i] = the score recsys_scan_f32 (or _cached) over the block [block, block + count) gives row
 * positions[i], bit for bit (the same step, place in the step, or tail loop), reading only that
 * row: the exact mode's pre-pass re-scores its few candidates with it.
 */
void recsys_scan_f32_rows_of_block(const float *block, size_t count, size_t dim, const float *query,
                                   const int32_t *positions, size_t n, float *out);

/* Bytes of the L3 cache (0 when the system does not say). */
size_t recsys_scan_cache_bytes(void);

/*
 * out[r] = scales[r] * query_scale * sum_j rows[r * dim + j] * query[j] (the `quantized` mode).
 * Rows and query are int8 with one scale each (row r ~= scales[r] * q[r]); the products are
 * summed in int32, exactly (dim <= 65536 products of at most 127 * 127 cannot overflow).
 */
void recsys_scan_int8(const int8_t *rows, const float *scales, size_t count, size_t dim, const int8_t *query,
                      float query_scale, float *out);

/*
 * The int8 pre-pass of the `exact` mode (CatalogRetrieval's prefilter): for every row, bounds on
 * its fp32 score from its int8 one, upper[r] >= fl(rows_f32[r] . z) >= lower[r] (a NaN bound for a
 * row with non-finite values). With a[r] as recsys_scan_int8 computes it,
 *   e[r] = residual_norms[r] * query_norm + code_norms[r] * query_residual_norm
 *          + |a[r]| * 2^-16 + absolute_slack,   upper = a + e, lower = a - e,
 * where the caller derives the per-row norms and the query's terms (Int8.swift says how and why
 * that bounds the error). `cached`: the codes stay in the cache (no prefetches). Where the CPU has
 * AVX-512 VNNI and dim % 32 == 0, both int8 scans run vpdpbusd (same integer sums, same result).
 */
void recsys_scan_int8_bounds(const int8_t *rows, const float *scales, const float *residual_norms,
                             const float *code_norms, size_t count, size_t dim, const int8_t *query, float query_scale,
                             float query_norm, float query_residual_norm, float absolute_slack, int cached,
                             float *upper, float *lower);

/* Writes, in ascending order, every i with !(values[i] < threshold) (NaN values included) to
 * `indices` (room for count) and returns how many. */
size_t recsys_scan_select_not_below(const float *values, size_t count, float threshold, int32_t *indices);

/* Counts `calls` prefiltered calls and the rows they re-scored in fp32 (all threads); with
 * RECSYS_PREFILTER_STATS=1 the running average goes to stderr every 1000 calls. */
void recsys_scan_prefilter_count(size_t calls, size_t rows_rescored);
size_t recsys_scan_prefilter_rows_rescored(void);

/*
 * Memory for a table the scans stream (zeroed, page aligned), on transparent huge pages where the
 * system grants them on request: with 4 KiB pages a scan takes a TLB miss every 4 KiB. NULL when
 * it cannot be had. Free with recsys_scan_table_free and the same byte count.
 */
void *recsys_scan_table_alloc(size_t bytes);
void recsys_scan_table_free(void *table, size_t bytes);

#ifdef __cplusplus
}
#endif

#endif /* RECSYS_SCAN_H */
