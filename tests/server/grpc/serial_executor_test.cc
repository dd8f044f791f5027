#include "server/grpc/serial_executor.h"

#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tconv::server {
namespace {

// Work from several threads runs one at a time, each thread's in the order it was added, and
// the destructor runs whatever is still queued before it returns.
TEST(SerialExecutorTest, RunsEverythingInOrderOneAtATime) {
  std::vector<std::vector<int>> seen(3);
  int running = 0;
  int overlaps = 0;
  {
    SerialExecutor executor;
    std::vector<std::thread> producers;
    for (int t = 0; t < 3; ++t) {
      producers.emplace_back([&, t] {
        for (int i = 0; i < 200; ++i) {
          executor.Add([&, t, i] {
            overlaps += running++ != 0;
            seen[t].push_back(i);
            --running;
          });
        }
      });
    }
    for (auto& producer : producers) producer.join();
  }
  EXPECT_EQ(overlaps, 0);
  for (const auto& order : seen) {
    ASSERT_EQ(order.size(), 200u);
    for (int i = 0; i < 200; ++i) EXPECT_EQ(order[i], i);
  }
}

}  // namespace
}  // namespace tconv::server
