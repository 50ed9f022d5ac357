// kernels: the kernel micro-benchmark of `make bench` (bench/run.py drives it; docs/benchmarks.md
// explains the figures). Everything runs on one thread (OpenBLAS limited to 1 thread, as in the
// sidecar). Each figure is the best of several timed repetitions: on a shared machine the best run
// is the one least disturbed by others.
//
//   --fma                       single-core FMA peak: 16 (zmm, AVX-512) or 12 (ymm, AVX2) independent
//                               chains of vfmadd on registers, FLOPs = 2 x lanes x chains x iterations
//   --sgemm N                   cblas_sgemm N x N x N (the "large sgemm" rate)
//   --gemm-chain M:W0,W1,...    cblas_sgemm of M rows through Linear layers W0->W1->... (out x in
//                               weights, as Kernels.linear calls it: B transposed)
//   --gemv N:D                  cblas_sgemv [N x D] . [D] (catalog scoring), bytes = N*D*4
//   --batched-gemv N:D           the catalog product for B = 1, 2, 4, 8 users at once, per user: B
//                               sgemv calls, one sgemm, a hand-written AVX-512 four-user pass (would
//                               batching concurrent requests pay?)
//   --gemv-mapped TABLE:TENSOR  the same on a [N x D] tensor of a store version, memory-mapped read-only
//                               from its safetensors file as the sidecar maps it (page-cache pages, the
//                               file's alignment) instead of a fresh heap buffer
//   --copy BYTES                memcpy between two BYTES buffers; STREAM "copy" bandwidth counts
//                               read + written bytes (2 x BYTES)
//   --read BYTES                sum of a BYTES float buffer (AVX-512, 4 accumulators): read-only
//                               bandwidth, the tighter roof for a GEMV that only reads its matrix
//   --plugin NAME:LIB:TABLE:MANIFEST:REQUEST
//                               dlopen a model plugin, create an instance from the tensors listed in
//                               TABLE (name dtype rank dims... offset bytes, of the safetensors file
//                               on its first line) and MANIFEST (model.json), then time recommend()
//                               on the request in REQUEST (text: "history ids...", "types ...",
//                               "candidates ...", "context ...", "features ...", "top_k k").
//   --plugin-threads T          later --plugin runs call the one instance from T threads at once
//                               (seconds per call = wall time / all threads' calls); REQUEST may hold
//                               several requests separated by a line "next", cycled through
//   --seconds S                 time budget per measurement (default 0.4)
//   --calls N                   instead: exactly N calls after one warm-up (instruction counts
//                               under valgrind --tool=callgrind: run with two N, divide the difference)
// Output: one JSON object on stdout.
#include <cblas.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <immintrin.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <cstring>
#include <cmath>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <memory>
#include <thread>
#include <vector>

#include "../Sources/CRecSysPlugin/include/recsys_plugin.h"
#include "retrieval/read_loop.h"  // the read loops (AVX2, AVX-512), shared with bench/retrieval

extern "C" void openblas_set_num_threads(int);

namespace {

double Now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

double budget_seconds = 0.4;
int plugin_threads = 1;
long fixed_calls = 0;  // --calls: exactly this many calls, once (for callgrind: counts, not times)  // --plugin-threads: callers of one instance at once

// Seconds per call of `body`: calls are batched so a batch lasts >= ~20 ms; the best batch of those
// that fit in the time budget (at least 5) wins.
// Under `perf record -D -1 --control fifo:PATH` (bench/run.py's profiles), RECSYS_PERF_CONTROL=PATH:
// sampling starts here, at the timed plugin calls, not at the harness's loading and parsing.
void StartPerfSampling() {
  const char *path = std::getenv("RECSYS_PERF_CONTROL");
  if (path == nullptr) return;
  int fd = open(path, O_WRONLY | O_NONBLOCK);  // no reader (no perf): nothing to tell
  if (fd < 0) return;
  if (write(fd, "enable\n", 7) != 7) std::fprintf(stderr, "kernels: could not write to %s\n", path);
  close(fd);
}

double BestSecondsPerCall(const std::function<void()> &body) {
  body();  // warm caches and lazy initialisation
  if (fixed_calls > 0) {
    double t = Now();
    for (long i = 0; i < fixed_calls; ++i) body();
    return (Now() - t) / fixed_calls;
  }
  int per_batch = 1;
  for (;;) {
    double t = Now();
    for (int i = 0; i < per_batch; ++i) body();
    double elapsed = Now() - t;
    if (elapsed > 0.02 || per_batch > (1 << 24)) break;
    per_batch *= 2;
  }
  double best = 1e30, start = Now();
  for (int batch = 0; batch < 5 || Now() - start < budget_seconds; ++batch) {
    double t = Now();
    for (int i = 0; i < per_batch; ++i) body();
    best = std::min(best, (Now() - t) / per_batch);
    if (batch > 1000) break;
  }
  return best;
}

// Independent accumulator chains: enough to cover FMA latency x throughput (4 cycles x 2 pipes), and
// few enough to stay in registers (16 ymm registers without AVX-512, 32 zmm with it).
constexpr int kChains512 = 16;
constexpr int kChains256 = 12;
constexpr long kFmaIterations = 20'000'000;

__attribute__((target("avx512f"))) float FmaLoop512(long iterations) {
  constexpr int kChains = kChains512;
  __m512 acc[kChains];
  for (int c = 0; c < kChains; ++c) acc[c] = _mm512_set1_ps(0.001f * c);
  const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
  for (long i = 0; i < iterations; ++i) {
#pragma GCC unroll 16
    for (int c = 0; c < kChains; ++c) acc[c] = _mm512_fmadd_ps(acc[c], a, b);
  }
  __m512 sum = acc[0];
  for (int c = 1; c < kChains; ++c) sum = _mm512_add_ps(sum, acc[c]);
  float lanes[16];
  _mm512_storeu_ps(lanes, sum);
  float total = 0;
  for (float lane : lanes) total += lane;
  return total;
}

__attribute__((target("avx2,fma"))) float FmaLoop256(long iterations) {
  constexpr int kChains = kChains256;
  __m256 acc[kChains];
  for (int c = 0; c < kChains; ++c) acc[c] = _mm256_set1_ps(0.001f * c);
  const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
  for (long i = 0; i < iterations; ++i) {
#pragma GCC unroll 16
    for (int c = 0; c < kChains; ++c) acc[c] = _mm256_fmadd_ps(acc[c], a, b);
  }
  __m256 sum = acc[0];
  for (int c = 1; c < kChains; ++c) sum = _mm256_add_ps(sum, acc[c]);
  float lanes[8];
  _mm256_storeu_ps(lanes, sum);
  float total = 0;
  for (float lane : lanes) total += lane;
  return total;
}

volatile float sink;

double FmaGflops(int lanes) {
  long iterations = kFmaIterations / 4;
  double seconds = BestSecondsPerCall([&] { sink = lanes == 16 ? FmaLoop512(iterations) : FmaLoop256(iterations); });
  return 2.0 * lanes * (lanes == 16 ? kChains512 : kChains256) * iterations / seconds / 1e9;
}

std::vector<float> RandomFloats(size_t count, unsigned seed) {
  std::vector<float> v(count);
  uint32_t state = seed * 2654435761u + 1;
  for (auto &x : v) {
    state = state * 1664525u + 1013904223u;
    x = static_cast<float>((state >> 8) & 0xffff) / 65536.0f - 0.5f;
  }
  return v;
}

// ---------------------------------------------------------------- plugin cases

struct LoadedFile {  // the whole file in memory (never released: the process is short-lived)
  void *data = nullptr;
  size_t size = 0;
};

LoadedFile Load(const std::string &path) {
  int fd = open(path.c_str(), O_RDONLY);
  if (fd < 0) {
    std::fprintf(stderr, "kernels: cannot open %s\n", path.c_str());
    std::exit(1);
  }
  struct stat st {};
  fstat(fd, &st);
  LoadedFile f;
  f.size = static_cast<size_t>(st.st_size);
  // Read into private memory on huge pages, as the sidecar holds weights (PrivateBytes.swift):
  // a file mapping's 4 KiB page-cache pages would make the plugin's scans slower here than there.
  f.data = recsys_bench_alloc_table(f.size);
  if (f.data == nullptr) {
    std::fprintf(stderr, "kernels: cannot allocate %zu bytes for %s\n", f.size, path.c_str());
    std::exit(1);
  }
  for (size_t done = 0; done < f.size;) {
    ssize_t got = read(fd, static_cast<char *>(f.data) + done, f.size - done);
    if (got <= 0) {
      std::fprintf(stderr, "kernels: cannot read %s\n", path.c_str());
      std::exit(1);
    }
    done += static_cast<size_t>(got);
  }
  close(fd);
  return f;
}

std::string ReadText(const std::string &path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<std::string> Split(const std::string &text, char separator) {
  std::vector<std::string> parts;
  std::stringstream s(text);
  std::string part;
  while (std::getline(s, part, separator)) parts.push_back(part);
  return parts;
}

struct PluginCase {
  std::string name;
  double seconds_per_call = 0;
  size_t result_count = 0;
  size_t request_count = 0;
  int threads = 1;
  std::string error;
};

PluginCase RunPlugin(const std::string &spec) {
  auto parts = Split(spec, ':');
  if (parts.size() != 5) {
    std::fprintf(stderr, "kernels: --plugin NAME:LIB:TABLE:MANIFEST:REQUEST, got %s\n", spec.c_str());
    std::exit(2);
  }
  PluginCase out;
  out.name = parts[0];
  void *library = dlopen(parts[1].c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!library) {
    out.error = dlerror();
    return out;
  }
  using Entry = const recsys_plugin *(*)();
  auto entry = reinterpret_cast<Entry>(dlsym(library, RECSYS_PLUGIN_ENTRY_SYMBOL));
  const recsys_plugin *plugin = entry();

  // Tensor table: first line the safetensors path, then "name dtype rank dims... offset bytes".
  std::ifstream table(parts[2]);
  std::string weights_path;
  std::getline(table, weights_path);
  LoadedFile weights = Load(weights_path);
  std::vector<std::string> names;
  std::vector<std::vector<int64_t>> shapes;
  std::vector<recsys_tensor> tensors;
  std::string line;
  while (std::getline(table, line)) {
    if (line.empty()) continue;
    std::stringstream s(line);
    std::string name, dtype;
    int rank;
    s >> name >> dtype >> rank;
    std::vector<int64_t> shape(rank);
    for (auto &d : shape) s >> d;
    uint64_t offset, bytes;
    s >> offset >> bytes;
    names.push_back(name);
    shapes.push_back(shape);
    recsys_tensor t{};
    t.dtype = dtype == "I64" ? RECSYS_DTYPE_I64 : RECSYS_DTYPE_F32;
    t.rank = rank;
    t.data = static_cast<const char *>(weights.data) + offset;
    t.byte_count = bytes;
    tensors.push_back(t);
  }
  for (size_t i = 0; i < tensors.size(); ++i) {
    tensors[i].name = names[i].c_str();
    tensors[i].shape = shapes[i].data();
  }
  std::string manifest = ReadText(parts[3]);
  recsys_model_config config{manifest.c_str(), tensors.data(), tensors.size()};
  recsys_instance *instance = nullptr;
  char error[1024] = {0};
  if (plugin->create(&config, &instance, error, sizeof error) != RECSYS_OK) {
    out.error = error;
    return out;
  }

  // One or more requests, separated by a line "next"; the timed loop cycles through them (with
  // many different requests, caches hold what a stream of real requests leaves in them, not one
  // request's working set).
  struct Request {
    std::vector<int64_t> history, candidates;
    std::vector<int32_t> types;
    std::vector<float> context, features;
    uint32_t top_k = 10;
  };
  std::vector<Request> requests(1);
  std::ifstream request_file(parts[4]);
  while (std::getline(request_file, line)) {
    std::stringstream s(line);
    std::string key;
    s >> key;
    Request &r = requests.back();
    if (key == "history") for (int64_t v; s >> v;) r.history.push_back(v);
    else if (key == "types") for (int32_t v; s >> v;) r.types.push_back(v);
    else if (key == "candidates") for (int64_t v; s >> v;) r.candidates.push_back(v);
    else if (key == "context") for (float v; s >> v;) r.context.push_back(v);
    else if (key == "features") for (float v; s >> v;) r.features.push_back(v);
    else if (key == "top_k") s >> r.top_k;
    else if (key == "next") requests.emplace_back();
  }
  if (requests.size() > 1 && requests.back().history.empty() && requests.back().candidates.empty()) requests.pop_back();
  out.request_count = requests.size();
  // Per thread: its own result buffers and cursor into the requests.
  struct Caller {
    std::vector<recsys_request> raw;
    std::vector<int64_t> ids, unknown;
    std::vector<float> scores, propensities;
    recsys_result result{};
    size_t next = 0;
    recsys_status status = RECSYS_OK;
    char error[1024] = {0};
    int32_t cancelled = 0;
  };
  auto make_caller = [&](size_t start) {
    auto c = std::make_unique<Caller>();
    size_t widest = 1, top = 1;
    for (auto &r : requests) {
      recsys_request q{};
      q.history_item_ids = r.history.data();
      q.history_types = r.types.data();
      q.history_count = r.history.size();
      q.candidate_item_ids = r.candidates.data();
      q.candidate_count = r.candidates.size();
      q.candidate_features = r.features.data();
      q.candidate_feature_count = r.features.size();
      q.context = r.context.data();
      q.context_count = r.context.size();
      q.top_k = r.top_k;
      q.seed = 42;
      q.cancelled = &c->cancelled;
      c->raw.push_back(q);
      widest = std::max(widest, r.candidates.size() + 1);
      top = std::max<size_t>(top, r.top_k);
    }
    c->ids.resize(top);
    c->scores.resize(top);
    c->propensities.resize(top);
    c->unknown.resize(widest);
    c->result = recsys_result{c->ids.data(), c->scores.data(), c->propensities.data(), top, 0, c->unknown.data(), 0};
    c->next = start % requests.size();
    return c;
  };
  auto call = [&](Caller &c) {
    recsys_request &q = c.raw[c.next];
    c.next = (c.next + 1) % c.raw.size();
    c.result.capacity = q.top_k;
    c.result.count = 0;
    c.result.unknown_count = 0;
    recsys_status status = plugin->recommend(instance, &q, &c.result, c.error, sizeof c.error);
    if (status != RECSYS_OK) c.status = status;
  };
  auto first = make_caller(0);
  StartPerfSampling();
  if (plugin_threads <= 1) {
    out.seconds_per_call = BestSecondsPerCall([&] { call(*first); });
  } else {
    // T threads calling the one instance at once (as the sidecar's handler threads do): seconds
    // per call = wall time / calls of all threads, best of several rounds.
    std::vector<std::unique_ptr<Caller>> callers;
    for (int t = 0; t < plugin_threads; ++t) callers.push_back(make_caller(size_t(t) * 7));
    int per_thread = 1;
    for (;;) {
      double t0 = Now();
      for (int i = 0; i < per_thread; ++i) call(*first);
      if (Now() - t0 > 0.05 || per_thread > (1 << 20)) break;
      per_thread *= 2;
    }
    double best = 1e30, start = Now();
    for (int round = 0; round < 5 || Now() - start < budget_seconds; ++round) {
      std::vector<std::thread> threads;
      double t0 = Now();
      for (auto &c : callers)
        threads.emplace_back([&, raw = c.get()] {
          for (int i = 0; i < per_thread; ++i) call(*raw);
        });
      for (auto &t : threads) t.join();
      best = std::min(best, (Now() - t0) / (double(per_thread) * plugin_threads));
      if (round > 200) break;
    }
    out.seconds_per_call = best;
    for (auto &c : callers)
      if (c->status != RECSYS_OK) first->status = c->status;
  }
  if (first->status != RECSYS_OK) out.error = first->error;
  out.result_count = first->result.count;
  plugin->destroy(instance);  // the library stays loaded (Swift libraries are never dlclose'd)
  return out;
}


// ------------------------------------------------------- batched catalog product (an experiment)
//
// What scoring B users' vectors against the catalog in one pass could save (the proposed
// cross-request batching). Not used by the sidecar: it measures whether the batching would pay.

// Lanes 8-15 of a zmm (AVX512F has no float extract of a 256-bit half; the double one moves the bits).
__attribute__((target("avx512f"))) inline __m256 High8(__m512 x) {
  return _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(x), 1));
}

// The sums of four accumulators as four lanes (fold, then horizontal adds: ~3 instructions a sum).
__attribute__((target("avx512f"))) inline __m128 Sum4(__m512 a, __m512 b, __m512 c, __m512 d) {
  __m256 ab = _mm256_hadd_ps(_mm256_add_ps(_mm512_castps512_ps256(a), High8(a)),
                             _mm256_add_ps(_mm512_castps512_ps256(b), High8(b)));
  __m256 cd = _mm256_hadd_ps(_mm256_add_ps(_mm512_castps512_ps256(c), High8(c)),
                             _mm256_add_ps(_mm512_castps512_ps256(d), High8(d)));
  __m256 abcd = _mm256_hadd_ps(ab, cd);
  return _mm_add_ps(_mm256_castps256_ps128(abcd), _mm256_extractf128_ps(abcd, 1));
}

// out[v * n + r] = E[r] . U[v] for four vectors, d a multiple of 16: each row chunk is loaded once
// for the four, two rows at a time (eight independent FMA chains).
__attribute__((target("avx512f"))) void FourUserProduct(const float *e, long rows, int d, const float *u, float *out,
                                                        long n) {
  float sums[4];
  for (long r = 0; r + 2 <= rows; r += 2) {
    const float *x = e + r * d, *y = x + d;
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
    for (int k = 0; k < d; k += 16) {
      __m512 ex = _mm512_loadu_ps(x + k), ey = _mm512_loadu_ps(y + k);
      __m512 u0 = _mm512_loadu_ps(u + k), u1 = _mm512_loadu_ps(u + d + k);
      __m512 u2 = _mm512_loadu_ps(u + 2 * d + k), u3 = _mm512_loadu_ps(u + 3 * d + k);
      a0 = _mm512_fmadd_ps(ex, u0, a0), a1 = _mm512_fmadd_ps(ex, u1, a1);
      a2 = _mm512_fmadd_ps(ex, u2, a2), a3 = _mm512_fmadd_ps(ex, u3, a3);
      b0 = _mm512_fmadd_ps(ey, u0, b0), b1 = _mm512_fmadd_ps(ey, u1, b1);
      b2 = _mm512_fmadd_ps(ey, u2, b2), b3 = _mm512_fmadd_ps(ey, u3, b3);
    }
    _mm_storeu_ps(sums, Sum4(a0, a1, a2, a3));
    for (int v = 0; v < 4; ++v) out[v * n + r] = sums[v];
    _mm_storeu_ps(sums, Sum4(b0, b1, b2, b3));
    for (int v = 0; v < 4; ++v) out[v * n + r + 1] = sums[v];
  }
}

}  // namespace

int main(int argc, char **argv) {
  openblas_set_num_threads(1);
  std::vector<std::string> json;
  char buffer[512];
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "kernels: %s needs a value\n", flag.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (flag == "--seconds") {
      budget_seconds = std::stod(value());
    } else if (flag == "--fma") {
      double avx2 = FmaGflops(8);
      double avx512 = __builtin_cpu_supports("avx512f") ? FmaGflops(16) : 0.0;
      std::snprintf(buffer, sizeof buffer,
                    "\"fma\": {\"avx2_gflops\": %.2f, \"avx512_gflops\": %.2f, \"chains_avx2\": %d, \"chains_avx512\": %d}",
                    avx2, avx512, kChains256, kChains512);
      json.push_back(buffer);
    } else if (flag == "--sgemm") {
      int n = std::stoi(value());
      auto a = RandomFloats(size_t(n) * n, 1), b = RandomFloats(size_t(n) * n, 2);
      std::vector<float> c(size_t(n) * n);
      double s = BestSecondsPerCall([&] {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f,
                    c.data(), n);
      });
      std::snprintf(buffer, sizeof buffer, "\"sgemm\": {\"n\": %d, \"seconds\": %.6e, \"gflops\": %.2f}", n, s,
                    2.0 * n * n * double(n) / s / 1e9);
      json.push_back(buffer);
    } else if (flag == "--gemm-chain") {
      auto spec = Split(value(), ':');
      int m = std::stoi(spec[0]);
      std::vector<int> widths;
      for (auto &w : Split(spec[1], ',')) widths.push_back(std::stoi(w));
      int widest = *std::max_element(widths.begin(), widths.end());
      std::vector<std::vector<float>> weights;
      double flops = 0;
      for (size_t l = 0; l + 1 < widths.size(); ++l) {
        weights.push_back(RandomFloats(size_t(widths[l]) * widths[l + 1], 3 + l));
        flops += 2.0 * m * widths[l] * widths[l + 1];
      }
      auto x = RandomFloats(size_t(m) * widest, 9);
      std::vector<float> y(size_t(m) * widest);
      double s = BestSecondsPerCall([&] {
        float *in = x.data(), *out = y.data();
        for (size_t l = 0; l + 1 < widths.size(); ++l) {
          cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, widths[l + 1], widths[l], 1.0f, in, widths[l],
                      weights[l].data(), widths[l], 0.0f, out, widths[l + 1]);
          std::swap(in, out);
        }
      });
      std::snprintf(buffer, sizeof buffer,
                    "\"gemm_chain\": {\"m\": %d, \"flops\": %.0f, \"seconds\": %.6e, \"gflops\": %.2f}", m, flops, s,
                    flops / s / 1e9);
      json.push_back(buffer);
    } else if (flag == "--gemv") {
      auto spec = Split(value(), ':');
      long n = std::stol(spec[0]);
      int d = std::stoi(spec[1]);
      auto matrix = RandomFloats(size_t(n) * d, 4), vector = RandomFloats(d, 5);
      std::vector<float> out(n);
      double s = BestSecondsPerCall([&] {
        cblas_sgemv(CblasRowMajor, CblasNoTrans, n, d, 1.0f, matrix.data(), d, vector.data(), 1, 0.0f, out.data(), 1);
      });
      double bytes = double(n) * d * 4;
      std::snprintf(buffer, sizeof buffer,
                    "\"gemv\": {\"n\": %ld, \"d\": %d, \"seconds\": %.6e, \"gflops\": %.2f, \"gbytes_per_s\": %.2f}",
                    n, d, s, 2.0 * n * d / s / 1e9, bytes / s / 1e9);
      json.push_back(buffer);
    } else if (flag == "--batched-gemv") {
      // Per user: B x cblas_sgemv, one cblas_sgemm [N x D] . [D x B], and (AVX-512, D a multiple of
      // 16, even N) the hand-written four-user pass above, in blocks of 64 rows for B = 8; all on
      // one [N x D] table in 4096-row blocks, as the sidecar scans it.
      auto spec = Split(value(), ':');
      long n = std::stol(spec[0]);
      int d = std::stoi(spec[1]);
      auto matrix = RandomFloats(size_t(n) * d, 6), users = RandomFloats(size_t(8) * d, 7);
      std::vector<float> out(size_t(8) * n), reference(size_t(8) * n);
      const long block = 4096;
      bool kernel_ok = __builtin_cpu_supports("avx512f") && d % 16 == 0 && n % 2 == 0;
      std::string cases;
      for (int b : {1, 2, 4, 8}) {
        double gemv = BestSecondsPerCall([&] {
          for (long s0 = 0; s0 < n; s0 += block)
            for (int v = 0; v < b; ++v)
              cblas_sgemv(CblasRowMajor, CblasNoTrans, std::min(block, n - s0), d, 1.0f, matrix.data() + s0 * d, d,
                          users.data() + v * d, 1, 0.0f, reference.data() + v * n + s0, 1);
        });
        double gemm = BestSecondsPerCall([&] {
          for (long s0 = 0; s0 < n; s0 += block)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, std::min(block, n - s0), b, d, 1.0f,
                        matrix.data() + s0 * d, d, users.data(), d, 0.0f, out.data() + s0 * b, b);
        });
        double kernel = 0, error = 0;
        if (kernel_ok && b % 4 == 0) {
          kernel = BestSecondsPerCall([&] {
            for (long s0 = 0; s0 < n; s0 += 64)
              for (int v = 0; v < b; v += 4)
                FourUserProduct(matrix.data() + s0 * d, std::min(64L, n - s0), d, users.data() + v * d,
                                out.data() + v * n + s0, n);
          });
          for (long i = 0; i < long(b) * n; ++i) error = std::max(error, double(std::fabs(out[i] - reference[i])));
        }
        std::snprintf(buffer, sizeof buffer,
                      "%s{\"users\": %d, \"sgemv_per_user_s\": %.6e, \"sgemm_per_user_s\": %.6e, "
                      "\"kernel_per_user_s\": %.6e, \"kernel_max_abs_error\": %.2e}",
                      cases.empty() ? "" : ", ", b, gemv / b, gemm / b, kernel / b, error);
        cases += buffer;
      }
      json.push_back("\"batched_gemv\": {\"n\": " + std::to_string(n) + ", \"d\": " + std::to_string(d) +
                     ", \"cases\": [" + cases + "]}");
    } else if (flag == "--gemv-mapped") {
      auto spec = Split(value(), ':');
      std::ifstream table(spec[0]);
      std::string path, line;
      std::getline(table, path);
      const float *matrix = nullptr;
      long n = 0;
      int d = 0;
      while (std::getline(table, line)) {
        std::stringstream s(line);
        std::string name, dtype;
        int rank;
        s >> name >> dtype >> rank;
        std::vector<int64_t> shape(rank);
        for (auto &x : shape) s >> x;
        uint64_t offset, bytes;
        s >> offset >> bytes;
        if (name == spec[1] && rank == 2) {
          int fd = open(path.c_str(), O_RDONLY);
          struct stat st {};
          fstat(fd, &st);
          void *base = mmap(nullptr, static_cast<size_t>(st.st_size), PROT_READ, MAP_SHARED, fd, 0);
          close(fd);
          matrix = reinterpret_cast<const float *>(static_cast<const char *>(base) + offset);
          n = shape[0];
          d = static_cast<int>(shape[1]);
        }
      }
      if (!matrix) {
        std::fprintf(stderr, "kernels: no 2-D tensor %s in %s\n", spec[1].c_str(), spec[0].c_str());
        return 2;
      }
      auto vector = RandomFloats(d, 5);
      std::vector<float> out(n);
      double s = BestSecondsPerCall([&] {
        cblas_sgemv(CblasRowMajor, CblasNoTrans, n, d, 1.0f, matrix, d, vector.data(), 1, 0.0f, out.data(), 1);
      });
      double bytes = double(n) * d * 4;
      std::snprintf(buffer, sizeof buffer,
                    "\"gemv_mapped\": {\"n\": %ld, \"d\": %d, \"seconds\": %.6e, \"gflops\": %.2f, "
                    "\"gbytes_per_s\": %.2f, \"address_mod_64\": %d}",
                    n, d, s, 2.0 * n * d / s / 1e9, bytes / s / 1e9, static_cast<int>(reinterpret_cast<uintptr_t>(matrix) % 64));
      json.push_back(buffer);
    } else if (flag == "--copy") {
      size_t bytes = std::stoull(value());
      std::vector<char> a(bytes, 1), b(bytes, 2);
      double s = BestSecondsPerCall([&] {
        std::memcpy(b.data(), a.data(), bytes);
        sink = b[bytes / 2];
      });
      std::snprintf(buffer, sizeof buffer,
                    "\"copy_%zu\": {\"bytes\": %zu, \"seconds\": %.6e, \"stream_copy_gbytes_per_s\": %.2f}", bytes,
                    bytes, s, 2.0 * bytes / s / 1e9);
      json.push_back(buffer);
    } else if (flag == "--read") {
      size_t bytes = std::stoull(value());
      auto random = RandomFloats(bytes / 4, 6);
      // On the pages the plugins' tables get (read_loop.h), not a std::vector's.
      float *data = static_cast<float *>(recsys_bench_alloc_table(random.size() * sizeof(float)));
      if (data == nullptr) throw std::runtime_error("--read: cannot allocate the buffer");
      std::memcpy(data, random.data(), random.size() * sizeof(float));
      bool wide = __builtin_cpu_supports("avx512f");
      double s = BestSecondsPerCall([&] {
        sink = wide ? recsys_read_sum_avx512(data, random.size()) : recsys_read_sum(data, random.size());
      });
      std::free(data);
      std::snprintf(buffer, sizeof buffer, "\"read_%zu\": {\"bytes\": %zu, \"seconds\": %.6e, \"gbytes_per_s\": %.2f}",
                    bytes, bytes, s, double(bytes) / s / 1e9);
      json.push_back(buffer);
    } else if (flag == "--calls") {
      fixed_calls = std::stol(value());
    } else if (flag == "--plugin-threads") {
      plugin_threads = std::max(1, std::stoi(value()));
    } else if (flag == "--plugin") {
      PluginCase c = RunPlugin(value());
      std::string error;
      for (char ch : c.error) error += (ch == '"' || ch == '\\') ? '\'' : ch;
      std::snprintf(buffer, sizeof buffer,
                    "\"plugin_%s\": {\"seconds_per_call\": %.6e, \"result_count\": %zu, \"requests\": %zu, "
                    "\"threads\": %d, \"error\": \"%s\"}",
                    c.name.c_str(), c.seconds_per_call, c.result_count, c.request_count, plugin_threads, error.c_str());
      json.push_back(buffer);
    } else {
      std::fprintf(stderr, "kernels: unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  std::printf("{");
  for (size_t i = 0; i < json.size(); ++i) std::printf("%s%s", i ? ", " : "", json[i].c_str());
  std::printf("}\n");
  return 0;
}
