// Raises each running Recommend call's cancellation flag (rs_response_cancelled_flag) once the
// client cancels the call or its deadline passes; private to the shim.
//
// Why a thread: grpc tells a callback reactor about cancellation (OnCancel) only after the
// handler has returned the reactor, but Recommend scores inside the handler. So one thread per
// server watches the calls that are scoring: it wakes at the earliest deadline, and every
// kPollInterval while any call runs to ask grpc whether one was cancelled (the client went
// away, or a server shutdown gave up on it after its drain deadline).
#ifndef RECSYS_SHIM_CANCELLATION_WATCH_H
#define RECSYS_SHIM_CANCELLATION_WATCH_H

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

namespace recsys_shim {

class CancellationWatch final {
 public:
  using Clock = std::chrono::system_clock;  // grpc's deadlines are system_clock time points
  static constexpr std::chrono::milliseconds kPollInterval{2};
  // A client's deadline timer starts before ours (ours starts when the request arrives), and its
  // cancellation on expiry looks like any other: a cancellation this close to our deadline is
  // taken for the deadline.
  static constexpr std::chrono::milliseconds kDeadlineSlack{50};

  // One call's state; lives on the handler's stack while the handler runs.
  class Call final {
   public:
    explicit Call(const grpc::CallbackServerContext &context) : context_(&context), deadline_(context.deadline()) {}
    // A call outside any server (rs_recommend_serialized): no deadline, never cancelled.
    Call() : context_(nullptr), deadline_(Clock::time_point::max()) {}

    const volatile int32_t *flag() const { return &flag_; }
    // RS_STATUS_OK, RS_STATUS_DEADLINE_EXCEEDED or RS_STATUS_CANCELLED.
    int32_t reason() const;
    // Raises the flag now when the call is already over (an expired deadline, a cancelled
    // call); true if it did.
    bool CheckNow(Clock::time_point now);

   private:
    friend class CancellationWatch;
    void Cancel(int32_t reason);

    const grpc::CallbackServerContext *const context_;  // null outside a server
    const Clock::time_point deadline_;  // time_point::max() without a deadline
    // Written only by whoever watches the call (the handler before Add, the watch thread
    // after); read by the plugin on any thread. Set with a release store after `reason_`.
    volatile int32_t flag_ = 0;
    std::atomic<int32_t> reason_{0};
    size_t slot_ = 0;  // index in CancellationWatch::calls_ while watched
  };

  // Starts the thread (std::system_error if it cannot).
  CancellationWatch();
  ~CancellationWatch();
  CancellationWatch(const CancellationWatch &) = delete;
  CancellationWatch &operator=(const CancellationWatch &) = delete;

  // Watches `call` until Remove; false (the call then simply runs unwatched) only when out
  // of memory.
  bool Add(Call &call) noexcept;
  void Remove(Call &call) noexcept;

 private:
  void Run();

  std::mutex mutex_;
  std::condition_variable wake_;
  std::vector<Call *> calls_;                             // guarded by mutex_
  Clock::time_point planned_wake_ = Clock::time_point::max();  // guarded by mutex_
  bool stopping_ = false;                                 // guarded by mutex_
  std::thread thread_;                                    // last: starts once the rest exists
};

// Removes a call from its watch when the handler's scope ends, whatever way it ends.
class WatchedScope final {
 public:
  WatchedScope(CancellationWatch &watch, CancellationWatch::Call &call) noexcept
      : watch_(watch), call_(call), added_(watch.Add(call)) {}
  ~WatchedScope() {
    if (added_) watch_.Remove(call_);
  }
  WatchedScope(const WatchedScope &) = delete;
  WatchedScope &operator=(const WatchedScope &) = delete;

 private:
  CancellationWatch &watch_;
  CancellationWatch::Call &call_;
  const bool added_;
};

}  // namespace recsys_shim

#endif  // RECSYS_SHIM_CANCELLATION_WATCH_H
