// tconv::keras_import against small saved-model files written in the test with the HDF5 C
// library and libzip, laid out as Keras 3 (.keras) and tf-keras (.h5) write them (see
// keras_model.h; the layouts were read off files the real Keras saved, and the keras_import
// ctest checks real files end to end).
#include <hdf5.h>
#include <zip.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "keras_model.h"
#include "model_walk.h"
#include "nlohmann/json.hpp"

namespace tconv::keras_import {
namespace {

using ::testing::HasSubstr;
using Json = nlohmann::json;

std::string TempPath(const std::string& name) {
  const char* dir = std::getenv("TMPDIR");
  return std::string(dir != nullptr ? dir : "/tmp") + "/tconv_keras_import_test_" +
         std::to_string(::getpid()) + "_" + name;
}

// An HDF5 file being written: groups, float datasets and string attributes.
class H5Writer {
 public:
  explicit H5Writer(const std::string& path)
      : file_(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT)) {}
  ~H5Writer() { H5Fclose(file_); }
  void Dataset(const std::string& path, const std::vector<hsize_t>& dims,
               const std::vector<float>& values, hid_t type = H5T_IEEE_F32LE) {
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    hid_t space = H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr);
    hid_t set = H5Dcreate2(file_, path.c_str(), type, space, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(set, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data());
    H5Dclose(set);
    H5Sclose(space);
    H5Pclose(lcpl);
  }
  void Group(const std::string& path) {
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    H5Gclose(H5Gcreate2(file_, path.c_str(), lcpl, H5P_DEFAULT, H5P_DEFAULT));
    H5Pclose(lcpl);
  }
  // Fixed-length strings, as h5py writes numpy bytes; a scalar when `values` has one entry
  // and `array` is false.
  void Strings(const std::string& path, const std::string& name,
               const std::vector<std::string>& values, bool array) {
    size_t size = 1;
    for (const std::string& v : values) size = std::max(size, v.size());
    std::string buffer(size * values.size(), '\0');
    for (size_t i = 0; i < values.size(); ++i)
      buffer.replace(i * size, values[i].size(), values[i]);
    hid_t type = H5Tcopy(H5T_C_S1);
    H5Tset_size(type, size);
    const hsize_t count = values.size();
    hid_t space = array ? H5Screate_simple(1, &count, nullptr) : H5Screate(H5S_SCALAR);
    hid_t object = H5Oopen(file_, path.c_str(), H5P_DEFAULT);
    hid_t attribute = H5Acreate2(object, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(attribute, type, buffer.data());
    H5Aclose(attribute);
    H5Oclose(object);
    H5Sclose(space);
    H5Tclose(type);
  }

 private:
  hid_t file_;
};

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void WriteZip(const std::string& path,
              const std::vector<std::pair<std::string, std::string>>& entries) {
  std::remove(path.c_str());
  int error = 0;
  zip_t* archive = zip_open(path.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &error);
  ASSERT_NE(archive, nullptr);
  for (const auto& [name, bytes] : entries) {
    zip_source_t* source = zip_source_buffer(archive, bytes.data(), bytes.size(), 0);
    ASSERT_GE(zip_file_add(archive, name.c_str(), source, ZIP_FL_OVERWRITE), 0);
  }
  ASSERT_EQ(zip_close(archive), 0);  // reads the buffers: `entries` outlives it
}

Json ConvLayer(const std::string& name, bool use_bias, const std::string& activation) {
  return {{"module", "keras.layers"},
          {"class_name", "Conv2DTranspose"},
          {"config",
           {{"name", name},
            {"filters", 2},
            {"kernel_size", {1, 1}},
            {"strides", {2, 2}},
            {"padding", "valid"},
            {"activation", activation},
            {"use_bias", use_bias},
            {"dtype", "float32"}}},
          {"build_config", {{"input_shape", {nullptr, 3, 3, 3}}}}};
}

// Keras 3 style: a functional model holding Dense, then a Sequential with two
// Conv2DTranspose layers (weights at layers/sequential/layers/conv2d_transpose[_1]/vars).
std::string MakeKerasZip(const std::string& version, bool second_bias_missing = false) {
  const Json model = {{"class_name", "Functional"},
                      {"config",
                       {{"name", "outer"},
                        {"layers",
                         {{{"class_name", "InputLayer"}, {"config", {{"name", "in"}}}},
                          {{"class_name", "Dense"}, {"config", {{"name", "dense"}}}},
                          {{"class_name", "Sequential"},
                           {"config",
                            {{"name", "inner"},
                             {"layers",
                              {{{"class_name", "InputLayer"}, {"config", {{"name", "in2"}}}},
                               ConvLayer("up1", true, "hard_sigmoid"),
                               ConvLayer("up2", true, "linear")}}}}}}}}}};
  const std::string h5_path = TempPath("weights.h5");
  {
    H5Writer h5(h5_path);
    h5.Dataset("layers/dense/vars/0", {3, 3}, std::vector<float>(9, 1.0f));
    const std::string base = "layers/sequential/layers/";
    h5.Dataset(base + "conv2d_transpose/vars/0", {1, 1, 2, 3}, {1, 2, 3, 4, 5, 6});
    h5.Dataset(base + "conv2d_transpose/vars/1", {2}, {0.5f, -0.5f});
    h5.Dataset(base + "conv2d_transpose_1/vars/0", {1, 1, 2, 3}, {6, 5, 4, 3, 2, 1});
    if (!second_bias_missing) h5.Dataset(base + "conv2d_transpose_1/vars/1", {2}, {1, 2});
  }
  const std::string zip_path = TempPath(version + ".keras");
  WriteZip(zip_path, {{"metadata.json", Json{{"keras_version", version}}.dump()},
                      {"config.json", model.dump()},
                      {"model.weights.h5", ReadAll(h5_path)}});
  std::remove(h5_path.c_str());
  return zip_path;
}

TEST(KerasImport, ReadsAKeras3ZipWithANestedSequential) {
  const std::string path = MakeKerasZip("3.15.1");
  absl::StatusOr<KerasModel> model = ReadKerasModel(path);
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ(model->format, "keras");
  EXPECT_EQ(model->version, KerasVersion::kKeras3);
  ASSERT_EQ(model->layers.size(), 2u);
  const ImportedLayer& up1 = model->layers[0];
  EXPECT_EQ(up1.name, "up1");
  EXPECT_EQ(up1.path, "inner/up1");
  EXPECT_EQ(up1.kernel, (std::vector<float>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(up1.kernel_shape, (std::vector<int64_t>{1, 1, 2, 3}));
  EXPECT_EQ(up1.bias, (std::vector<float>{0.5f, -0.5f}));
  // A Keras 3 file gives Keras 3 semantics even though its dtype was a plain string.
  EXPECT_EQ(up1.config.keras_version, KerasVersion::kKeras3);
  EXPECT_EQ(up1.config.activation, Activation::kHardSigmoidKeras3);
  EXPECT_EQ(Json::parse(up1.config_json)["dtype"]["class_name"], "DTypePolicy");
  EXPECT_EQ(model->layers[1].kernel, (std::vector<float>{6, 5, 4, 3, 2, 1}));
  ASSERT_EQ(model->skipped.size(), 1u);
  EXPECT_EQ(model->skipped[0].class_name, "Dense");
  std::remove(path.c_str());
}

TEST(KerasImport, AKeras2ZipKeepsKeras2Semantics) {
  const std::string path = MakeKerasZip("2.21.0");
  absl::StatusOr<KerasModel> model = ReadKerasModel(path);
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ(model->version, KerasVersion::kKeras2);
  EXPECT_EQ(model->layers[0].config.activation, Activation::kHardSigmoid);
  std::remove(path.c_str());
}

TEST(KerasImport, RefusesAMissingBiasNamingTheFileAndLayer) {
  const std::string path = MakeKerasZip("3.15.1", /*second_bias_missing=*/true);
  absl::StatusOr<KerasModel> model = ReadKerasModel(path);
  ASSERT_EQ(model.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(model.status().message(), HasSubstr(path));
  EXPECT_THAT(model.status().message(), HasSubstr("inner/up2"));
  EXPECT_THAT(model.status().message(), HasSubstr("no bias"));
  std::remove(path.c_str());
}

TEST(KerasImport, RefusesTruncatedZipsAndOtherFiles) {
  const std::string path = MakeKerasZip("3.15.1");
  const std::string bytes = ReadAll(path);
  for (size_t keep : {bytes.size() - 10, bytes.size() / 2, size_t{30}}) {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes.substr(0, keep);
    absl::StatusOr<KerasModel> model = ReadKerasModel(path);
    EXPECT_EQ(model.status().code(), absl::StatusCode::kInvalidArgument) << keep;
    EXPECT_THAT(model.status().message(), HasSubstr(path));
  }
  std::ofstream(path, std::ios::trunc) << "{\"not\": \"a model\"}";
  EXPECT_THAT(ReadKerasModel(path).status().message(), HasSubstr("not a saved Keras model"));
  WriteZip(path, {{"readme.txt", "hello"}});
  EXPECT_THAT(ReadKerasModel(path).status().message(), HasSubstr("no config.json"));
  std::remove(path.c_str());
  EXPECT_EQ(ReadKerasModel(path).status().code(), absl::StatusCode::kNotFound);
}

TEST(KerasImport, RefusesAKerasVersionItDoesNotKnow) {
  const std::string path = MakeKerasZip("1.2.2");
  EXPECT_THAT(ReadKerasModel(path).status().message(), HasSubstr("Keras 1.2.2"));
  std::remove(path.c_str());
}

// tf-keras .h5: model_config and keras_version on the root, weights found by weight_names.
std::string MakeLegacyH5(hid_t kernel_type) {
  const Json model = {{"class_name", "Sequential"},
                      {"config",
                       {{"name", "gen"},
                        {"layers",
                         {{{"class_name", "Dense"}, {"config", {{"name", "d"}}}},
                          ConvLayer("ct", false, "tanh")}}}}};
  const std::string path = TempPath("legacy.h5");
  H5Writer h5(path);
  h5.Strings("/", "model_config", {model.dump()}, false);
  h5.Strings("/", "keras_version", {"2.21.0"}, false);
  h5.Group("model_weights/d");
  h5.Dataset("model_weights/ct/ct/kernel:0", {1, 1, 2, 3}, {1, 2, 3, 4, 5, 6}, kernel_type);
  h5.Strings("model_weights/ct", "weight_names", {"ct/kernel:0"}, true);
  return path;
}

TEST(KerasImport, ReadsATfKerasH5) {
  const std::string path = MakeLegacyH5(H5T_IEEE_F32LE);
  absl::StatusOr<KerasModel> model = ReadKerasModel(path);
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ(model->format, "h5");
  EXPECT_EQ(model->keras_version, "2.21.0");
  ASSERT_EQ(model->layers.size(), 1u);
  EXPECT_EQ(model->layers[0].kernel, (std::vector<float>{1, 2, 3, 4, 5, 6}));
  EXPECT_TRUE(model->layers[0].bias.empty());
  EXPECT_EQ(model->layers[0].config.keras_version, KerasVersion::kKeras2);
  std::remove(path.c_str());
}

TEST(KerasImport, RefusesAKernelThatIsNotFloat32) {
  const std::string path = MakeLegacyH5(H5T_IEEE_F64LE);
  absl::StatusOr<KerasModel> model = ReadKerasModel(path);
  EXPECT_THAT(model.status().message(), HasSubstr("layer ct"));
  EXPECT_THAT(model.status().message(), HasSubstr("not float32 but float64"));
  std::remove(path.c_str());
}

TEST(KerasImport, SnakeCaseAsKerasNamesWeightGroups) {
  EXPECT_EQ(ToSnakeCase("Conv2DTranspose", false), "conv2d_transpose");
  EXPECT_EQ(ToSnakeCase("Conv2DTranspose", true), "conv2d_transpose");
  EXPECT_EQ(ToSnakeCase("BatchNormalization", false), "batch_normalization");
  EXPECT_EQ(ToSnakeCase("LeakyReLU", false), "leaky_re_lu");
  EXPECT_EQ(ToSnakeCase("InputLayer", true), "input_layer");
}

}  // namespace
}  // namespace tconv::keras_import
