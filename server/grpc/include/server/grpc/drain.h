// Drain: the one place that decides what a call meets while the server stops gracefully, so
// that every call gets either its full answer or UNAVAILABLE (which clients retry), never
// CANCELLED.
//
// Why it is more than "refuse new calls, wait, then grpc::Server::Shutdown": gRPC cancels
// (CANCELLED, not retried by clients) every call that reaches the server after Shutdown began
// and before the client has read the GOAWAY that Shutdown sends (grpc core zombifies calls
// arriving once its shutdown flag is set). A closed-loop client refused with UNAVAILABLE sends
// its next call at once, so under load some calls always fall into that window. Hence:
//
//   1. Refusing: new calls are answered UNAVAILABLE at once; admitted ones run to the end.
//   2. Holding: once none is running, new calls are held unanswered until none arrived for
//      `quiet` (at most `max_hold`): a closed-loop client then waits on held calls and sends
//      nothing new, so nothing is in the window.
//   3. gRPC's Shutdown begins on its own thread (the port closes, GOAWAY goes out); after
//      `goaway_grace` the held calls are answered UNAVAILABLE. The client reads the GOAWAY
//      before those answers (same connection, in order) and sends its next call elsewhere:
//      another replica, or a closed port, which it sees as UNAVAILABLE too.
//
// A held call whose deadline comes within `deadline_margin` is answered UNAVAILABLE at once
// rather than let it expire. Every wait is bounded by the drain's deadline; what still runs at
// the deadline is cancelled by gRPC.
//
// Unary RPCs call Admit first and Done once answered. A streaming RPC would Admit when it
// opens, Done when it ends, and end itself with UNAVAILABLE between messages once
// draining() is true.
#ifndef TCONV_SERVER_GRPC_DRAIN_H_
#define TCONV_SERVER_GRPC_DRAIN_H_

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/time/time.h"

namespace tconv::server {

class Drain {
 public:
  struct Timing {
    // Closed-loop clients answer an UNAVAILABLE in well under a millisecond on loopback and a
    // few on a network; 50 ms without a new call means they are all waiting.
    absl::Duration quiet = absl::Milliseconds(50);
    absl::Duration max_hold = absl::Seconds(1);  // for clients that never stop sending
    // From the start of gRPC's Shutdown until its GOAWAY is surely written ahead of the
    // answers to the held calls (it is queued at once; this covers a busy machine).
    absl::Duration goaway_grace = absl::Milliseconds(100);
    absl::Duration deadline_margin = absl::Milliseconds(50);
  };
  // Called exactly once with the UNAVAILABLE answer of a call that is not served.
  using Refuse = absl::AnyInvocable<void(absl::Status) &&>;

  Drain() : Drain(Timing{}) {}
  explicit Drain(Timing timing) : timing_(timing) {}
  Drain(const Drain&) = delete;
  Drain& operator=(const Drain&) = delete;

  // For every call that does work, first. true: serve it and call Done() once it is answered.
  // false: the server is draining and `refuse` has been called, or will be (held calls), on
  // this or another thread. `call_deadline` is the client's deadline.
  bool Admit(absl::Time call_deadline, Refuse refuse);
  void Done();
  // Admitted calls not yet Done.
  int64_t InFlight() const;
  bool draining() const;

  // Step 1 alone: from now on new calls are refused (Server::StartDraining).
  void StartRefusing();
  // The whole drain (steps 1 to 3); `stop_transport` runs gRPC's Shutdown (on a thread of its
  // own) and returns once every call has ended. Returns after it did.
  void Run(absl::Time deadline, absl::AnyInvocable<void()> stop_transport);

 private:
  enum class Phase { kServing, kRefusing, kHolding, kReleased };
  struct Held {
    absl::Time deadline;
    Refuse refuse;
  };
  // Answers the held calls whose deadline is before `before`; all of them without it.
  void ReleaseHeld(std::optional<absl::Time> before);
  void HoldUntilQuiet(absl::Time deadline);

  const Timing timing_;
  mutable std::mutex mu_;
  std::condition_variable idle_;  // in_flight_ fell to 0
  Phase phase_ ABSL_GUARDED_BY(mu_) = Phase::kServing;
  int64_t in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<Held> held_ ABSL_GUARDED_BY(mu_);
  absl::Time last_arrival_ ABSL_GUARDED_BY(mu_);
};

// The status of a call refused while draining.
absl::Status DrainingError();

}  // namespace tconv::server

#endif  // TCONV_SERVER_GRPC_DRAIN_H_
