// Admits Recommend and ModelAdmin calls until the server starts draining, and counts the
// admitted ones until grpc is done with them; private to the shim.
//
// Why not grpc's Shutdown alone: grpc cancels (CANCELLED, which clients do not retry) every
// call it has received but not yet handed to a handler, and under load calls wait in its queue
// for a callback thread. So a drain refuses new calls itself (UNAVAILABLE, which clients retry
// elsewhere), lets the admitted ones finish, waits for refused clients to go quiet, and only
// then shuts grpc down, with nothing left in its queues.
#ifndef RECSYS_SHIM_CALL_GATE_H
#define RECSYS_SHIM_CALL_GATE_H

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>

namespace recsys_shim {

class CallGate final {
 public:
  using Clock = std::chrono::system_clock;

  struct Counts {
    uint64_t admitted = 0;
    uint64_t refused = 0;
    uint64_t running_at_deadline = 0;
  };

  // True: the call is admitted and counts until Leave. False: the server is draining; the
  // caller finishes the call UNAVAILABLE.
  bool Enter() noexcept;
  // Once per admitted call, when grpc is done with it (its reactor's OnDone).
  void Leave() noexcept;

  // From now on Enter refuses.
  void StartDraining() noexcept;
  // Blocks until no admitted call is left and no call was refused for `quiet`, or until
  // `deadline`; true if the server went idle.
  bool WaitUntilIdle(Clock::time_point deadline, std::chrono::milliseconds quiet) noexcept;

  Counts counts() noexcept;

 private:
  std::mutex mutex_;
  std::condition_variable idle_;
  int64_t running_ = 0;                  // guarded by mutex_
  bool draining_ = false;                // guarded by mutex_
  Clock::time_point last_refusal_{};     // guarded by mutex_
  Counts counts_;                        // guarded by mutex_
};

}  // namespace recsys_shim

#endif  // RECSYS_SHIM_CALL_GATE_H
