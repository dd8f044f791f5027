// Short critical sections: a delete or unload drains the removed layer's batcher after it
// stops holding the manager's write lock, so reads and other layers' changes never wait for it.
#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/core/layer_manager.h"
#include "testing/event.h"
#include "testing/status_matchers.h"
#include "tests/server/core/layer_manager_test_util.h"

namespace tconv::server {
namespace {

using ::tconv::server::testing::Expected;
using ::tconv::server::testing::InferSync;
using ::tconv::server::testing::MakeManager;
using ::tconv::server::testing::RecordingObserver;
using ::tconv::server::testing::Request;
using ::tconv::server::testing::SeededSpec;
using ::tconv::testing::Gate;
using ::tconv::testing::kWait;
using ::tconv::testing::StatusIs;
using ::tconv::testing::TempDir;
using ::testing::ElementsAre;

struct Answer {
  ::tconv::testing::Event done;
  absl::StatusOr<InferenceResult> result = absl::UnknownError("not answered");
};

// Sends `name` a request whose batch the gate holds at its start (is_cancelled blocks), so
// that the layer's batcher cannot drain until the gate opens.
std::shared_ptr<Answer> InferHeld(LayerManager& manager, const std::string& name, Gate& gate) {
  InferenceRequest held = Request(3);
  held.is_cancelled = gate.Blocker();
  auto answer = std::make_shared<Answer>();
  manager.Infer(name, held, [answer](absl::StatusOr<InferenceResult> result) {
    answer->result = std::move(result);
    answer->done.Notify();
  });
  return answer;
}

// Waits (bounded) until `name` is no longer served: the remover has taken it out of the
// registry and is now waiting for its batcher.
bool WaitUntilGone(LayerManager& manager, const std::string& name) {
  const auto until = std::chrono::steady_clock::now() + kWait;
  while (std::chrono::steady_clock::now() < until) {
    if (absl::IsNotFound(manager.GetLayer(name).status())) return true;
    std::this_thread::yield();
  }
  return false;
}

bool Pending(const std::future<absl::Status>& future) {
  return future.wait_for(std::chrono::seconds(0)) == std::future_status::timeout;
}

// `remove` ("delete" or "unload") of a layer with a request held in its batcher; everything
// else is checked while it waits.
void CheckReadsDuringSlowRemoval(const std::string& remove) {
  TempDir dir;
  RecordingObserver observer;
  auto manager = MakeManager(dir.path(), &observer, /*inline_when_idle=*/false);
  ASSERT_OK(manager->CreateLayer(SeededSpec("slow", 1)));
  ASSERT_OK(manager->CreateLayer(SeededSpec("other", 2)));

  // A request on "slow" whose batch is held at its start by the gate: its batcher cannot drain.
  Gate gate;
  const std::shared_ptr<Answer> answer = InferHeld(*manager, "slow", gate);
  ASSERT_TRUE(gate.WaitEntered(1));

  std::future<absl::Status> removal = std::async(std::launch::async, [&] {
    return remove == "delete" ? manager->DeleteLayer("slow") : manager->Unload("slow");
  });
  ASSERT_TRUE(WaitUntilGone(*manager, "slow"));
  ASSERT_TRUE(Pending(removal)) << "the removal finished with its request still held";

  // Reads, inference on another layer and a create of another layer, on their own thread so
  // that a read blocked by the removal fails the test (after kWait) instead of hanging it.
  std::future<void> reads = std::async(std::launch::async, [&] {
    auto other = manager->GetLayer("other");
    ASSERT_OK(other);
    EXPECT_EQ(other->version, 1);
    std::vector<std::string> listed;
    for (const LayerInfo& info : manager->ListLayers()) listed.push_back(info.name);
    EXPECT_THAT(listed, ElementsAre("other"));
    std::vector<std::string> ready;
    for (const RepositoryEntry& entry : manager->Repository()) {
      if (entry.state == RepositoryEntry::State::kReady) ready.push_back(entry.name);
    }
    EXPECT_THAT(ready, ElementsAre("other"));
    const InferenceRequest request = Request(4);
    auto result = InferSync(*manager, "other", request);
    ASSERT_OK(result);
    auto layer = manager->FindLayer("other");
    ASSERT_OK(layer);
    EXPECT_EQ(result->output, Expected(**layer, request));
    EXPECT_OK(manager->CreateLayer(SeededSpec("third", 5)));
  });
  ASSERT_EQ(reads.wait_for(kWait), std::future_status::ready) << "a read waited for the removal";
  reads.get();
  EXPECT_TRUE(Pending(removal)) << "the reads did not run during the removal";
  EXPECT_EQ(observer.removed("slow"), 0) << "reported removed before its batcher drained";

  gate.Open();
  ASSERT_TRUE(answer->done.WaitForNotification());
  EXPECT_OK(answer->result);  // a removal does not fail a request it accepted
  ASSERT_EQ(removal.wait_for(kWait), std::future_status::ready);
  EXPECT_OK(removal.get());
  EXPECT_EQ(observer.removed("slow"), 1);
  EXPECT_THAT(manager->GetLayer("slow"), StatusIs(absl::StatusCode::kNotFound));
}

TEST(LayerManagerLockingTest, ReadsDoNotWaitForASlowDelete) {
  CheckReadsDuringSlowRemoval("delete");
}

TEST(LayerManagerLockingTest, ReadsDoNotWaitForASlowUnload) {
  CheckReadsDuringSlowRemoval("unload");
}

// A layer created again under a name still draining is reported added only after the old one
// was reported removed, so the exporter keeps its series.
TEST(LayerManagerLockingTest, RecreateDuringDrainIsReportedAfterTheRemoval) {
  TempDir dir;
  RecordingObserver observer;
  auto manager = MakeManager(dir.path(), &observer, /*inline_when_idle=*/false);
  ASSERT_OK(manager->CreateLayer(SeededSpec("gen", 1)));
  Gate gate;
  const std::shared_ptr<Answer> answer = InferHeld(*manager, "gen", gate);
  ASSERT_TRUE(gate.WaitEntered(1));
  std::future<absl::Status> removal =
      std::async(std::launch::async, [&] { return manager->DeleteLayer("gen"); });
  ASSERT_TRUE(WaitUntilGone(*manager, "gen"));
  std::future<absl::Status> recreate = std::async(
      std::launch::async, [&] { return manager->CreateLayer(SeededSpec("gen", 2)).status(); });
  gate.Open();
  ASSERT_EQ(removal.wait_for(kWait), std::future_status::ready);
  ASSERT_EQ(recreate.wait_for(kWait), std::future_status::ready);
  EXPECT_OK(removal.get());
  EXPECT_OK(recreate.get());
  ASSERT_TRUE(answer->done.WaitForNotification());
  EXPECT_OK(answer->result);
  EXPECT_EQ(observer.added("gen"), 2);
  EXPECT_EQ(observer.removed("gen"), 1);
  EXPECT_OK(manager->GetLayer("gen"));  // the removal's report did not undo the new layer
  EXPECT_EQ(manager->statistics().Get("gen").size(), 1u);
}

}  // namespace
}  // namespace tconv::server
