#include "server/core/layer_manager.h"

#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tconv/repository/layer_name.h"
#include "testing/status_matchers.h"
#include "tests/server/core/layer_manager_test_util.h"

namespace tconv::server {
namespace {

using ::tconv::server::testing::Expected;
using ::tconv::server::testing::Fnv1a;
using ::tconv::server::testing::InferSync;
using ::tconv::server::testing::MakeManager;
using ::tconv::server::testing::RecordingObserver;
using ::tconv::server::testing::Request;
using ::tconv::server::testing::SeededSpec;
using ::tconv::server::testing::TempDir;
using ::tconv::server::testing::WeightsFnv;
using ::tconv::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr auto kInvalid = absl::StatusCode::kInvalidArgument;
constexpr auto kNotFound = absl::StatusCode::kNotFound;

std::string FolderBytes(const std::string& folder) {
  std::string all;
  for (const char* file : {"config.json", "kernel.npy", "bias.npy"}) {
    std::stringstream buffer;
    buffer << std::ifstream(folder + "/" + file, std::ios::binary).rdbuf();
    all += std::string(file) + ":" + buffer.str();
  }
  return all;
}

TEST(LayerManagerTest, Fnv1aMatchesPublishedVectors) {
  EXPECT_EQ(Fnv1a(""), 0xcbf29ce484222325ull);
  EXPECT_EQ(Fnv1a("a"), 0xaf63dc4c8601ec8cull);
  EXPECT_EQ(Fnv1a("foobar"), 0x85944171f73967e8ull);
}

TEST(LayerManagerTest, CreateGetInferListDelete) {
  TempDir dir;
  RecordingObserver observer;
  auto manager = MakeManager(dir.path(), &observer);
  const absl::Time before = absl::Now();
  auto info = manager->CreateLayer(SeededSpec("gen1", 7));
  ASSERT_OK(info);
  EXPECT_EQ(info->name, "gen1");
  EXPECT_EQ(info->in_channels, 3);
  EXPECT_THAT(info->kernel_shape, ElementsAre(3, 3, 4, 3));
  EXPECT_EQ(info->config.filters, 4);
  EXPECT_GE(info->created, before);
  EXPECT_EQ(info->batching.max_batch_size, BatchingOptions{}.max_batch_size);
  EXPECT_EQ(observer.added("gen1"), 1);

  auto layer = manager->FindLayer("gen1");
  ASSERT_OK(layer);
  EXPECT_EQ(info->weight_checksum, WeightsFnv((*layer)->weights()));
  // The weights are the initializers' for that seed.
  const LayerWeights drawn = InitializeWeights((*layer)->config(), 3, /*seed=*/7).value();
  EXPECT_EQ((*layer)->weights().kernel, drawn.kernel);

  auto result = InferSync(*manager, "gen1", Request(1));
  ASSERT_OK(result);
  EXPECT_EQ(result->output, Expected(**layer, Request(1)));
  EXPECT_THAT(result->shape, ElementsAre(2, 10, 8, 4));

  EXPECT_THAT(manager->GetLayer("gen1"), ::tconv::testing::IsOkAndHolds(::testing::Field(
                                             &LayerInfo::weight_checksum, info->weight_checksum)));
  ASSERT_OK(manager->CreateLayer(SeededSpec("a0", 8)));
  std::vector<std::string> names;
  for (const LayerInfo& listed : manager->ListLayers()) names.push_back(listed.name);
  EXPECT_THAT(names, ElementsAre("a0", "gen1"));

  ASSERT_OK(manager->DeleteLayer("gen1"));
  EXPECT_EQ(observer.removed("gen1"), 1);
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/gen1"));
  EXPECT_THAT(manager->GetLayer("gen1"), StatusIs(kNotFound, HasSubstr("'gen1'")));
  EXPECT_THAT(InferSync(*manager, "gen1", Request(1)), StatusIs(kNotFound));
  EXPECT_THAT(manager->DeleteLayer("gen1"), StatusIs(kNotFound));
}

TEST(LayerManagerTest, UnknownNamesAreNotFound) {
  TempDir dir;
  auto manager = MakeManager(dir.path());
  EXPECT_THAT(manager->GetLayer("nope"), StatusIs(kNotFound, HasSubstr("layer 'nope' not found")));
  EXPECT_THAT(manager->FindLayer("nope"), StatusIs(kNotFound));
  EXPECT_THAT(manager->DeleteLayer("nope"), StatusIs(kNotFound));
  EXPECT_THAT(manager->Unload("nope"), StatusIs(kNotFound));
  EXPECT_THAT(manager->LoadFromRepository("nope"), StatusIs(kNotFound, HasSubstr("folder")));
  EXPECT_THAT(InferSync(*manager, "nope", Request(1)), StatusIs(kNotFound));
}

// Every entry point applies the one name rule before anything else; the name in the message
// is cut.
TEST(LayerManagerTest, InvalidNamesAreInvalidArgumentEverywhere) {
  TempDir dir;
  auto manager = MakeManager(dir.path());
  for (const std::string& name : {std::string(10240, 'n'), std::string("../up"), std::string()}) {
    const auto invalid = StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(kLayerNameRule));
    EXPECT_THAT(manager->CreateLayer(SeededSpec(name, 1)), invalid);
    EXPECT_THAT(manager->GetLayer(name), invalid);
    EXPECT_THAT(manager->FindLayer(name), invalid);
    EXPECT_THAT(manager->DeleteLayer(name), invalid);
    EXPECT_THAT(manager->Unload(name), invalid);
    EXPECT_THAT(manager->LoadFromRepository(name), invalid);
    const auto inferred = InferSync(*manager, name, Request(1));
    EXPECT_THAT(inferred, invalid);
    EXPECT_LT(inferred.status().message().size(), 300u);
  }
  EXPECT_TRUE(manager->Repository().empty());
}

TEST(LayerManagerTest, CreateOfExistingNameNeedsReplace) {
  TempDir dir;
  auto manager = MakeManager(dir.path());
  auto first = manager->CreateLayer(SeededSpec("x", 1));
  ASSERT_OK(first);
  EXPECT_THAT(manager->CreateLayer(SeededSpec("x", 2)),
              StatusIs(absl::StatusCode::kAlreadyExists, HasSubstr("'x' already exists")));
  EXPECT_THAT(manager->GetLayer("x"), ::tconv::testing::IsOkAndHolds(::testing::Field(
                                          &LayerInfo::weight_checksum, first->weight_checksum)));
  auto second = manager->CreateLayer(SeededSpec("x", 2, /*replace=*/true));
  ASSERT_OK(second);
  EXPECT_NE(second->weight_checksum, first->weight_checksum);
  EXPECT_EQ(manager->GetLayer("x")->weight_checksum, second->weight_checksum);
  EXPECT_EQ(manager->ListLayers().size(), 1u);
}

struct BadSpec {
  const char* name;
  std::function<void(LayerSpec&)> change;
  const char* message;
};

void PrintTo(const BadSpec& bad, std::ostream* os) { *os << bad.name; }

std::vector<BadSpec> BadSpecs() {
  return {
      {"EmptyName", [](LayerSpec& s) { s.name = ""; }, "name '' is not a valid layer name"},
      {"SlashInName", [](LayerSpec& s) { s.name = "a/b"; }, "name 'a/b'"},
      {"HiddenName", [](LayerSpec& s) { s.name = ".x"; }, "name '.x'"},
      {"ConfigNotJson", [](LayerSpec& s) { s.config_json = "{"; }, "config_json: "},
      {"ConfigZeroFilters",
       [](LayerSpec& s) { s.config_json = R"({"filters": 0, "kernel_size": 3})"; },
       "config_json: "},
      {"NoInChannels", [](LayerSpec& s) { s.in_channels = 0; }, "in_channels must be in [1, "},
      {"BiasWithoutKernel",
       [](LayerSpec& s) {
         s.bias = {1, 2, 3, 4};
       },
       "kernel is empty but kernel_shape or bias is given"},
      {"KernelShapeRank3",
       [](LayerSpec& s) {
         s.kernel_shape = {3, 3, 4};
         s.kernel.assign(36, 0.5f);
       },
       "kernel_shape (3, 3, 4) does not fit the config"},
      {"KernelShapeWrongFilters",
       [](LayerSpec& s) {
         s.kernel_shape = {3, 3, 5, 3};
         s.kernel.assign(135, 0.5f);
       },
       "expected (kh, kw, filters, in_channels) = (3, 3, 4, C)"},
      {"KernelCount",
       [](LayerSpec& s) {
         s.kernel_shape = {3, 3, 4, 3};
         s.kernel.assign(100, 0.5f);
       },
       "kernel has 100 values, kernel_shape (3, 3, 4, 3) needs 108"},
      {"InChannelsMismatch",
       [](LayerSpec& s) {
         s.kernel_shape = {3, 3, 4, 2};
         s.kernel.assign(72, 0.5f);
         s.bias.assign(4, 0.0f);
         s.in_channels = 3;
       },
       "in_channels 3 does not match kernel_shape (3, 3, 4, 2)"},
      {"BiasCount",
       [](LayerSpec& s) {
         s.kernel_shape = {3, 3, 4, 3};
         s.kernel.assign(108, 0.5f);
         s.bias.assign(3, 0.0f);
       },
       "bias"},
      {"NanKernel",
       [](LayerSpec& s) {
         s.kernel_shape = {3, 3, 4, 3};
         s.kernel.assign(108, 0.5f);
         s.kernel[50] = std::nanf("");
         s.bias.assign(4, 0.0f);
       },
       "kernel"},
      {"BatchingZero",
       [](LayerSpec& s) {
         s.batching = BatchingOptions{};
         s.batching->max_batch_size = 0;
       },
       "batching: "},
  };
}

class LayerManagerBadSpecTest : public ::testing::TestWithParam<BadSpec> {};

// Every refusal is INVALID_ARGUMENT naming the field, and leaves the existing layer (same
// name, `replace` set) and its files exactly as they were.
TEST_P(LayerManagerBadSpecTest, IsRefusedAndChangesNothing) {
  TempDir dir;
  auto manager = MakeManager(dir.path());
  auto existing = manager->CreateLayer(SeededSpec("keep", 3));
  ASSERT_OK(existing);
  const std::string files_before = FolderBytes(dir.path() + "/keep");

  LayerSpec spec = SeededSpec("keep", 4, /*replace=*/true);
  GetParam().change(spec);
  EXPECT_THAT(manager->CreateLayer(spec), StatusIs(kInvalid, HasSubstr(GetParam().message)));

  EXPECT_EQ(FolderBytes(dir.path() + "/keep"), files_before);
  EXPECT_EQ(manager->GetLayer("keep")->weight_checksum, existing->weight_checksum);
  EXPECT_EQ(manager->ListLayers().size(), 1u);
  EXPECT_OK(InferSync(*manager, "keep", Request(2)));
  std::vector<std::string> entries;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    entries.push_back(entry.path().filename().string());
  }
  EXPECT_THAT(entries, ElementsAre("keep"));  // no temp folder, no new layer
}

INSTANTIATE_TEST_SUITE_P(Specs, LayerManagerBadSpecTest, ::testing::ValuesIn(BadSpecs()),
                         [](const auto& param_info) { return std::string(param_info.param.name); });

TEST(LayerManagerTest, ExplicitWeightsAreServedAsGiven) {
  TempDir dir;
  auto manager = MakeManager(dir.path());
  LayerSpec spec = SeededSpec("w", 0);
  spec.in_channels = 0;  // taken from kernel_shape
  spec.kernel_shape = {3, 3, 4, 2};
  spec.kernel = testing::RandomInput(72, 11);
  spec.bias = {0.25f, -0.5f, 1.0f, 0.0f};
  spec.batching = BatchingOptions{4, absl::Microseconds(100), 16};
  const LayerWeights given{spec.kernel, spec.bias};
  auto info = manager->CreateLayer(spec);
  ASSERT_OK(info);
  EXPECT_EQ(info->in_channels, 2);
  EXPECT_EQ(info->weight_checksum, WeightsFnv(given));
  EXPECT_EQ(info->batching.max_batch_size, 4);
  EXPECT_EQ(manager->FindLayer("w").value()->weights().bias, given.bias);
}

TEST(LayerManagerTest, DrainingRefusesNewRequests) {
  TempDir dir;
  auto manager = MakeManager(dir.path());
  ASSERT_OK(manager->CreateLayer(SeededSpec("d", 1)));
  ASSERT_OK(InferSync(*manager, "d", Request(1)));
  manager->StartDraining();
  EXPECT_THAT(InferSync(*manager, "d", Request(1)),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("shutting down")));
  EXPECT_OK(manager->GetLayer("d"));  // metadata still answers
}

// Inference threads keep calling one layer while it is replaced with new weights and other
// layers come and go. No request may fail, and each answer must be exactly what one of the
// versions computes (old until the swap, new after). Bounded in count.
TEST(LayerManagerTest, ReplaceNeverFailsRequestsInFlight) {
  constexpr int kVersions = 6;
  constexpr int kThreads = 3;
  TempDir dir;
  auto manager = MakeManager(dir.path());
  std::vector<std::vector<float>> expected;
  for (int v = 0; v < kVersions; ++v) {
    LayerConfig config = LayerConfig::FromJson(testing::kConfig).value();
    auto layer = Conv2DTranspose::Create(config, 3, InitializeWeights(config, 3, 100 + v).value());
    expected.push_back(Expected(**layer, Request(5)));
  }
  ASSERT_OK(manager->CreateLayer(SeededSpec("hot", 100)));
  std::atomic<bool> stop{false};
  std::atomic<int> failures{0}, wrong{0}, answered{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 2000 && !stop; ++i) {
        auto result = InferSync(*manager, "hot", Request(5));
        if (!result.ok()) {
          ++failures;
          ADD_FAILURE() << result.status();
          continue;
        }
        ++answered;
        if (std::find(expected.begin(), expected.end(), result->output) == expected.end()) ++wrong;
      }
    });
  }
  for (int v = 1; v < kVersions; ++v) {
    ASSERT_OK(manager->CreateLayer(SeededSpec("hot", 100 + v, /*replace=*/true)));
    ASSERT_OK(manager->CreateLayer(SeededSpec("other", v, /*replace=*/true)));
    ASSERT_OK(manager->DeleteLayer("other"));
  }
  stop = true;
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures, 0);
  EXPECT_EQ(wrong, 0);
  EXPECT_GT(answered, 0);
  EXPECT_EQ(InferSync(*manager, "hot", Request(5))->output, expected.back());
}

}  // namespace
}  // namespace tconv::server
