// Drain's decisions without a network: served, refused at once, or held until the transport
// stops and then answered UNAVAILABLE (drain_test.cc checks the same end to end under load).
#include <atomic>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"
#include "server/grpc/drain.h"

namespace tconv::server {
namespace {

// Fast timings so that the test takes milliseconds.
Drain::Timing Fast() {
  Drain::Timing timing;
  timing.quiet = absl::Milliseconds(20);
  timing.max_hold = absl::Milliseconds(500);
  timing.goaway_grace = absl::Milliseconds(30);
  timing.deadline_margin = absl::Milliseconds(50);
  return timing;
}

// Records the refusal of one call.
struct Refusal {
  std::atomic<int> calls{0};
  std::atomic<int> code{-1};
  std::atomic<int64_t> at_ns{0};
  Drain::Refuse Callback() {
    return [this](absl::Status status) {
      calls.fetch_add(1);
      code.store(static_cast<int>(status.code()));
      at_ns.store(absl::ToUnixNanos(absl::Now()));
    };
  }
};

TEST(DrainLogicTest, ServesUntilDrainingThenRefusesAtOnce) {
  Drain drain(Fast());
  Refusal refusal;
  EXPECT_FALSE(drain.draining());
  EXPECT_TRUE(drain.Admit(absl::InfiniteFuture(), refusal.Callback()));
  EXPECT_EQ(drain.InFlight(), 1);
  drain.Done();
  EXPECT_EQ(drain.InFlight(), 0);
  EXPECT_EQ(refusal.calls.load(), 0);

  drain.StartRefusing();
  EXPECT_TRUE(drain.draining());
  EXPECT_FALSE(drain.Admit(absl::InfiniteFuture(), refusal.Callback()));
  EXPECT_EQ(refusal.calls.load(), 1);
  EXPECT_EQ(refusal.code.load(), static_cast<int>(absl::StatusCode::kUnavailable));
  EXPECT_EQ(drain.InFlight(), 0);
}

// The order that keeps clients out of gRPC's cancelling window: the in-flight call finishes,
// a call arriving then is held, the transport stop starts, and only after it the held call is
// answered UNAVAILABLE.
TEST(DrainLogicTest, RunWaitsForInFlightHoldsNewCallsAndAnswersThemAfterTheTransportStops) {
  Drain drain(Fast());
  ASSERT_TRUE(drain.Admit(absl::InfiniteFuture(), [](absl::Status) { FAIL(); }));
  std::atomic<int64_t> transport_stop_ns{0};
  absl::Notification transport_may_return;
  Refusal held;
  std::thread run([&] {
    drain.Run(absl::Now() + absl::Seconds(10), [&] {
      transport_stop_ns.store(absl::ToUnixNanos(absl::Now()));
      transport_may_return.WaitForNotificationWithTimeout(absl::Seconds(10));
    });
  });
  absl::SleepFor(absl::Milliseconds(50));
  EXPECT_EQ(transport_stop_ns.load(), 0) << "stopped the transport with a call in flight";
  drain.Done();  // the in-flight call is answered
  absl::SleepFor(absl::Milliseconds(5));
  EXPECT_FALSE(drain.Admit(absl::InfiniteFuture(), held.Callback()));
  EXPECT_EQ(held.calls.load(), 0) << "a call arriving now is held, not answered";
  const absl::Time until = absl::Now() + absl::Seconds(5);
  while (held.calls.load() == 0 && absl::Now() < until) absl::SleepFor(absl::Milliseconds(1));
  ASSERT_EQ(held.calls.load(), 1);
  EXPECT_EQ(held.code.load(), static_cast<int>(absl::StatusCode::kUnavailable));
  ASSERT_NE(transport_stop_ns.load(), 0);
  // About the grace after the stop began (the stop callback itself may be preempted for a few
  // milliseconds between the drain's start signal and its first line on a busy machine).
  EXPECT_GE(held.at_ns.load() - transport_stop_ns.load(),
            absl::ToInt64Nanoseconds(Fast().goaway_grace - absl::Milliseconds(5)));
  // Arriving after the release: refused at once.
  Refusal late;
  EXPECT_FALSE(drain.Admit(absl::InfiniteFuture(), late.Callback()));
  EXPECT_EQ(late.calls.load(), 1);
  transport_may_return.Notify();
  run.join();
}

TEST(DrainLogicTest, AHeldCallIsAnsweredBeforeItsDeadline) {
  Drain::Timing timing = Fast();
  timing.quiet = absl::Milliseconds(600);  // the hold outlasts the deadline
  timing.max_hold = absl::Milliseconds(600);
  Drain drain(timing);
  std::thread run([&] { drain.Run(absl::Now() + absl::Seconds(10), [] {}); });
  absl::SleepFor(absl::Milliseconds(30));  // now holding
  Refusal near;
  const absl::Time deadline = absl::Now() + absl::Milliseconds(200);
  EXPECT_FALSE(drain.Admit(deadline, near.Callback()));
  while (near.calls.load() == 0 && absl::Now() < deadline + absl::Seconds(1)) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  EXPECT_EQ(near.calls.load(), 1);
  EXPECT_LT(near.at_ns.load(), absl::ToUnixNanos(deadline)) << "answered after its deadline";
  run.join();
}

}  // namespace
}  // namespace tconv::server
