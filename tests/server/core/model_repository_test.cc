#include "tconv/repository/model_repository.h"

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/status_matchers.h"
#include "testing/temp_dir.h"

namespace tconv::server {
namespace {

namespace fs = std::filesystem;
using ::tconv::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr auto kInvalid = absl::StatusCode::kInvalidArgument;

using ::tconv::testing::TempDir;

void WriteFile(const std::string& path, const std::string& bytes) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

std::string ReadFile(const std::string& path) {
  std::stringstream buffer;
  buffer << std::ifstream(path, std::ios::binary).rdbuf();
  return buffer.str();
}

// A version 1.0 .npy written byte by byte from NEP 1, independent of SerializeNpy.
std::string HandNpy(const std::string& shape, const std::vector<float>& data) {
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape + ", }";
  header.append(63 - (10 + header.size()) % 64, ' ');
  header += '\n';
  std::string bytes = std::string("\x93NUMPY\x01\x00", 8);
  bytes.push_back(static_cast<char>(header.size()));
  bytes.push_back(static_cast<char>(header.size() >> 8));
  bytes += header;
  bytes.append(reinterpret_cast<const char*>(data.data()), data.size() * 4);
  return bytes;
}

std::vector<float> Values(size_t count, float scale) {
  std::vector<float> values(count);
  for (size_t i = 0; i < count; ++i) values[i] = scale * std::sin(static_cast<float>(i) + 1.0f);
  return values;
}

StoredLayer MakeLayer(bool use_bias) {
  StoredLayer layer;
  layer.config =
      LayerConfig::FromJson(std::string(R"({"name": "up", "filters": 4, "kernel_size": [3, 2],
                     "strides": [2, 2], "padding": "same", "activation": "relu", "use_bias": )") +
                            (use_bias ? "true}" : "false}"))
          .value();
  layer.in_channels = 3;
  layer.weights.kernel = Values(3 * 2 * 4 * 3, 0.5f);
  layer.weights.kernel[0] = -0.0f;                                     // sign of zero kept
  layer.weights.kernel[1] = std::numeric_limits<float>::denorm_min();  // denormal kept
  if (use_bias) layer.weights.bias = Values(4, 0.1f);
  return layer;
}

bool BitIdentical(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * 4) == 0);
}

std::unique_ptr<ModelRepository> OpenRepo(const std::string& dir) {
  auto repository = ModelRepository::Open({dir, BatchingOptions{}});
  EXPECT_TRUE(repository.ok()) << repository.status();
  return std::move(repository).value();
}

TEST(ModelRepositoryTest, SaveLoadRoundTripIsBitIdentical) {
  TempDir dir;
  auto repository = OpenRepo(dir.path() + "/nested/repo");  // parents are created
  StoredLayer layer = MakeLayer(/*use_bias=*/true);
  layer.batching = BatchingOptions{8, absl::Microseconds(250), 64};
  layer.created = absl::FromUnixNanos(1764081000123456789);
  ASSERT_OK(repository->Save("gen.1", layer));

  auto loaded = repository->Load("gen.1");
  ASSERT_OK(loaded);
  EXPECT_TRUE(loaded->config == layer.config) << loaded->config.ToJson();
  EXPECT_EQ(loaded->config.ToJson(), layer.config.ToJson());
  EXPECT_EQ(loaded->in_channels, 3);
  EXPECT_TRUE(BitIdentical(loaded->weights.kernel, layer.weights.kernel));
  EXPECT_TRUE(BitIdentical(loaded->weights.bias, layer.weights.bias));
  ASSERT_TRUE(loaded->batching.has_value());
  EXPECT_EQ(loaded->batching->max_batch_size, 8);
  EXPECT_EQ(loaded->batching->batch_timeout, absl::Microseconds(250));
  EXPECT_EQ(loaded->batching->max_queue_size, 64);
  EXPECT_EQ(loaded->created, layer.created);
  // The files are the documented ones, readable by NumPy and by people.
  const std::string folder = dir.path() + "/nested/repo/gen.1/";
  EXPECT_EQ(ReadFile(folder + "kernel.npy"), HandNpy("(3, 2, 4, 3)", layer.weights.kernel));
  EXPECT_EQ(ReadFile(folder + "bias.npy"), HandNpy("(4,)", layer.weights.bias));
  EXPECT_THAT(ReadFile(folder + "config.json"), HasSubstr("\"in_channels\": 3"));
  EXPECT_THAT(repository->List(), ElementsAre("gen.1"));
}

TEST(ModelRepositoryTest, NoBiasFileWithoutBiasAndDefaultsWhenAbsent) {
  TempDir dir;
  auto repository = OpenRepo(dir.path());
  const StoredLayer layer = MakeLayer(/*use_bias=*/false);
  ASSERT_OK(repository->Save("plain", layer));
  EXPECT_FALSE(fs::exists(dir.path() + "/plain/bias.npy"));
  auto loaded = repository->Load("plain");
  ASSERT_OK(loaded);
  EXPECT_TRUE(loaded->weights.bias.empty());
  EXPECT_FALSE(loaded->batching.has_value());
  EXPECT_FALSE(loaded->created.has_value());
}

TEST(ModelRepositoryTest, ReplaceSwapsWholeLayerAndLeavesNoTempFolders) {
  TempDir dir;
  auto repository = OpenRepo(dir.path());
  ASSERT_OK(repository->Save("a", MakeLayer(/*use_bias=*/true)));
  StoredLayer second = MakeLayer(/*use_bias=*/false);
  second.weights.kernel = Values(second.weights.kernel.size(), -2.0f);
  ASSERT_OK(repository->Save("a", second));
  auto loaded = repository->Load("a");
  ASSERT_OK(loaded);
  EXPECT_FALSE(loaded->config.use_bias);
  EXPECT_TRUE(BitIdentical(loaded->weights.kernel, second.weights.kernel));
  EXPECT_FALSE(fs::exists(dir.path() + "/a/bias.npy"));  // nothing left of the old version
  std::vector<std::string> entries;
  for (const auto& entry : fs::directory_iterator(dir.path())) {
    entries.push_back(entry.path().filename().string());
  }
  EXPECT_THAT(entries, ElementsAre("a"));
}

TEST(ModelRepositoryTest, LoadsFolderPreparedByHand) {
  TempDir dir;
  const std::vector<float> kernel = Values(2 * 2 * 3 * 5, 1.0f);
  const std::vector<float> bias = {0.5f, -0.5f, 1.5f};
  // As a user would: json.dump(layer.get_config()) and np.save(w) for each weight.
  WriteFile(dir.path() + "/byhand/config.json",
            R"({"name": "x", "trainable": true, "filters": 3, "kernel_size": 2})");
  WriteFile(dir.path() + "/byhand/kernel.npy", HandNpy("(2, 2, 3, 5)", kernel));
  WriteFile(dir.path() + "/byhand/bias.npy", HandNpy("(3,)", bias));
  // The tf.keras.layers.serialize form.
  WriteFile(dir.path() + "/serialized/config.json",
            R"({"class_name": "Conv2DTranspose", "config": {"filters": 3, "kernel_size": [2, 2],
                "use_bias": false}})");
  WriteFile(dir.path() + "/serialized/kernel.npy", HandNpy("(2, 2, 3, 5)", kernel));
  auto repository = OpenRepo(dir.path());
  EXPECT_THAT(repository->List(), ElementsAre("byhand", "serialized"));
  for (const std::string name : {"byhand", "serialized"}) {
    auto loaded = repository->Load(name);
    ASSERT_OK(loaded);
    EXPECT_EQ(loaded->in_channels, 5) << name;  // from kernel.npy's shape
    EXPECT_EQ(loaded->config.filters, 3);
    EXPECT_TRUE(BitIdentical(loaded->weights.kernel, kernel));
  }
  EXPECT_TRUE(BitIdentical(repository->Load("byhand")->weights.bias, bias));
}

struct Broken {
  const char* name;
  const char* file;  // which file of a good layer to overwrite ("" = delete `deleted`)
  std::string contents;
  const char* deleted;  // a file to remove, or ""
  const char* message;
};

std::vector<Broken> BrokenEntries() {
  const std::string good_kernel = HandNpy("(3, 2, 4, 3)", Values(72, 0.5f));
  std::vector<float> nan_bias = Values(4, 1.0f);
  nan_bias[2] = std::numeric_limits<float>::quiet_NaN();
  std::vector<float> inf_kernel = Values(72, 1.0f);
  inf_kernel[5] = -std::numeric_limits<float>::infinity();
  std::string f8_kernel = HandNpy("(3, 2, 4, 3)", Values(144, 1.0f));  // 72 doubles' bytes
  f8_kernel.replace(f8_kernel.find("<f4"), 3, "<f8");
  return {
      {"TruncatedKernel", "kernel.npy", good_kernel.substr(0, good_kernel.size() - 7), "",
       "kernel.npy: truncated"},
      {"GarbageConfig", "config.json", "{\"keras\": {\"filters\": 4,,", "", "not valid JSON"},
      {"ConfigNotObject", "config.json", "[1, 2]", "", "expected a JSON object"},
      {"WrongKernelShape", "kernel.npy", HandNpy("(3, 2, 5, 3)", Values(90, 1.0f)), "",
       "kernel.npy: shape (3, 2, 5, 3) does not fit the config"},
      {"KernelRank2", "kernel.npy", HandNpy("(8, 9)", Values(72, 1.0f)), "",
       "kernel.npy: shape (8, 9) does not fit"},
      {"WrongBiasShape", "bias.npy", HandNpy("(5,)", Values(5, 1.0f)), "",
       "bias.npy: shape (5) does not fit the config: expected (filters) = (4)"},
      {"NanBias", "bias.npy", HandNpy("(4,)", nan_bias), "", "bias.npy: element 2 is NaN"},
      {"InfKernel", "kernel.npy", HandNpy("(3, 2, 4, 3)", inf_kernel), "",
       "kernel.npy: element 5 is infinite"},
      {"Float64Kernel", "kernel.npy", f8_kernel, "", "kernel.npy: dtype '<f8' is not supported"},
      {"MissingKernel", "", "", "kernel.npy", "kernel.npy is missing"},
      {"MissingBias", "", "", "bias.npy", "bias.npy is missing"},
      {"MissingConfig", "", "", "config.json", "config.json is missing"},
      {"BadKerasConfig", "config.json", R"({"keras": {"filters": 0, "kernel_size": 3}})", "",
       "filters"},
      {"UnknownKey", "config.json", R"({"keras": {}, "in_channel": 3})", "",
       "unknown key 'in_channel'"},
      {"BadBatching", "config.json",
       R"({"keras": {"filters": 4, "kernel_size": [3, 2]}, "batching": {"max_batch_size": 0}})", "",
       "'max_batch_size' must be an integer >= 1, got 0"},
      {"InChannelsMismatch", "config.json",
       R"({"keras": {"filters": 4, "kernel_size": [3, 2]}, "in_channels": 7})", "",
       "expected (kh, kw, filters, in_channels) = (3, 2, 4, 7)"},
      {"FutureFormat", "config.json",
       R"({"tconv_format": 2, "keras": {"filters": 4, "kernel_size": [3, 2]}})", "",
       "'tconv_format' 2 is not supported"},
  };
}

void PrintTo(const Broken& broken, std::ostream* os) { *os << broken.name; }

class BrokenEntryTest : public ::testing::TestWithParam<Broken> {};

TEST_P(BrokenEntryTest, IsReportedWithReasonWhileOthersLoad) {
  const Broken& broken = GetParam();
  TempDir dir;
  {
    auto repository = OpenRepo(dir.path());
    ASSERT_OK(repository->Save("aaa", MakeLayer(true)));
    ASSERT_OK(repository->Save("bad", MakeLayer(true)));
    ASSERT_OK(repository->Save("zzz", MakeLayer(true)));
  }
  if (*broken.file) WriteFile(dir.path() + "/bad/" + broken.file, broken.contents);
  if (*broken.deleted) fs::remove(dir.path() + "/bad/" + broken.deleted);
  auto repository = OpenRepo(dir.path());
  EXPECT_THAT(repository->List(), ElementsAre("aaa", "bad", "zzz"));
  EXPECT_THAT(repository->Load("bad"), StatusIs(kInvalid, HasSubstr(broken.message)));
  EXPECT_OK(repository->Load("aaa"));
  EXPECT_OK(repository->Load("zzz"));
}

INSTANTIATE_TEST_SUITE_P(Entries, BrokenEntryTest, ::testing::ValuesIn(BrokenEntries()),
                         [](const auto& param_info) { return std::string(param_info.param.name); });

TEST(ModelRepositoryTest, BiasFileWithoutUseBiasIsRefused) {
  TempDir dir;
  auto repository = OpenRepo(dir.path());
  ASSERT_OK(repository->Save("nob", MakeLayer(/*use_bias=*/false)));
  WriteFile(dir.path() + "/nob/bias.npy", HandNpy("(4,)", Values(4, 1.0f)));
  EXPECT_THAT(repository->Load("nob"), StatusIs(kInvalid, HasSubstr("use_bias false")));
}

TEST(ModelRepositoryTest, OpenCleansUpAfterACrash) {
  TempDir dir;
  {
    auto repository = OpenRepo(dir.path());
    ASSERT_OK(repository->Save("kept", MakeLayer(true)));
    ASSERT_OK(repository->Save("swapped", MakeLayer(true)));
  }
  // A crash in the middle of writing "new" (never committed): half a folder.
  WriteFile(dir.path() + "/.tmp-new.77.0/config.json", "{\"keras\"");
  // A crash in a replace of "kept" after the new version was in place: stale old copy.
  fs::copy(dir.path() + "/kept", dir.path() + "/.old-kept.77.1");
  // A crash in a replace of "swapped" between the two renames: only the old copy exists.
  fs::rename(dir.path() + "/swapped", dir.path() + "/.old-swapped.77.2");
  // A crash in a delete after the rename.
  fs::copy(dir.path() + "/kept", dir.path() + "/.del-gone.77.3");
  WriteFile(dir.path() + "/README.txt", "a user's notes");  // plain files are left alone

  auto repository = OpenRepo(dir.path());
  EXPECT_THAT(repository->List(), ElementsAre("kept", "swapped"));
  EXPECT_OK(repository->Load("kept"));
  EXPECT_OK(repository->Load("swapped"));
  std::vector<std::string> entries;
  for (const auto& entry : fs::directory_iterator(dir.path())) {
    entries.push_back(entry.path().filename().string());
  }
  std::sort(entries.begin(), entries.end());
  EXPECT_THAT(entries, ElementsAre("README.txt", "kept", "swapped"));
}

TEST(ModelRepositoryTest, RemoveAndMissingEntries) {
  TempDir dir;
  auto repository = OpenRepo(dir.path());
  ASSERT_OK(repository->Save("x", MakeLayer(true)));
  ASSERT_OK(repository->Remove("x"));
  EXPECT_FALSE(fs::exists(dir.path() + "/x"));
  EXPECT_THAT(repository->Remove("x"), StatusIs(absl::StatusCode::kNotFound, HasSubstr("'x'")));
  EXPECT_THAT(repository->Load("x"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(repository->List(), ElementsAre());
}

TEST(ModelRepositoryTest, FolderWithInvalidNameIsListedAndRefused) {
  TempDir dir;
  WriteFile(dir.path() + "/has space/config.json", "{}");
  auto repository = OpenRepo(dir.path());
  EXPECT_THAT(repository->List(), ElementsAre("has space"));
  EXPECT_THAT(repository->Load("has space"),
              StatusIs(kInvalid, HasSubstr("'has space' is not a valid layer name")));
}

TEST(ModelRepositoryTest, OpenRefusesAFile) {
  TempDir dir;
  WriteFile(dir.path() + "/file", "x");
  EXPECT_THAT(ModelRepository::Open({dir.path() + "/file", BatchingOptions{}}),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("not a writable")));
}

}  // namespace
}  // namespace tconv::server
