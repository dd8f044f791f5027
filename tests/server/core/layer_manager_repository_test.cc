// LayerManager and its model repository: restarts, broken folders, hand-made folders and the
// OIP repository extension (load/unload).
#include <cstring>
#include <filesystem>
#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/core/layer_manager.h"
#include "tconv/repository/layer_name.h"
#include "testing/status_matchers.h"
#include "tests/server/core/layer_manager_test_util.h"

namespace tconv::server {
namespace {

namespace fs = std::filesystem;
using ::tconv::server::testing::Expected;
using ::tconv::server::testing::InferSync;
using ::tconv::server::testing::MakeManager;
using ::tconv::server::testing::RecordingObserver;
using ::tconv::server::testing::Request;
using ::tconv::server::testing::SeededSpec;
using ::tconv::server::testing::TempDir;
using ::tconv::server::testing::WeightsFnv;
using ::tconv::testing::StatusIs;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::HasSubstr;

using State = RepositoryEntry::State;

bool BitIdentical(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * 4) == 0);
}

void WriteFile(const std::string& path, const std::string& bytes) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

auto Entry(const std::string& name, State state, const std::string& reason) {
  return AllOf(Field(&RepositoryEntry::name, name), Field(&RepositoryEntry::state, state),
               Field(&RepositoryEntry::reason, HasSubstr(reason)));
}

TEST(LayerManagerRepositoryTest, RestartRestoresEveryLayerBitIdentically) {
  TempDir dir;
  std::vector<LayerInfo> before;
  std::vector<LayerWeights> weights_before;
  {
    auto manager = MakeManager(dir.path());
    LayerSpec explicit_weights = SeededSpec("explicit", 0);
    explicit_weights.config_json =
        R"({"class_name": "Conv2DTranspose", "config": {"filters": 2, "kernel_size": [2, 3],
            "use_bias": false, "data_format": "channels_first", "activation": "tanh"}})";
    explicit_weights.kernel_shape = {2, 3, 2, 5};
    explicit_weights.kernel = testing::RandomInput(60, 3);
    explicit_weights.kernel[0] = -0.0f;
    explicit_weights.in_channels = 0;
    ASSERT_OK(manager->CreateLayer(explicit_weights));
    LayerSpec batched = SeededSpec("batched", 9);
    batched.batching = BatchingOptions{3, absl::Microseconds(500), 7};
    ASSERT_OK(manager->CreateLayer(batched));
    ASSERT_OK(manager->CreateLayer(SeededSpec("seeded", 21)));
    before = manager->ListLayers();
    for (const LayerInfo& info : before) {
      weights_before.push_back(manager->FindLayer(info.name).value()->weights());
    }
  }
  auto manager = MakeManager(dir.path());
  const std::vector<LayerInfo> after = manager->ListLayers();
  ASSERT_EQ(after.size(), before.size());
  for (size_t i = 0; i < after.size(); ++i) {
    SCOPED_TRACE(before[i].name);
    EXPECT_EQ(after[i].name, before[i].name);
    EXPECT_TRUE(after[i].config == before[i].config) << after[i].config.ToJson();
    EXPECT_EQ(after[i].in_channels, before[i].in_channels);
    EXPECT_EQ(after[i].kernel_shape, before[i].kernel_shape);
    EXPECT_EQ(after[i].weight_checksum, before[i].weight_checksum);
    EXPECT_EQ(after[i].created, before[i].created);
    EXPECT_EQ(after[i].batching.max_batch_size, before[i].batching.max_batch_size);
    EXPECT_EQ(after[i].batching.batch_timeout, before[i].batching.batch_timeout);
    EXPECT_EQ(after[i].batching.max_queue_size, before[i].batching.max_queue_size);
    const LayerWeights& weights = manager->FindLayer(after[i].name).value()->weights();
    EXPECT_TRUE(BitIdentical(weights.kernel, weights_before[i].kernel));
    EXPECT_TRUE(BitIdentical(weights.bias, weights_before[i].bias));
  }
  EXPECT_THAT(manager->Repository(),
              ElementsAre(Entry("batched", State::kReady, ""), Entry("explicit", State::kReady, ""),
                          Entry("seeded", State::kReady, "")));
}

TEST(LayerManagerRepositoryTest, BrokenFoldersAreReportedAndSkipped) {
  TempDir dir;
  {
    auto manager = MakeManager(dir.path());
    for (const char* name : {"good", "nan", "short", "shape"}) {
      ASSERT_OK(manager->CreateLayer(SeededSpec(name, 1)));
    }
  }
  const std::string kernel_path = dir.path() + "/short/kernel.npy";
  fs::resize_file(kernel_path, fs::file_size(kernel_path) - 10);
  fs::copy_file(dir.path() + "/good/kernel.npy", dir.path() + "/shape/bias.npy",
                fs::copy_options::overwrite_existing);
  {  // NaN into the bias data (the last 4 floats of bias.npy)
    std::fstream bias(dir.path() + "/nan/bias.npy",
                      std::ios::in | std::ios::out | std::ios::binary);
    bias.seekp(-8, std::ios::end);
    const float nan = std::nanf("");
    bias.write(reinterpret_cast<const char*>(&nan), 4);
  }
  WriteFile(dir.path() + "/garbage/config.json", "not json at all");
  WriteFile(dir.path() + "/.tmp-crashed.1.0/config.json", "{");  // crash leftover

  RecordingObserver observer;
  auto manager = MakeManager(dir.path(), &observer);
  EXPECT_THAT(manager->Repository(),
              ElementsAre(Entry("garbage", State::kUnavailable, "config.json: not valid JSON"),
                          Entry("good", State::kReady, ""),
                          Entry("nan", State::kUnavailable, "bias.npy: element 2 is NaN"),
                          Entry("shape", State::kUnavailable, "bias.npy: shape (3, 3, 4, 3)"),
                          Entry("short", State::kUnavailable, "kernel.npy: truncated")));
  EXPECT_THAT(manager->Unserved(),
              ElementsAre(Entry("garbage", State::kUnavailable, "config.json: not valid JSON"),
                          Entry("nan", State::kUnavailable, "bias.npy: element 2 is NaN"),
                          Entry("shape", State::kUnavailable, "bias.npy: shape (3, 3, 4, 3)"),
                          Entry("short", State::kUnavailable, "kernel.npy: truncated")));
  EXPECT_EQ(observer.added("good"), 1);
  EXPECT_EQ(observer.added("nan"), 0);
  EXPECT_OK(InferSync(*manager, "good", Request(1)));
  EXPECT_THAT(InferSync(*manager, "nan", Request(1)),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("bias.npy: element 2 is NaN")));
  EXPECT_THAT(manager->GetLayer("short"),
              StatusIs(absl::StatusCode::kNotFound,
                       HasSubstr("in the model repository but not served: kernel.npy: truncated")));
  EXPECT_THAT(manager->GetLayer("absent"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("layer 'absent' not found")));
  EXPECT_FALSE(fs::exists(dir.path() + "/.tmp-crashed.1.0"));
  EXPECT_THAT(manager->LoadFromRepository("short"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("kernel.npy: truncated")));
  // Creating over a broken folder needs replace, and repairs it.
  EXPECT_THAT(manager->CreateLayer(SeededSpec("nan", 2)),
              StatusIs(absl::StatusCode::kAlreadyExists));
  ASSERT_OK(manager->CreateLayer(SeededSpec("nan", 2, /*replace=*/true)));
  EXPECT_OK(InferSync(*manager, "nan", Request(1)));
  // A broken folder can be deleted.
  ASSERT_OK(manager->DeleteLayer("garbage"));
  EXPECT_FALSE(fs::exists(dir.path() + "/garbage"));
}

// Folder names read from disk follow the same rule as names from clients: a folder named
// otherwise is listed as unavailable with the rule, and never served.
TEST(LayerManagerRepositoryTest, FoldersWithInvalidNamesAreListedWithTheRule) {
  TempDir dir;
  {
    auto manager = MakeManager(dir.path());
    ASSERT_OK(manager->CreateLayer(SeededSpec("good", 1)));
  }
  fs::copy(dir.path() + "/good", dir.path() + "/has space");
  fs::copy(dir.path() + "/good", dir.path() + "/a+b");
  auto manager = MakeManager(dir.path());
  EXPECT_THAT(manager->Repository(),
              ElementsAre(Entry("a+b", State::kUnavailable, kLayerNameRule),
                          Entry("good", State::kReady, ""),
                          Entry("has space", State::kUnavailable, kLayerNameRule)));
  EXPECT_THAT(manager->ListLayers(), ElementsAre(Field(&LayerInfo::name, "good")));
  for (const char* name : {"a+b", "has space"}) {
    EXPECT_THAT(manager->LoadFromRepository(name),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(kLayerNameRule)));
    EXPECT_THAT(InferSync(*manager, name, Request(1)),
                StatusIs(absl::StatusCode::kInvalidArgument));
  }
}

TEST(LayerManagerRepositoryTest, UnloadAndLoad) {
  TempDir dir;
  RecordingObserver observer;
  auto manager = MakeManager(dir.path(), &observer);
  auto info = manager->CreateLayer(SeededSpec("m", 5));
  ASSERT_OK(info);
  ASSERT_OK(manager->Unload("m"));
  EXPECT_EQ(observer.removed("m"), 1);
  EXPECT_TRUE(fs::exists(dir.path() + "/m/kernel.npy"));  // kept on disk
  EXPECT_THAT(manager->Repository(), ElementsAre(Entry("m", State::kUnavailable, "unloaded")));
  EXPECT_THAT(manager->Unserved(), ElementsAre(Entry("m", State::kUnavailable, "unloaded")));
  EXPECT_THAT(manager->GetLayer("m"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("not served: unloaded")));
  EXPECT_THAT(InferSync(*manager, "m", Request(1)), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_OK(manager->Unload("m"));  // already unloaded: nothing to do
  EXPECT_THAT(manager->CreateLayer(SeededSpec("m", 6)), StatusIs(absl::StatusCode::kAlreadyExists));

  ASSERT_OK(manager->LoadFromRepository("m"));
  EXPECT_EQ(observer.added("m"), 2);
  EXPECT_EQ(manager->GetLayer("m")->weight_checksum, info->weight_checksum);
  EXPECT_THAT(manager->Repository(), ElementsAre(Entry("m", State::kReady, "")));
  EXPECT_THAT(manager->Unserved(), ::testing::IsEmpty());
  ASSERT_OK(manager->LoadFromRepository("m"));  // a reload of a served layer swaps it
  EXPECT_OK(InferSync(*manager, "m", Request(1)));
}

// A folder prepared by hand, the way a user would from Python (json.dump(layer.get_config())
// and np.save of get_weights()), with the .npy files written byte by byte here.
TEST(LayerManagerRepositoryTest, ServesAFolderPreparedByHand) {
  TempDir dir;
  const std::vector<float> kernel = testing::RandomInput(2 * 2 * 3 * 2, 17);
  const std::vector<float> bias = {0.5f, -1.0f, 2.0f};
  const auto npy = [](const std::string& shape, const std::vector<float>& data) {
    std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape + ", }";
    header.append(63 - (10 + header.size()) % 64, ' ');
    header += '\n';
    std::string bytes("\x93NUMPY\x01\x00", 8);
    bytes += static_cast<char>(header.size());
    bytes += '\0';
    return bytes + header +
           std::string(reinterpret_cast<const char*>(data.data()), data.size() * 4);
  };
  WriteFile(dir.path() + "/hand/config.json",
            R"({"name": "conv2d_transpose_3", "trainable": true, "dtype": "float32",
                "filters": 3, "kernel_size": [2, 2], "strides": [1, 1], "padding": "valid",
                "data_format": "channels_last", "dilation_rate": [1, 1], "groups": 1,
                "activation": "linear", "use_bias": true, "output_padding": null,
                "kernel_initializer": {"class_name": "GlorotUniform", "config": {"seed": null}},
                "bias_initializer": {"class_name": "Zeros", "config": {}},
                "kernel_regularizer": null, "bias_regularizer": null,
                "activity_regularizer": null, "kernel_constraint": null,
                "bias_constraint": null})");
  WriteFile(dir.path() + "/hand/kernel.npy", npy("(2, 2, 3, 2)", kernel));
  WriteFile(dir.path() + "/hand/bias.npy", npy("(3,)", bias));

  auto manager = MakeManager(dir.path());
  EXPECT_THAT(manager->Repository(), ElementsAre(Entry("hand", State::kReady, "")));
  auto info = manager->GetLayer("hand");
  ASSERT_OK(info);
  EXPECT_EQ(info->in_channels, 2);
  EXPECT_EQ(info->weight_checksum, WeightsFnv({kernel, bias}));
  InferenceRequest request;
  request.shape = {1, 2, 2, 2};
  request.input = {1, 0, 0, 0, 0, 0, 0, 1};  // (0, 0) channel 0 and (1, 1) channel 1
  auto result = InferSync(*manager, "hand", request);
  ASSERT_OK(result);
  ASSERT_THAT(result->shape, ElementsAre(1, 3, 3, 3));
  // Output pixel (0, 0) sees only input (0, 0) = channel 0 through kernel tap (0, 0):
  // kernel[0][0][f][0] + bias[f]. Pixel (2, 2) sees only input (1, 1) = channel 1 through
  // tap (1, 1). Layout (kh, kw, filters, in_channels).
  for (int f = 0; f < 3; ++f) {
    EXPECT_FLOAT_EQ(result->output[f], kernel[(0 * 2 + 0) * 6 + f * 2 + 0] + bias[f]);
    EXPECT_FLOAT_EQ(result->output[(2 * 3 + 2) * 3 + f],
                    kernel[(1 * 2 + 1) * 6 + f * 2 + 1] + bias[f]);
  }
  EXPECT_EQ(result->output, Expected(*manager->FindLayer("hand").value(), request));
}

TEST(LayerManagerRepositoryTest, CreateFailsOnUnusableDirectory) {
  TempDir dir;
  WriteFile(dir.path() + "/file", "x");
  LayerManager::Options options;
  options.repository_dir = dir.path() + "/file";
  options.executor = BatchExecutor::Create({}).value();
  EXPECT_THAT(LayerManager::Create(options), StatusIs(absl::StatusCode::kFailedPrecondition));
  options.executor = nullptr;
  EXPECT_THAT(LayerManager::Create(options),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("executor")));
}

}  // namespace
}  // namespace tconv::server
