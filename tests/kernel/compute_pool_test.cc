// ComputePool::Create's limits and AvailableCpus, with the cgroup quota parsing fed any text
// through the seam in kernel/src/parallel.h.
#include "tconv/kernel/compute_pool.h"

#include <sched.h>

#include <fstream>
#include <sstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "parallel.h"
#include "testing/status_matchers.h"

namespace tconv {
namespace {

using ::tconv::testing::StatusIs;
using ::testing::HasSubstr;

struct CgroupCase {
  const char* name;
  const char* cpu_max;       // cgroup v2
  const char* cfs_quota_us;  // cgroup v1
  const char* cfs_period_us;
  int cpus;  // 0 = no limit
};

class CgroupCpuLimitTest : public ::testing::TestWithParam<CgroupCase> {};

TEST_P(CgroupCpuLimitTest, ParsesTheQuota) {
  const CgroupCase& c = GetParam();
  EXPECT_EQ(internal::CgroupCpuLimit(c.cpu_max, c.cfs_quota_us, c.cfs_period_us), c.cpus);
}

INSTANTIATE_TEST_SUITE_P(
    Files, CgroupCpuLimitTest,
    ::testing::Values(CgroupCase{"V2Unlimited", "max 100000\n", "", "", 0},
                      CgroupCase{"V2TwoCpus", "200000 100000\n", "", "", 2},
                      CgroupCase{"V2RoundsUp", "150000 100000\n", "", "", 2},
                      CgroupCase{"V2LessThanOneIsOne", "5000 100000\n", "", "", 1},
                      CgroupCase{"V2OtherPeriod", "300000 50000", "", "", 6},
                      CgroupCase{"V2ZeroPeriod", "100000 0\n", "", "", 0},
                      CgroupCase{"V2NegativeQuota", "-1 100000\n", "", "", 0},
                      CgroupCase{"V2GarbageQuota", "abc 100000\n", "", "", 0},
                      CgroupCase{"V2QuotaWithTrailingText", "12abc 100000\n", "", "", 0},
                      CgroupCase{"V2AbsurdQuota", "1e300 1\n", "", "", 0},
                      CgroupCase{"V2WinsOverV1", "100000 100000\n", "400000\n", "100000\n", 1},
                      CgroupCase{"V2UnlimitedWinsOverV1", "max 100000\n", "400000\n", "100000\n",
                                 0},
                      CgroupCase{"V1ThreeCpus", "", "300000\n", "100000\n", 3},
                      CgroupCase{"V1RoundsUp", "", "250000\n", "100000\n", 3},
                      CgroupCase{"V1Unlimited", "", "-1\n", "100000\n", 0},
                      CgroupCase{"V1NoPeriod", "", "100000\n", "", 0},
                      CgroupCase{"V1ZeroPeriod", "", "100000\n", "0\n", 0},
                      CgroupCase{"V2UnreadableFallsBackToV1", "garbage", "200000\n", "100000\n", 2},
                      CgroupCase{"NoFiles", "", "", "", 0}),
    [](const auto& param_info) { return std::string(param_info.param.name); });

std::string Read(const char* path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(AvailableCpusTest, IsAtLeastOneAndAtMostTheAffinityMaskAndTheQuota) {
  const int cpus = AvailableCpus();
  EXPECT_GE(cpus, 1);
  cpu_set_t mask;
  CPU_ZERO(&mask);
  ASSERT_EQ(sched_getaffinity(0, sizeof(mask), &mask), 0);
  EXPECT_LE(cpus, CPU_COUNT(&mask));
  const int quota = internal::CgroupCpuLimit(Read("/sys/fs/cgroup/cpu.max"),
                                             Read("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"),
                                             Read("/sys/fs/cgroup/cpu/cpu.cfs_period_us"));
  if (quota > 0) {
    EXPECT_LE(cpus, quota);
  }
  if (quota == 0 || quota >= CPU_COUNT(&mask)) {
    EXPECT_EQ(cpus, CPU_COUNT(&mask));
  }
}

TEST(ComputePoolTest, CreateRefusesThreadCountsOutsideZeroTo1024) {
  EXPECT_THAT(ComputePool::Create({-1}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("threads must be between 0 (= available CPUs) and 1024, got -1")));
  EXPECT_THAT(ComputePool::Create({1025}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("got 1025")));
}

TEST(ComputePoolTest, CreateTakesTheBoundsAndZeroMeansAvailableCpus) {
  for (const int threads : {1, 3, 1024}) {
    auto pool = ComputePool::Create({threads});
    ASSERT_OK(pool);
    EXPECT_EQ((*pool)->threads(), threads);
  }
  auto automatic = ComputePool::Create({0});
  ASSERT_OK(automatic);
  EXPECT_EQ((*automatic)->threads(), AvailableCpus());
  EXPECT_EQ(ComputePool::Default().threads(), AvailableCpus());
}

}  // namespace
}  // namespace tconv
