// The thread that raises cancellation flags; cancellation_watch.h says why it exists.
// No C++ exception leaves this file except std::system_error from the constructor.
#include "cancellation_watch.h"

#include <algorithm>

#include "recsys_shim.h"

namespace recsys_shim {

int32_t CancellationWatch::Call::reason() const {
  if (__atomic_load_n(&flag_, __ATOMIC_ACQUIRE) == 0) return RS_STATUS_OK;
  return reason_.load(std::memory_order_relaxed);
}

void CancellationWatch::Call::Cancel(int32_t reason) {
  if (flag_ != 0) return;
  reason_.store(reason, std::memory_order_relaxed);
  // Release: whoever sees the flag also sees the reason.
  __atomic_store_n(&flag_, 1, __ATOMIC_RELEASE);
}

bool CancellationWatch::Call::CheckNow(Clock::time_point now) {
  if (flag_ != 0) return true;
  // The deadline first: grpc cancels an expired call too, and the caller should hear why.
  if (now >= deadline_) {
    Cancel(RS_STATUS_DEADLINE_EXCEEDED);
  } else if (context_ != nullptr && context_->IsCancelled()) {
    Cancel(deadline_ - now <= kDeadlineSlack ? RS_STATUS_DEADLINE_EXCEEDED : RS_STATUS_CANCELLED);
  }
  return flag_ != 0;
}

CancellationWatch::CancellationWatch() {
  // Room for the usual number of concurrent calls, so Add rarely allocates under the lock.
  calls_.reserve(1024);
  thread_ = std::thread([this] { Run(); });
}

CancellationWatch::~CancellationWatch() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
}

bool CancellationWatch::Add(Call &call) noexcept {
  bool wake = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    try {
      calls_.push_back(&call);
    } catch (...) {
      return false;
    }
    call.slot_ = calls_.size() - 1;
    // Wake the thread only if it would sleep past what this call needs: under load it is
    // already due within kPollInterval, so a call costs a lock, not a context switch.
    const Clock::time_point needed = std::min(call.deadline_, Clock::now() + kPollInterval);
    if (needed < planned_wake_) {
      planned_wake_ = needed;
      wake = true;
    }
  }
  if (wake) wake_.notify_one();
  return true;
}

void CancellationWatch::Remove(Call &call) noexcept {
  std::lock_guard<std::mutex> lock(mutex_);
  // Swap with the last: O(1), order does not matter.
  Call *last = calls_.back();
  calls_[call.slot_] = last;
  last->slot_ = call.slot_;
  calls_.pop_back();
}

void CancellationWatch::Run() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stopping_) {
    if (calls_.empty()) {
      planned_wake_ = Clock::time_point::max();
      wake_.wait(lock, [this] { return stopping_ || !calls_.empty(); });
      continue;
    }
    // Calls are removed only under the lock, so every context here is alive: its handler
    // has not returned yet.
    const Clock::time_point now = Clock::now();
    Clock::time_point next = now + kPollInterval;
    for (Call *call : calls_) {
      if (!call->CheckNow(now)) next = std::min(next, call->deadline_);
    }
    planned_wake_ = next;
    wake_.wait_until(lock, next);
  }
}

}  // namespace recsys_shim
