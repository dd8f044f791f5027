// The two ways a batcher's answer skips work: the rows written straight into the caller's
// output_buffer instead of being copied out of InferenceResult::output, and a request to an
// idle layer run on the submitting thread (inline_when_idle) instead of handed to a worker.
// Both are checked bit for bit against the same layer run on the request alone. The fixture,
// BatcherTest, and the rest of request handling are in batcher_test_util.h and batcher_test.cc.
#include <cstdint>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

#include "absl/time/time.h"
#include "absl/types/span.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/core/batcher.h"
#include "tests/server/core/batcher_test_util.h"

namespace tconv::server {
namespace {

// Requests with an output_buffer get their rows there, bit for bit as alone, whether merged
// with others (with and without buffers) or run alone; `output` then stays empty.
TEST_P(BatcherTest, OutputBuffersGetTheirOwnRows) {
  auto batcher = MakeBatcher(32, absl::ZeroDuration());
  Gate gate;
  auto blockers = OccupyWorkers(*batcher, gate);
  constexpr int kRequests = 3;
  std::vector<InferenceRequest> requests;
  std::vector<std::shared_ptr<std::vector<float>>> buffers;
  std::vector<AnswerPtr> answers;
  for (int i = 0; i < kRequests; ++i) {
    requests.push_back(RandomRequest({1 + i, 4, 4, 3}, i));
    auto buffer = std::make_shared<std::vector<float>>();
    if (i != 1) {  // the middle one has none: its rows come in `output`
      requests.back().output_buffer = [buffer](int64_t values) {
        buffer->resize(values);
        return absl::MakeSpan(*buffer);
      };
    }
    buffers.push_back(buffer);
    answers.push_back(Submit(*batcher, requests.back()));
  }
  ASSERT_TRUE(observer_.WaitForDepth(6));  // all queued behind the blockers: one merged run
  gate.Open();
  for (const auto& blocker : blockers) ASSERT_TRUE(blocker->Wait());
  // Answered before the lone one is sent, so that it cannot join their batch.
  for (const auto& answer : answers) ASSERT_TRUE(answer->Wait());
  InferenceRequest lone = RandomRequest({2, 4, 4, 3}, 9);
  auto lone_buffer = std::make_shared<std::vector<float>>();
  lone.output_buffer = [lone_buffer](int64_t values) {
    lone_buffer->resize(values);
    return absl::MakeSpan(*lone_buffer);
  };
  requests.push_back(lone);
  buffers.push_back(lone_buffer);
  answers.push_back(Submit(*batcher, lone));
  for (size_t i = 0; i < answers.size(); ++i) {
    ASSERT_TRUE(answers[i]->Wait());
    ASSERT_TRUE(answers[i]->result.ok()) << answers[i]->result.status();
    const Expected expected = RunAlone(*layer_, requests[i]);
    const bool buffered = static_cast<bool>(requests[i].output_buffer);
    EXPECT_EQ(answers[i]->result->output_in_buffer, buffered) << i;
    const std::vector<float>& got = buffered ? *buffers[i] : answers[i]->result->output;
    if (buffered) {
      EXPECT_TRUE(answers[i]->result->output.empty()) << i;
    }
    ASSERT_EQ(got.size(), expected.output.size()) << i;
    EXPECT_EQ(std::memcmp(got.data(), expected.output.data(), got.size() * sizeof(float)), 0)
        << "request " << i << ": rows differ from running it alone";
  }
  EXPECT_THAT(observer_.Batches(), ::testing::Contains(BatchRecord{6, kRequests}));
}

// With inline_when_idle, a request to an idle layer runs on the submitting thread: answered
// before Submit returns, with the same bits as a worker's run of it alone.
TEST_P(BatcherTest, InlineWhenIdleAnswersOnTheSubmittingThread) {
  BatchExecutor::Options inline_options = ExecutorOptions(GetParam());
  inline_options.inline_when_idle = true;
  executor_ = BatchExecutor::Create(inline_options).value();
  auto batcher = MakeBatcher(32, absl::ZeroDuration());
  const InferenceRequest request = RandomRequest({2, 4, 4, 3}, 1);
  AnswerPtr answer = Submit(*batcher, request);
  EXPECT_TRUE(answer->done.HasBeenNotified()) << "not answered inline";
  ExpectRowsOfAlone(*answer, *layer_, request, /*batch_size=*/2);
  EXPECT_THAT(observer_.Batches(), ::testing::ElementsAre(BatchRecord{2, 1}));
}

// While a request runs inline, others queue for the workers (and are batched) instead of
// running inline too.
TEST_P(BatcherTest, InlineRunLeavesLaterRequestsToTheWorkers) {
  BatchExecutor::Options inline_options = ExecutorOptions(GetParam());
  inline_options.inline_when_idle = true;
  executor_ = BatchExecutor::Create(inline_options).value();
  auto batcher = MakeBatcher(32, absl::ZeroDuration());
  Gate gate;
  InferenceRequest held = RandomRequest({1, 4, 4, 3}, 1);
  held.is_cancelled = gate.Blocker();
  AnswerPtr held_answer;
  std::thread holder([&] { held_answer = Submit(*batcher, held); });  // runs inline, held
  ASSERT_TRUE(gate.WaitEntered(1));
  const InferenceRequest later = RandomRequest({1, 4, 4, 3}, 2);
  AnswerPtr later_answer = Submit(*batcher, later);
  ExpectRowsOfAlone(*later_answer, *layer_, later);  // a worker ran it while `held` waits
  gate.Open();
  holder.join();
  ExpectRowsOfAlone(*held_answer, *layer_, held, /*batch_size=*/1);
}

INSTANTIATE_TEST_SUITE_P(ExecutorThreads, BatcherTest, ::testing::Values(1, 2),
                         ExecutorThreadsName);

}  // namespace
}  // namespace tconv::server
