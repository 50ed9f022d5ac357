// recsys_threshold: where the next score above a top-k's threshold is (issue 19). A whole-catalog
// top-k looks at tens of thousands of scores of which a few dozen ever enter; finding those few
// with 64-wide vector compares (compiled for AVX-512, AVX2 + FMA and SSE2, chosen at run time)
// replaced a per-8-scores Swift loop built for the SSE2 baseline that was 12 % of a d-32 SASRec
// request.
#ifndef RECSYS_THRESHOLD_H
#define RECSYS_THRESHOLD_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// The first i < count with values[i] > threshold, or count if there is none. NaN is never above
/// (neither as a value nor as the threshold: a NaN threshold finds nothing).
size_t recsys_first_above(const float *values, size_t count, float threshold);

/// The same, always the baseline (SSE2) variant, whatever the CPU: lets tests check the code
/// that runs on machines without AVX-512 or AVX2.
size_t recsys_first_above_baseline(const float *values, size_t count, float threshold);

#ifdef __cplusplus
}
#endif

#endif
