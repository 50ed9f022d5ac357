// The drain gate; call_gate.h says why it exists. No C++ exception leaves this file.
#include "call_gate.h"

#include <algorithm>

namespace recsys_shim {

bool CallGate::Enter() noexcept {
  std::lock_guard<std::mutex> lock(mutex_);
  if (draining_) {
    last_refusal_ = Clock::now();
    ++counts_.refused;
    return false;
  }
  ++running_;
  ++counts_.admitted;
  return true;
}

void CallGate::Leave() noexcept {
  bool idle;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    idle = --running_ == 0 && draining_;
  }
  if (idle) idle_.notify_all();
}

void CallGate::StartDraining() noexcept {
  std::lock_guard<std::mutex> lock(mutex_);
  draining_ = true;
  // At least one quiet period from now: calls already on their way get refused, not cancelled.
  last_refusal_ = Clock::now();
}

bool CallGate::WaitUntilIdle(Clock::time_point deadline, std::chrono::milliseconds quiet) noexcept {
  std::unique_lock<std::mutex> lock(mutex_);
  while (true) {
    const Clock::time_point now = Clock::now();
    const Clock::time_point quiet_until = last_refusal_ + quiet;
    if (running_ == 0 && now >= quiet_until) return true;
    if (now >= deadline) {
      counts_.running_at_deadline = static_cast<uint64_t>(running_);
      return false;
    }
    // Running calls notify when the last one leaves; a quiet period just elapses.
    idle_.wait_until(lock, running_ == 0 ? std::min(quiet_until, deadline) : deadline);
  }
}

CallGate::Counts CallGate::counts() noexcept {
  std::lock_guard<std::mutex> lock(mutex_);
  return counts_;
}

}  // namespace recsys_shim
