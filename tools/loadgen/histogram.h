// A latency histogram with HdrHistogram's semantics (log-linear buckets, bounded relative
// error, percentiles report the highest value equivalent to the recorded ones). Debian 12 has no
// HdrHistogram C/C++ library (`apt-cache search hdrhistogram`: only Go and Java), so this is
// the same bucketing written out: values are nanoseconds; below 2^kBits they are exact, above
// each power of two is split into 2^(kBits-1) equal sub-buckets, so a reported value is at most
// 2^-(kBits-1) = 0.2 % above the true one.
#ifndef RECSYS_LOADGEN_HISTOGRAM_H
#define RECSYS_LOADGEN_HISTOGRAM_H

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

namespace loadgen {

class Histogram {
 public:
  static constexpr int kBits = 10;                 // sub-bucket resolution: 2^-(kBits-1) relative
  static constexpr int kBuckets = 64 - kBits + 1;  // covers every uint64 value
  static constexpr int64_t kHalf = int64_t{1} << (kBits - 1);

  Histogram() : counts_(static_cast<size_t>((kBuckets + 1) * kHalf), 0) {}

  void Record(int64_t nanoseconds) {
    uint64_t value = nanoseconds < 0 ? 0 : static_cast<uint64_t>(nanoseconds);
    ++counts_[Index(value)];
    ++total_;
    max_ = std::max(max_, value);
    min_ = std::min(min_, value);
    sum_ += static_cast<double>(value);
  }

  void Add(const Histogram &other) {
    for (size_t i = 0; i < counts_.size(); ++i) counts_[i] += other.counts_[i];
    total_ += other.total_;
    max_ = std::max(max_, other.max_);
    min_ = std::min(min_, other.min_);
    sum_ += other.sum_;
  }

  uint64_t Count() const { return total_; }
  uint64_t Max() const { return total_ ? max_ : 0; }
  uint64_t Min() const { return total_ ? min_ : 0; }
  double Mean() const { return total_ ? sum_ / static_cast<double>(total_) : 0.0; }

  // The value at `percentile` (0..100]: the highest value equivalent to the recorded value that
  // the ceil(percentile% of count)-th smallest recording fell into, capped at the maximum.
  uint64_t ValueAtPercentile(double percentile) const {
    if (total_ == 0) return 0;
    double fraction = std::min(std::max(percentile, 0.0), 100.0) / 100.0;
    uint64_t rank = std::max<uint64_t>(1, static_cast<uint64_t>(std::ceil(fraction * static_cast<double>(total_))));
    uint64_t seen = 0;
    for (size_t i = 0; i < counts_.size(); ++i) {
      seen += counts_[i];
      if (seen >= rank) return std::min(HighestEquivalent(i), max_);
    }
    return max_;
  }

 private:
  static int MostSignificantBit(uint64_t value) { return 63 - __builtin_clzll(value | 1); }

  // Bucket b = 0 holds 0 .. 2^kBits - 1 exactly (index = value); bucket b >= 1 holds
  // [2^(kBits-1+b), 2^(kBits+b)) in kHalf steps of 2^b.
  static size_t Index(uint64_t value) {
    int bucket = std::max(0, MostSignificantBit(value) - (kBits - 1));
    uint64_t sub = value >> bucket;
    if (bucket == 0) return static_cast<size_t>(sub);
    return static_cast<size_t>(2 * kHalf + (bucket - 1) * kHalf + (sub - kHalf));
  }

  static uint64_t HighestEquivalent(size_t index) {
    if (index < static_cast<size_t>(2 * kHalf)) return index;
    int64_t bucket = (static_cast<int64_t>(index) - 2 * kHalf) / kHalf + 1;
    uint64_t sub = static_cast<uint64_t>((static_cast<int64_t>(index) - 2 * kHalf) % kHalf + kHalf);
    return ((sub + 1) << bucket) - 1;
  }

  std::vector<uint64_t> counts_;
  uint64_t total_ = 0;
  uint64_t max_ = 0;
  uint64_t min_ = UINT64_MAX;
  double sum_ = 0;
};

}  // namespace loadgen

#endif  // RECSYS_LOADGEN_HISTOGRAM_H
