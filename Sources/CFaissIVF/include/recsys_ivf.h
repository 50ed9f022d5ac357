/*
 * recsys_ivf.h: the `approximate` retrieval mode's index, FAISS's inverted file (IndexIVFFlat,
 * inner product) behind a plain C interface (FAISS is C++; Debian 12's libfaiss-dev 1.7.3 ships a
 * C API without the per-query ID filters this mode needs).
 *
 * Built at load from the version's own item_emb (k-means on a sample for the list centres, then
 * every row filed under its best centre). A search visits the `probes` lists whose centres score
 * best against the query and ranks their rows exactly. Eligibility filters run inside the search
 * (FAISS's IDSelector): an excluded row never takes a place among the k.
 *
 * Every function catches FAISS's exceptions and reports them as a message; none aborts.
 */
#ifndef RECSYS_IVF_H
#define RECSYS_IVF_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct recsys_ivf recsys_ivf;

/* Returns nonzero when catalog row `row` must not be returned. */
typedef int32_t (*recsys_ivf_excluded_fn)(void *context, int64_t row);

/*
 * Builds the index over rows [count x dim] with `lists` inverted lists, the centres trained on at
 * most `train_rows` evenly spaced rows. Returns NULL and writes a message on failure.
 */
recsys_ivf *recsys_ivf_build(const float *rows, size_t count, size_t dim, size_t lists, size_t train_rows,
                             char *error, size_t error_capacity);

/*
 * The best k rows (by inner product with query [dim]) among the `probes` best lists, leaving out
 * rows `excluded` names (NULL: none): writes rows and scores, best first, returns how many (< k
 * when the probed lists hold fewer eligible rows), or -1 with a message. Thread-safe.
 */
int64_t recsys_ivf_search(const recsys_ivf *index, const float *query, size_t k, size_t probes,
                          recsys_ivf_excluded_fn excluded, void *context, int64_t *rows, float *scores,
                          char *error, size_t error_capacity);

/*
 * The smallest probe count at which searches agree with the exact top-k on at least
 * `target_recall` of it (recall@k over `query_count` test queries made from the rows themselves),
 * trying 1, 2, 4, ... probes up to `max_probes` (returned when none of them reaches the target).
 * The test queries are of two sorts, and the worse recall of the two must reach the target: a
 * sampled row plus noise (a user near some items, as trained embeddings give) and a random
 * direction of the rows' typical length (a user vector unrelated to any one item, as random or
 * poorly trained weights give). `rows` are the rows the index was built from. Writes the recall
 * reached to *recall (may be NULL). Returns 0 with a message on failure.
 */
size_t recsys_ivf_tune_probes(const recsys_ivf *index, const float *rows, size_t count, size_t query_count, size_t k,
                              double target_recall, size_t max_probes, double *recall, char *error,
                              size_t error_capacity);

/* Bytes the index holds (its copy of the rows, their ids, the centres). */
size_t recsys_ivf_byte_count(const recsys_ivf *index);

void recsys_ivf_free(recsys_ivf *index);

#ifdef __cplusplus
}
#endif

#endif /* RECSYS_IVF_H */
