#include "server/grpc/drain.h"

#include <algorithm>
#include <iterator>
#include <optional>
#include <thread>
#include <utility>

#include "absl/synchronization/notification.h"

namespace tconv::server {

absl::Status DrainingError() {
  return absl::UnavailableError("the server is shutting down: retry (another replica, or later)");
}

bool Drain::Admit(absl::Time call_deadline, Refuse refuse) {
  {
    std::lock_guard lock(mu_);
    switch (phase_) {
      case Phase::kServing:
        ++in_flight_;
        return true;
      case Phase::kHolding:
        last_arrival_ = absl::Now();
        held_.push_back({call_deadline, std::move(refuse)});
        return false;
      case Phase::kRefusing:
      case Phase::kReleased:
        break;
    }
  }
  std::move(refuse)(DrainingError());
  return false;
}

void Drain::Done() {
  std::lock_guard lock(mu_);
  if (--in_flight_ == 0) idle_.notify_all();
}

int64_t Drain::InFlight() const {
  std::lock_guard lock(mu_);
  return in_flight_;
}

bool Drain::draining() const {
  std::lock_guard lock(mu_);
  return phase_ != Phase::kServing;
}

void Drain::StartRefusing() {
  std::lock_guard lock(mu_);
  if (phase_ == Phase::kServing) phase_ = Phase::kRefusing;
}

void Drain::ReleaseHeld(std::optional<absl::Time> before) {
  std::vector<Held> due;
  {
    std::lock_guard lock(mu_);
    auto keep = std::partition(held_.begin(), held_.end(), [before](const Held& held) {
      return before && held.deadline >= *before;
    });
    std::move(keep, held_.end(), std::back_inserter(due));
    held_.erase(keep, held_.end());
  }
  // Outside the lock: finishing a call may run gRPC code.
  for (Held& held : due) std::move(held.refuse)(DrainingError());
}

void Drain::HoldUntilQuiet(absl::Time deadline) {
  const absl::Time start = absl::Now();
  const absl::Time hold_until = std::min(start + timing_.max_hold, deadline);
  {
    std::lock_guard lock(mu_);
    phase_ = Phase::kHolding;
    last_arrival_ = start;
  }
  constexpr absl::Duration kPoll = absl::Milliseconds(5);
  while (true) {
    const absl::Time now = absl::Now();
    {
      std::lock_guard lock(mu_);
      if (now - last_arrival_ >= timing_.quiet || now >= hold_until) return;
    }
    ReleaseHeld(now + timing_.deadline_margin);
    absl::SleepFor(kPoll);
  }
}

void Drain::Run(absl::Time deadline, absl::AnyInvocable<void()> stop_transport) {
  StartRefusing();
  {
    std::unique_lock lock(mu_);
    const auto idle = [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return in_flight_ == 0; };
    // wait_until(time_point::max()) overflows in libstdc++'s clock conversion.
    if (deadline == absl::InfiniteFuture()) {
      idle_.wait(lock, idle);
    } else {
      idle_.wait_until(lock, absl::ToChronoTime(deadline), idle);
    }
  }
  HoldUntilQuiet(deadline);
  // The grace counts from when the transport stop really begins: on a busy machine the new
  // thread may start milliseconds after it is created.
  absl::Notification stopping;
  std::thread transport([&stopping, stop = std::move(stop_transport)]() mutable {
    stopping.Notify();
    std::move(stop)();
  });
  stopping.WaitForNotificationWithDeadline(deadline);
  const absl::Time release_at = std::min(absl::Now() + timing_.goaway_grace, deadline);
  while (absl::Now() < release_at) {
    ReleaseHeld(absl::Now() + timing_.deadline_margin);
    absl::SleepFor(std::min(absl::Milliseconds(5), release_at - absl::Now()));
  }
  {
    std::lock_guard lock(mu_);
    phase_ = Phase::kReleased;  // from now on refused at once
  }
  ReleaseHeld(std::nullopt);
  transport.join();
}

}  // namespace tconv::server
