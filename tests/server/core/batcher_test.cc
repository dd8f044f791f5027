// The dynamic batcher against a real Conv2DTranspose layer: every answer is compared bit for
// bit with the same layer run on that request alone. Workers are held busy deterministically
// by "blocker" requests whose is_cancelled() waits on a gate, so merging, queue-full, deadline
// and cancellation cases do not depend on timing. Every wait is bounded. Where the rows go
// (output buffers) and which thread computes them (inline_when_idle) are tested in
// batcher_buffer_and_inline_test.cc; the fixture, BatcherTest, is batcher_test_util.h's.
#include "server/core/batcher.h"

#include <atomic>
#include <cstdint>
#include <memory>
#include <random>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/status_matchers.h"
#include "tests/server/core/batcher_test_util.h"

namespace tconv::server {
namespace {

using ::tconv::testing::StatusIs;
using ::testing::HasSubstr;

// Returns once `deadline` has passed (a deadline test has to let the time go by).
void WaitPast(absl::Time deadline) {
  while (absl::Now() <= deadline) absl::SleepFor(deadline - absl::Now() + absl::Microseconds(1));
}

TEST_P(BatcherTest, FullBatchOfConcurrentSubmittersIsOneRunWithEachCallersRows) {
  constexpr int kSubmitters = 8;
  // The 10 s window only closes early because the batch fills up: one run of all 8.
  auto batcher = MakeBatcher(kSubmitters, absl::Seconds(10));
  std::vector<InferenceRequest> requests;
  std::vector<AnswerPtr> answers(kSubmitters);
  for (int i = 0; i < kSubmitters; ++i) requests.push_back(RandomRequest({1, 4, 4, 3}, i));
  std::vector<std::thread> threads;
  for (int i = 0; i < kSubmitters; ++i) {
    threads.emplace_back([&, i] { answers[i] = Submit(*batcher, requests[i]); });
  }
  for (std::thread& thread : threads) thread.join();
  for (int i = 0; i < kSubmitters; ++i) {
    ExpectRowsOfAlone(*answers[i], *layer_, requests[i], kSubmitters);
  }
  EXPECT_THAT(observer_.Batches(), ::testing::ElementsAre(BatchRecord{kSubmitters, kSubmitters}));
  EXPECT_EQ(observer_.LastDepth(), 0);
}

TEST_P(BatcherTest, RequestsQueuedWhileWorkersAreBusyMergeWithoutTimeout) {
  auto batcher = MakeBatcher(32, absl::ZeroDuration());
  Gate gate;
  auto blockers = OccupyWorkers(*batcher, gate);
  // Requests of 1..3 examples from several threads; all wait because every worker is busy.
  constexpr int kRequests = 6;
  std::vector<InferenceRequest> requests;
  for (int i = 0; i < kRequests; ++i) requests.push_back(RandomRequest({1 + i % 3, 4, 4, 3}, i));
  std::vector<AnswerPtr> answers(kRequests);
  std::vector<std::thread> threads;
  for (int i = 0; i < kRequests; ++i) {
    threads.emplace_back([&, i] { answers[i] = Submit(*batcher, requests[i]); });
  }
  for (std::thread& thread : threads) thread.join();
  ASSERT_TRUE(observer_.WaitForDepth(12));  // 1+2+3+1+2+3 examples
  gate.Open();
  for (const auto& blocker : blockers) ASSERT_TRUE(blocker->Wait());
  for (int i = 0; i < kRequests; ++i) ExpectRowsOfAlone(*answers[i], *layer_, requests[i], 12);
  EXPECT_THAT(observer_.Batches(), ::testing::Contains(BatchRecord{12, kRequests}));
  EXPECT_EQ(observer_.LastDepth(), 0);
}

TEST_P(BatcherTest, FullQueueRefusesAtOnceAndKeepsServing) {
  auto batcher = MakeBatcher(32, absl::ZeroDuration(), /*max_queue_size=*/4);
  Gate gate;
  auto blockers = OccupyWorkers(*batcher, gate);
  std::vector<InferenceRequest> queued;
  std::vector<AnswerPtr> answers;
  for (int i = 0; i < 2; ++i) {
    queued.push_back(RandomRequest({2, 4, 4, 3}, i));
    answers.push_back(Submit(*batcher, queued.back()));
  }
  // Answered inline, before Submit returns: no waiting on a full queue.
  auto refused = Submit(*batcher, RandomRequest({1, 4, 4, 3}, 7));
  ASSERT_TRUE(refused->done.HasBeenNotified());
  EXPECT_THAT(refused->result, StatusIs(absl::StatusCode::kResourceExhausted,
                                        HasSubstr("queue of layer 'gen' is full: 4 of 4")));
  auto too_big = Submit(*batcher, RandomRequest({5, 4, 4, 3}, 8));
  ASSERT_TRUE(too_big->done.HasBeenNotified());
  EXPECT_THAT(too_big->result,
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("max_queue_size 4")));

  gate.Open();
  for (size_t i = 0; i < queued.size(); ++i) ExpectRowsOfAlone(*answers[i], *layer_, queued[i]);
  const InferenceRequest after = RandomRequest({3, 4, 4, 3}, 9);
  ExpectRowsOfAlone(*Submit(*batcher, after), *layer_, after, 3);
  for (const auto& blocker : blockers) ASSERT_TRUE(blocker->Wait());
  // One report per change (each blocker in and out, the two queued, their batch, `after`);
  // the refusals changed nothing.
  std::vector<int64_t> expected_depths;
  for (int i = 0; i < GetParam(); ++i) expected_depths.insert(expected_depths.end(), {1, 0});
  expected_depths.insert(expected_depths.end(), {2, 4, 0, 3, 0});
  EXPECT_EQ(observer_.Depths(), expected_depths);
}

TEST_P(BatcherTest, DeadlinePassedInQueueIsNotComputed) {
  auto batcher = MakeBatcher(32, absl::ZeroDuration());
  Gate gate;
  auto blockers = OccupyWorkers(*batcher, gate);
  InferenceRequest doomed = RandomRequest({5, 4, 4, 3}, 1);
  doomed.deadline = absl::Now() + absl::Milliseconds(20);
  auto answer = Submit(*batcher, doomed);
  ASSERT_TRUE(observer_.WaitForDepth(5));  // queued behind the blockers
  WaitPast(doomed.deadline);
  gate.Open();
  ASSERT_TRUE(answer->Wait());
  EXPECT_THAT(answer->result, StatusIs(absl::StatusCode::kDeadlineExceeded,
                                       HasSubstr("in the queue of layer 'gen'")));
  for (const auto& blocker : blockers) ASSERT_TRUE(blocker->Wait());
  // Only the one-example blockers were computed.
  for (const BatchRecord& batch : observer_.Batches()) EXPECT_EQ(batch.examples, 1);

  InferenceRequest late = RandomRequest({1, 4, 4, 3}, 2);
  late.deadline = absl::Now() - absl::Seconds(1);
  EXPECT_THAT(Submit(*batcher, late)->result, StatusIs(absl::StatusCode::kDeadlineExceeded));
}

TEST_P(BatcherTest, ExpiredRequestsTakeNoRoomInABatch) {
  auto batcher = MakeBatcher(4, absl::ZeroDuration());
  Gate gate;
  auto blockers = OccupyWorkers(*batcher, gate);
  InferenceRequest doomed = RandomRequest({3, 4, 4, 3}, 1);
  doomed.deadline = absl::Now() + absl::Milliseconds(20);
  auto doomed_answer = Submit(*batcher, doomed);
  const std::vector<InferenceRequest> live = {RandomRequest({1, 4, 4, 3}, 2),
                                              RandomRequest({2, 4, 4, 3}, 3)};
  auto first = Submit(*batcher, live[0]);
  auto second = Submit(*batcher, live[1]);
  ASSERT_TRUE(observer_.WaitForDepth(6));  // all three queued behind the blockers
  WaitPast(doomed.deadline);
  gate.Open();
  // 3 + 1 + 2 examples exceed max_batch_size 4, but the expired 3 are not run.
  ExpectRowsOfAlone(*first, *layer_, live[0], 3);
  ExpectRowsOfAlone(*second, *layer_, live[1], 3);
  EXPECT_THAT(doomed_answer->result, StatusIs(absl::StatusCode::kDeadlineExceeded));
  for (const auto& blocker : blockers) ASSERT_TRUE(blocker->Wait());
}

TEST_P(BatcherTest, CancelledRequestIsNotComputed) {
  auto batcher = MakeBatcher(32, absl::ZeroDuration());
  Gate gate;
  auto blockers = OccupyWorkers(*batcher, gate);
  auto cancelled = std::make_shared<std::atomic<bool>>(false);
  InferenceRequest dropped = RandomRequest({5, 4, 4, 3}, 1);
  dropped.is_cancelled = [cancelled] { return cancelled->load(); };
  const InferenceRequest kept = RandomRequest({2, 4, 4, 3}, 2);
  auto dropped_answer = Submit(*batcher, dropped);
  auto kept_answer = Submit(*batcher, kept);
  *cancelled = true;
  gate.Open();
  ASSERT_TRUE(dropped_answer->Wait());
  EXPECT_THAT(dropped_answer->result, StatusIs(absl::StatusCode::kCancelled));
  // Merged with the cancelled one in the queue, computed without it.
  ExpectRowsOfAlone(*kept_answer, *layer_, kept, 2);
  for (const auto& blocker : blockers) ASSERT_TRUE(blocker->Wait());
  for (const BatchRecord& batch : observer_.Batches()) EXPECT_NE(batch.examples, 7);
}

TEST_P(BatcherTest, DifferentInputSizesAreNotMergedButAllAnswered) {
  auto batcher = MakeBatcher(32, absl::ZeroDuration());
  Gate gate;
  auto blockers = OccupyWorkers(*batcher, gate);
  std::vector<InferenceRequest> requests;
  std::vector<AnswerPtr> answers;
  for (int i = 0; i < 6; ++i) {
    requests.push_back(i % 2 == 0 ? RandomRequest({1, 5, 5, 3}, i)
                                  : RandomRequest({2, 3, 6, 3}, i));
    answers.push_back(Submit(*batcher, requests.back()));
  }
  gate.Open();
  for (int i = 0; i < 6; ++i) {
    ExpectRowsOfAlone(*answers[i], *layer_, requests[i], i % 2 == 0 ? 3 : 6);
  }
  for (const auto& blocker : blockers) ASSERT_TRUE(blocker->Wait());
}

TEST_P(BatcherTest, RequestLargerThanMaxBatchSizeRunsAloneInOrder) {
  auto batcher = MakeBatcher(4, absl::ZeroDuration());
  Gate gate;
  auto blockers = OccupyWorkers(*batcher, gate);
  const std::vector<InferenceRequest> requests = {RandomRequest({1, 4, 4, 3}, 1),
                                                  RandomRequest({7, 4, 4, 3}, 2),
                                                  RandomRequest({3, 4, 4, 3}, 3)};
  std::vector<AnswerPtr> answers;
  for (const InferenceRequest& request : requests) answers.push_back(Submit(*batcher, request));
  gate.Open();
  // 1 + 7 would exceed 4, and 7 is never merged or split.
  ExpectRowsOfAlone(*answers[0], *layer_, requests[0], 1);
  ExpectRowsOfAlone(*answers[1], *layer_, requests[1], 7);
  ExpectRowsOfAlone(*answers[2], *layer_, requests[2], 3);
  for (const auto& blocker : blockers) ASSERT_TRUE(blocker->Wait());
}

TEST_P(BatcherTest, InvalidRequestsAreRefusedBeforeQueueing) {
  auto batcher = MakeBatcher(32, absl::Seconds(10));
  auto wrong_channels = Submit(*batcher, RandomRequest({1, 4, 4, 5}, 1));
  EXPECT_TRUE(wrong_channels->done.HasBeenNotified());
  EXPECT_THAT(wrong_channels->result, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Submit(*batcher, RandomRequest({0, 4, 4, 3}, 2))->result,
              StatusIs(absl::StatusCode::kInvalidArgument));
  InferenceRequest short_input = RandomRequest({2, 4, 4, 3}, 3);
  short_input.input.pop_back();
  EXPECT_THAT(Submit(*batcher, short_input)->result,
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("has 95 values")));
  EXPECT_TRUE(observer_.Depths().empty()) << "nothing may have been queued";
}

TEST_P(BatcherTest, DestructorRunsQueuedAndWaitsForInFlightRequests) {
  auto batcher = MakeBatcher(4, absl::Seconds(10));  // 3 queued examples would wait 10 s
  Gate gate;
  auto blockers = OccupyWorkers(*batcher, gate, /*examples=*/4);
  std::vector<InferenceRequest> requests;
  std::vector<AnswerPtr> answers;
  for (int i = 0; i < 3; ++i) {
    requests.push_back(RandomRequest({1, 4, 4, 3}, i));
    answers.push_back(Submit(*batcher, requests.back()));
  }
  std::thread destroyer([&] {
    batcher.reset();
    // Checked as it returns, not after a sleep: any return before the gate opened fails it.
    for (const auto& blocker : blockers) {
      EXPECT_TRUE(blocker->done.HasBeenNotified())
          << "returned while blockers were still in flight";
    }
  });
  for (const auto& answer : answers) EXPECT_TRUE(answer->Wait());  // run by the destructor
  gate.Open();
  destroyer.join();
  for (const auto& blocker : blockers) EXPECT_TRUE(blocker->done.HasBeenNotified());
  for (size_t i = 0; i < requests.size(); ++i) ExpectRowsOfAlone(*answers[i], *layer_, requests[i]);
}

TEST_P(BatcherTest, RefusesSubmissionsOnceDestructionStarted) {
  auto batcher = MakeBatcher(32, absl::Seconds(10));
  Batcher* raw = batcher.get();
  const InferenceRequest request = RandomRequest({1, 4, 4, 3}, 1);
  auto resubmitted = std::make_shared<Answer>();
  auto first = std::make_shared<Answer>();
  // Runs inside the destructor, which runs what is still queued: a new request is refused.
  raw->Submit(request, [=](absl::StatusOr<InferenceResult> result) {
    first->result = std::move(result);
    first->done.Notify();
    raw->Submit(request, [resubmitted](absl::StatusOr<InferenceResult> again) {
      resubmitted->result = std::move(again);
      resubmitted->done.Notify();
    });
  });
  batcher.reset();
  ExpectRowsOfAlone(*first, *layer_, request, 1);
  ASSERT_TRUE(resubmitted->done.HasBeenNotified());
  EXPECT_THAT(resubmitted->result,
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("takes no new requests")));
}

TEST_P(BatcherTest, ChannelsFirstRequestsMergeAlongTheBatchAxis) {
  layer_ = MakeLayer(kChannelsFirstLayer, kInChannels);
  auto batcher = MakeBatcher(32, absl::ZeroDuration());
  Gate gate;
  std::vector<AnswerPtr> blockers;
  for (int i = 0; i < GetParam(); ++i) {
    InferenceRequest request = RandomRequest({1, 3, 4, 4}, 900 + i);
    request.is_cancelled = gate.Blocker();
    blockers.push_back(Submit(*batcher, request));
    ASSERT_TRUE(gate.WaitEntered(i + 1));
  }
  std::vector<InferenceRequest> requests;
  std::vector<AnswerPtr> answers;
  for (int i = 0; i < 3; ++i) {
    requests.push_back(RandomRequest({i + 1, 3, 4, 4}, i));
    answers.push_back(Submit(*batcher, requests.back()));
  }
  gate.Open();
  for (int i = 0; i < 3; ++i) ExpectRowsOfAlone(*answers[i], *layer_, requests[i], 6);
  for (const auto& blocker : blockers) ASSERT_TRUE(blocker->Wait());
}

TEST_P(BatcherTest, ManySubmittersWithMixedShapesAllGetTheirOwnRows) {
  auto batcher = MakeBatcher(6, absl::Milliseconds(1), 4096);
  constexpr int kThreads = 6, kPerThread = 8;
  const uint32_t seed = ::testing::UnitTest::GetInstance()->random_seed();
  SCOPED_TRACE(absl::StrCat("reproduce with --gtest_random_seed=", seed));
  // Drawn and run alone up front, on this thread: short-lived threads entering TBB trip
  // ThreadSanitizer false positives inside the (uninstrumented) TBB library.
  std::vector<std::vector<InferenceRequest>> requests(kThreads);
  std::vector<std::vector<Expected>> expected(kThreads);
  std::mt19937 rng(seed);
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kPerThread; ++i) {
      const int64_t batch = 1 + rng() % 3;
      requests[t].push_back(rng() % 2 ? RandomRequest({batch, 4, 4, 3}, rng())
                                      : RandomRequest({batch, 2, 5, 3}, rng()));
      expected[t].push_back(RunAlone(*layer_, requests[t].back()));
    }
  }
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        ExpectRows(*Submit(*batcher, requests[t][i]), expected[t][i]);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  batcher.reset();
  EXPECT_EQ(observer_.LastDepth(), 0);
  int64_t computed = 0;
  for (const BatchRecord& batch : observer_.Batches()) computed += batch.requests;
  EXPECT_EQ(computed, kThreads * kPerThread);
}

INSTANTIATE_TEST_SUITE_P(ExecutorThreads, BatcherTest, ::testing::Values(1, 2),
                         ExecutorThreadsName);

}  // namespace
}  // namespace tconv::server
