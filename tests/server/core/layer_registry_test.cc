#include "server/core/layer_registry.h"

#include <atomic>
#include <future>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tconv::server {
namespace {

// Counts live instances and remembers the thread that destroyed the last one, so tests can
// see when and where an entry really died.
std::atomic<int> live_batchers{0};

class CountingBatcher : public Batcher {
 public:
  explicit CountingBatcher(int64_t tag) {
    options_.max_batch_size = tag;
    ++live_batchers;
  }
  ~CountingBatcher() override {
    --live_batchers;
    destroyed_on = std::this_thread::get_id();
  }
  void Submit(InferenceRequest, InferenceCallback done) override {
    std::move(done)(absl::UnimplementedError("test batcher"));
  }
  const BatchingOptions& options() const override { return options_; }
  static inline std::atomic<std::thread::id> destroyed_on;

 private:
  BatchingOptions options_;
};

// An entry whose fields agree with each other: a reader that sees them disagree has seen a
// torn or destroyed entry.
std::shared_ptr<const ServedLayer> MakeEntry(const std::string& name, int64_t version) {
  auto entry = std::make_shared<ServedLayer>();
  entry->info.name = name;
  entry->info.in_channels = version;
  entry->info.weight_checksum = static_cast<uint64_t>(version) * 7919;
  entry->batcher = std::make_unique<CountingBatcher>(version);
  return entry;
}

TEST(LayerRegistryTest, PutFindReplaceRemove) {
  LayerRegistry registry;
  EXPECT_EQ(registry.Find("a"), nullptr);
  EXPECT_EQ(registry.Put(MakeEntry("b", 1)), nullptr);
  EXPECT_EQ(registry.Put(MakeEntry("a", 2)), nullptr);
  ASSERT_NE(registry.Find("a"), nullptr);
  EXPECT_EQ(registry.Find("a")->info.in_channels, 2);

  auto replaced = registry.Put(MakeEntry("a", 3));
  ASSERT_NE(replaced, nullptr);
  EXPECT_EQ(replaced->info.in_channels, 2);
  EXPECT_EQ(registry.Find("a")->info.in_channels, 3);

  const auto all = registry.List();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0]->info.name, "a");
  EXPECT_EQ(all[1]->info.name, "b");

  EXPECT_EQ(registry.Remove("a")->info.in_channels, 3);
  EXPECT_EQ(registry.Remove("a"), nullptr);
  EXPECT_EQ(registry.Find("a"), nullptr);
  EXPECT_EQ(registry.List().size(), 1u);
}

TEST(LayerRegistryTest, RetireWaitsForHoldersAndDestroysOnItsOwnThread) {
  LayerRegistry registry;
  const int live_before = live_batchers;
  registry.Put(MakeEntry("x", 1));
  std::shared_ptr<const ServedLayer> held = registry.Find("x");
  std::atomic<bool> released{false};
  std::promise<void> retiring;
  std::thread retirer([&] {
    auto entry = registry.Remove("x");
    retiring.set_value();
    RetireWhenUnused(std::move(entry));
    // Destroyed only after the holder let go, and here rather than on the holder's thread.
    EXPECT_TRUE(released.load());
    EXPECT_EQ(CountingBatcher::destroyed_on.load(), std::this_thread::get_id());
  });
  retiring.get_future().wait();
  // No sleep to give the retirer a chance to destroy too early: it checks, once it returns,
  // that it did so after `released` and on its own thread, which fails for any early return.
  EXPECT_EQ(live_batchers, live_before + 1);  // still alive: we hold it
  EXPECT_EQ(held->batcher->options().max_batch_size, 1);
  released = true;
  held.reset();
  retirer.join();
  EXPECT_EQ(live_batchers, live_before);
}

// Readers look layers up and use them while writers create, replace and delete the same
// names. Readers must only ever see whole, live entries of the name they asked for; at the end
// every retired entry is destroyed. Bounded by iteration counts; meant for TSan and ASan.
TEST(LayerRegistryTest, ConcurrentLookupsWhileCreatingReplacingDeleting) {
  constexpr int kNames = 4;
  constexpr int kReaders = 4;
  constexpr int kWriters = 2;
  constexpr int kWriterIterations = 300;
  LayerRegistry registry;
  const int live_before = live_batchers;
  std::atomic<int> writers_done{0};
  std::atomic<int64_t> hits{0};
  std::atomic<int> bad{0};
  std::vector<std::thread> threads;
  for (int r = 0; r < kReaders; ++r) {
    threads.emplace_back([&, r] {
      for (int64_t i = 0; writers_done < kWriters || i < 1000; ++i) {
        const std::string name = "layer" + std::to_string((i + r) % kNames);
        const std::shared_ptr<const ServedLayer> entry = registry.Find(name);
        if (entry == nullptr) continue;
        const int64_t version = entry->info.in_channels;
        if (entry->info.name != name || entry->info.weight_checksum != uint64_t(version) * 7919 ||
            entry->batcher->options().max_batch_size != version) {
          ++bad;
        }
        ++hits;
      }
    });
  }
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      std::mt19937 random(1234 + w);  // replicable
      for (int i = 0; i < kWriterIterations; ++i) {
        const std::string name = "layer" + std::to_string(random() % kNames);
        if (random() % 3 == 0) {
          RetireWhenUnused(registry.Remove(name));
        } else {
          RetireWhenUnused(registry.Put(MakeEntry(name, 1 + w * kWriterIterations + i)));
        }
      }
      ++writers_done;
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(bad, 0);
  EXPECT_GT(hits, 0);
  EXPECT_EQ(live_batchers, live_before + static_cast<int>(registry.List().size()));
}

}  // namespace
}  // namespace tconv::server
