// The batcher's set-up and tear-down, apart from request traffic: option validation, refused
// creation, the last request's callback destroying the batcher, and the merged-run limits of the
// batch queue (white-box). Request handling is in batcher_test.cc, output buffers and inline
// runs in batcher_buffer_and_inline_test.cc.
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/core/batch_queue.h"
#include "server/core/batcher.h"
#include "testing/status_matchers.h"
#include "tests/server/core/batcher_test_util.h"

namespace tconv::server {
namespace {

using ::tconv::testing::StatusIs;
using ::testing::HasSubstr;

// A server may keep a layer's batcher alive through the callbacks of its requests; the last
// callback then destroys the batcher, and with it the executor, on a batch worker thread.
TEST(BatcherLifetimeTest, LastCallbackMayDestroyTheBatcherAndTheExecutor) {
  for (int threads : {1, 2}) {
    SCOPED_TRACE(absl::StrCat("executor threads ", threads));
    auto layer = MakeLayer(kChannelsLastLayer, kInChannels);
    std::shared_ptr<Batcher> batcher =
        Batcher::Create({}, "gen", layer, BatchExecutor::Create(ExecutorOptions(threads)).value(),
                        nullptr)
            .value();
    Batcher& raw = *batcher;
    const InferenceRequest request = RandomRequest({2, 4, 4, 3}, 1);
    auto answer = std::make_shared<Answer>();
    raw.Submit(request, [answer, keep = std::move(batcher)](auto result) {
      answer->result = std::move(result);
      answer->done.Notify();
    });
    ExpectRowsOfAlone(*answer, *layer, request, 2);
    // The batcher's queue held the last other reference to the layer.
    for (int i = 0; i < 3000 && layer.use_count() > 1; ++i) absl::SleepFor(absl::Milliseconds(10));
    EXPECT_EQ(layer.use_count(), 1) << "the batcher was not destroyed";
  }
}

// White-box: merging must keep the merged tensor within the kernel's limits, which each
// request passed alone. Shapes are claimed, not allocated: TakeBatch does not read inputs.
TEST(BatchQueueTest, MergedRunStaysWithinTensorLimits) {
  BatchingOptions options;
  options.max_batch_size = 4096;
  options.batch_timeout = absl::Seconds(10);
  options.max_queue_size = 1'000'000;
  internal::BatchQueue queue(options, "gen", MakeLayer(kChannelsLastLayer, kInChannels), nullptr);
  const absl::Time now = absl::Now();
  auto push = [&](int64_t examples) {
    internal::QueuedRequest queued;
    queued.request.shape = {examples, 512, 512, 3};
    queued.output_shape = {examples, 1024, 1024, 1};  // 2^20 elements: 1024 examples at most
    queued.done = [](absl::StatusOr<InferenceResult>) {};
    queued.accepted = now;
    queue.Push(std::move(queued));
  };
  push(600);
  EXPECT_EQ(queue.ReadyTime(), now + absl::Seconds(10));
  push(600);
  EXPECT_EQ(queue.ReadyTime(), now) << "1200 examples exceed what one run may hold";
  push(400);
  internal::Batch first = queue.TakeBatch(now);
  ASSERT_EQ(first.requests.size(), 1u);
  EXPECT_EQ(first.requests[0].request.shape[0], 600);
  internal::Batch second = queue.TakeBatch(now);
  EXPECT_EQ(second.requests.size(), 2u) << "600 + 400 fit in 1024";
  EXPECT_EQ(queue.ReadyTime(), absl::InfiniteFuture());
}

TEST(BatchingOptionsTest, ValidateNamesTheFieldAndValue) {
  EXPECT_OK(BatchingOptions{}.Validate());
  BatchingOptions options;
  options.max_batch_size = 0;
  EXPECT_THAT(options.Validate(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("max_batch_size must be in [1, 4096], got 0")));
  options = {};
  options.max_batch_size = 4097;
  EXPECT_THAT(options.Validate(), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("4097")));
  options = {};
  options.batch_timeout = absl::Milliseconds(-1);
  EXPECT_THAT(options.Validate(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("batch_timeout")));
  options = {};
  options.batch_timeout = absl::Seconds(11);
  EXPECT_THAT(options.Validate(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("got 11s")));
  options = {};
  options.max_queue_size = 0;
  EXPECT_THAT(options.Validate(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("max_queue_size")));
}

TEST(BatcherCreateTest, RefusesBadArguments) {
  auto executor = BatchExecutor::Create(ExecutorOptions(1)).value();
  auto layer = MakeLayer(kChannelsLastLayer, kInChannels);
  BatchingOptions bad;
  bad.max_queue_size = -3;
  EXPECT_THAT(Batcher::Create(bad, "gen", layer, executor, nullptr),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("got -3")));
  EXPECT_THAT(Batcher::Create({}, "gen", nullptr, executor, nullptr),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(BatchExecutor::Create(ExecutorOptions(-1)),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace tconv::server
