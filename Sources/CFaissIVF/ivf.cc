#include "recsys_ivf.h"

#include <faiss/IndexFlat.h>
#include <faiss/IndexIVFFlat.h>
#include <faiss/impl/IDSelector.h>
#include <faiss/utils/distances.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <exception>
#include <memory>
#include <random>
#include <string>
#include <vector>

struct recsys_ivf {
  std::unique_ptr<faiss::IndexFlatIP> quantizer;
  std::unique_ptr<faiss::IndexIVFFlat> index;
  size_t dim;
};

namespace {

void Report(const std::string &message, char *error, size_t capacity) {
  if (error == nullptr || capacity == 0) return;
  const size_t length = std::min(message.size(), capacity - 1);
  std::memcpy(error, message.data(), length);
  error[length] = '\0';
}

// Admits a row unless the caller's test excludes it (FAISS asks only about rows in probed lists).
struct CallbackSelector final : faiss::IDSelector {
  recsys_ivf_excluded_fn excluded;
  void *context;
  CallbackSelector(recsys_ivf_excluded_fn excluded, void *context) : excluded(excluded), context(context) {}
  bool is_member(faiss::Index::idx_t id) const override { return excluded(context, id) == 0; }
};

}  // namespace

recsys_ivf *recsys_ivf_build(const float *rows, size_t count, size_t dim, size_t lists, size_t train_rows,
                             char *error, size_t error_capacity) {
  try {
    if (rows == nullptr || count == 0 || dim == 0 || lists == 0 || lists > count) {
      Report("recsys_ivf_build: need rows, and 1 <= lists <= rows", error, error_capacity);
      return nullptr;
    }
    auto built = std::make_unique<recsys_ivf>();
    built->dim = dim;
    built->quantizer = std::make_unique<faiss::IndexFlatIP>(static_cast<faiss::Index::idx_t>(dim));
    built->index = std::make_unique<faiss::IndexIVFFlat>(built->quantizer.get(), dim, lists,
                                                         faiss::METRIC_INNER_PRODUCT);
    built->index->cp.niter = 10;
    built->index->cp.max_points_per_centroid = 1 << 30;  // the sample below is the whole training set
    built->index->cp.seed = 18;
    built->index->verbose = false;
    // Evenly spaced rows: deterministic, and spread over the whole catalog.
    const size_t sample = std::max(lists, std::min(train_rows, count));
    std::vector<float> training(sample * dim);
    for (size_t i = 0; i < sample; ++i) {
      const size_t row = i * count / sample;
      std::memcpy(training.data() + i * dim, rows + row * dim, dim * sizeof(float));
    }
    built->index->train(static_cast<faiss::Index::idx_t>(sample), training.data());
    built->index->add(static_cast<faiss::Index::idx_t>(count), rows);  // ids = row numbers
    return built.release();
  } catch (const std::exception &failure) {
    Report(std::string("building the IVF index failed: ") + failure.what(), error, error_capacity);
  } catch (...) {
    Report("building the IVF index failed", error, error_capacity);
  }
  return nullptr;
}

int64_t recsys_ivf_search(const recsys_ivf *index, const float *query, size_t k, size_t probes,
                          recsys_ivf_excluded_fn excluded, void *context, int64_t *rows, float *scores,
                          char *error, size_t error_capacity) {
  try {
    if (index == nullptr || query == nullptr || rows == nullptr || scores == nullptr) {
      Report("recsys_ivf_search: NULL argument", error, error_capacity);
      return -1;
    }
    if (k == 0) return 0;
    faiss::SearchParametersIVF parameters;
    parameters.nprobe = std::max<size_t>(1, std::min(probes, index->index->nlist));
    CallbackSelector selector(excluded, context);
    if (excluded != nullptr) parameters.sel = &selector;
    std::vector<faiss::Index::idx_t> labels(k);
    index->index->search(1, query, static_cast<faiss::Index::idx_t>(k), scores, labels.data(), &parameters);
    int64_t found = 0;
    for (size_t i = 0; i < k && labels[i] >= 0; ++i) {
      rows[i] = labels[i];
      ++found;
    }
    return found;
  } catch (const std::exception &failure) {
    Report(std::string("IVF search failed: ") + failure.what(), error, error_capacity);
  } catch (...) {
    Report("IVF search failed", error, error_capacity);
  }
  return -1;
}

namespace {

// Mean of |found ∩ exact| / k over queries first..<last (k ids each, -1 for none).
double Recall(const std::vector<faiss::Index::idx_t> &found, const std::vector<faiss::Index::idx_t> &exact, size_t k,
              size_t first, size_t last) {
  double total = 0;
  for (size_t q = first; q < last; ++q) {
    std::vector<faiss::Index::idx_t> truth(exact.begin() + q * k, exact.begin() + (q + 1) * k);
    std::sort(truth.begin(), truth.end());
    size_t hits = 0;
    for (size_t i = 0; i < k; ++i) {
      const auto id = found[q * k + i];
      if (id >= 0 && std::binary_search(truth.begin(), truth.end(), id)) ++hits;
    }
    total += static_cast<double>(hits) / static_cast<double>(k);
  }
  return last > first ? total / static_cast<double>(last - first) : 1.0;
}

}  // namespace

size_t recsys_ivf_tune_probes(const recsys_ivf *index, const float *rows, size_t count, size_t query_count, size_t k,
                              double target_recall, size_t max_probes, double *recall, char *error,
                              size_t error_capacity) {
  try {
    if (index == nullptr || rows == nullptr || count == 0 || query_count < 2 || k == 0 || max_probes == 0) {
      Report("recsys_ivf_tune_probes: need an index, its rows, two or more queries, k >= 1, max_probes >= 1",
             error, error_capacity);
      return 0;
    }
    const size_t dim = index->dim, nlist = index->index->nlist;
    k = std::min(k, count);
    max_probes = std::min(max_probes, nlist);
    // Fixed seed: the same weights always get the same probe count.
    std::mt19937_64 random(18);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    // The rows' typical per-coordinate spread, for the noise and the random directions' length.
    double squares = 0;
    const size_t sampled = std::min<size_t>(count, 4096);
    for (size_t i = 0; i < sampled; ++i) {
      const float *row = rows + (i * count / sampled) * dim;
      for (size_t j = 0; j < dim; ++j) squares += static_cast<double>(row[j]) * row[j];
    }
    const float spread = static_cast<float>(std::sqrt(squares / static_cast<double>(sampled * dim)));
    const size_t near_rows = query_count / 2;
    std::vector<float> queries(query_count * dim);
    for (size_t q = 0; q < query_count; ++q) {
      float *query = queries.data() + q * dim;
      if (q < near_rows) {
        const float *row = rows + (random() % count) * dim;
        for (size_t j = 0; j < dim; ++j) query[j] = row[j] + 0.5f * spread * normal(random);
      } else {
        for (size_t j = 0; j < dim; ++j) query[j] = spread * normal(random);
      }
    }
    std::vector<float> exact_scores(query_count * k), scores(query_count * k);
    std::vector<faiss::Index::idx_t> exact(query_count * k), found(query_count * k);
    faiss::knn_inner_product(queries.data(), rows, dim, query_count, count, k, exact_scores.data(), exact.data());
    size_t probes = 1;
    double reached = 0;
    for (;; probes = std::min(2 * probes, max_probes)) {
      faiss::SearchParametersIVF parameters;
      parameters.nprobe = probes;
      index->index->search(static_cast<faiss::Index::idx_t>(query_count), queries.data(),
                           static_cast<faiss::Index::idx_t>(k), scores.data(), found.data(), &parameters);
      reached = std::min(Recall(found, exact, k, 0, near_rows), Recall(found, exact, k, near_rows, query_count));
      if (reached >= target_recall || probes >= max_probes) break;
    }
    if (recall != nullptr) *recall = reached;
    return probes;
  } catch (const std::exception &failure) {
    Report(std::string("tuning the IVF probes failed: ") + failure.what(), error, error_capacity);
  } catch (...) {
    Report("tuning the IVF probes failed", error, error_capacity);
  }
  return 0;
}

size_t recsys_ivf_byte_count(const recsys_ivf *index) {
  if (index == nullptr) return 0;
  const size_t rows = static_cast<size_t>(index->index->ntotal);
  return rows * (index->dim * sizeof(float) + sizeof(faiss::Index::idx_t)) +
         index->index->nlist * index->dim * sizeof(float);
}

void recsys_ivf_free(recsys_ivf *index) { delete index; }
