// Writes the seed corpus of every fuzz target, made from the conformance cases
// (tests/conformance/*.jsonl: the configs, weights and inputs of real Keras layers, and the
// refused configs) plus hand-made bad inputs of each format, so nothing binary is committed.
// Usage: make_seeds SOURCE_DIR OUT_DIR  -> OUT_DIR/<target>/<seed> files.
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "fuzz_files.h"
#include "inference/grpc_service.pb.h"
#include "nlohmann/json.hpp"
#include "tconv/kernel/layer_config.h"
#include "tconv/npy/npy.h"
#include "tconv/repository/model_repository_config.h"
#include "tconv/v1/layer_service.pb.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct Case {
  std::string name;
  json config;
  std::vector<int64_t> input_shape;
  std::vector<float> input, kernel, bias;
};

std::vector<Case> ReadCases(const fs::path& dir) {
  std::vector<Case> cases;
  for (const char* file :
       {"conv2d_transpose_cases.jsonl", "keras3_cases.jsonl", "conv2d_transpose_errors.jsonl"}) {
    std::ifstream in(dir / file);
    for (std::string line; std::getline(in, line);) {
      if (line.empty()) continue;
      const json j = json::parse(line);
      Case c{j.at("name"),
             j.at("config"),
             j.at("input_shape").get<std::vector<int64_t>>(),
             {},
             {},
             {}};
      // Absent or null (bias of a layer without one): left empty.
      const auto floats = [&j](const char* key) {
        return j.contains(key) && j[key].is_array() ? j[key].get<std::vector<float>>()
                                                    : std::vector<float>{};
      };
      c.input = floats("input");
      c.kernel = floats("kernel");
      c.bias = floats("bias");
      cases.push_back(std::move(c));
    }
  }
  return cases;
}

class Corpus {
 public:
  Corpus(const fs::path& root, const std::string& target) : dir_(root / target) {
    fs::create_directories(dir_);
  }
  void Add(const std::string& bytes) {
    std::ofstream(dir_ / ("seed-" + std::to_string(count_++)), std::ios::binary) << bytes;
  }
  int count() const { return count_; }

 private:
  fs::path dir_;
  int count_ = 0;
};

int64_t InChannels(const Case& c) {
  const bool first = c.config.value("data_format", "channels_last") == "channels_first";
  return first ? c.input_shape[1] : c.input_shape[3];
}

std::vector<int64_t> KernelShape(const Case& c) {
  const json& size = c.config.at("kernel_size");  // [kh, kw] or one int for both
  const auto k = size.is_array() ? size.get<std::vector<int64_t>>()
                                 : std::vector<int64_t>(2, size.get<int64_t>());
  return {k[0], k[1], c.config.at("filters").get<int64_t>(), InChannels(c)};
}

std::string Floats(const std::vector<float>& values) {
  return std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(float));
}

// A version 1.0 .npy file with any header text (for the refused variants).
std::string NpyWithHeader(std::string header, const std::string& payload) {
  header += std::string((64 - (10 + header.size() + 1) % 64) % 64, ' ') + "\n";
  const uint16_t length = static_cast<uint16_t>(header.size());
  std::string bytes = "\x93NUMPY\x01";
  bytes += '\0';
  bytes += static_cast<char>(length & 0xff);
  bytes += static_cast<char>(length >> 8);
  return bytes + header + payload;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: make_seeds SOURCE_DIR OUT_DIR\n");
    return 2;
  }
  const std::vector<Case> cases = ReadCases(fs::path(argv[1]) / "tests/conformance");
  const fs::path out = argv[2];
  Corpus config(out, "fuzz_layer_config"), npy(out, "fuzz_npy"),
      repository(out, "fuzz_model_repository"), infer(out, "fuzz_oip_infer_request"),
      load(out, "fuzz_oip_repository_load"), create(out, "fuzz_layer_service_create");

  for (const Case& c : cases) {
    const std::string keras = c.config.dump();
    config.Add(keras);
    config.Add(json{{"class_name", "Conv2DTranspose"}, {"config", c.config}}.dump());
    const bool has_weights = !c.kernel.empty();
    const std::vector<int64_t> kernel_shape = KernelShape(c);
    const std::string kernel_npy = tconv::server::SerializeNpy(kernel_shape, c.kernel);
    const std::string bias_npy =
        tconv::server::SerializeNpy({static_cast<int64_t>(c.bias.size())}, c.bias);
    if (has_weights) {
      npy.Add(kernel_npy);
      npy.Add(bias_npy);
      std::vector<std::string> files = {keras, kernel_npy};
      if (!c.bias.empty()) files.push_back(bias_npy);
      repository.Add(tconv::fuzz::JoinFiles(files));
      auto parsed = tconv::LayerConfig::FromJson(keras);
      if (parsed.ok()) {
        files[0] = tconv::server::internal::EncodeLayerConfigFile(
            {*parsed, InChannels(c), tconv::server::BatchingOptions{}, std::nullopt, std::nullopt});
        repository.Add(tconv::fuzz::JoinFiles(files));
      }
    }

    inference::ModelInferRequest request;
    request.set_model_name(c.name);
    auto* input = request.add_inputs();
    input->set_name("input");
    input->set_datatype("FP32");
    for (int64_t dim : c.input_shape) input->add_shape(dim);
    request.add_outputs()->set_name("output");
    if (!c.input.empty()) {
      request.add_raw_input_contents(Floats(c.input));
      infer.Add(request.SerializeAsString());
      request.clear_raw_input_contents();
      for (float v : c.input) input->mutable_contents()->add_fp32_contents(v);
    }
    infer.Add(request.SerializeAsString());

    inference::RepositoryModelLoadRequest load_request;
    load_request.set_model_name(c.name.substr(0, 100));
    auto& parameters = *load_request.mutable_parameters();
    parameters["config"].set_string_param(keras);
    tconv::v1::CreateLayerRequest create_request;
    create_request.set_name(c.name.substr(0, 100));
    create_request.set_config_json(keras);
    if (has_weights) {
      parameters["file:kernel.npy"].set_bytes_param(kernel_npy);
      if (!c.bias.empty()) parameters["file:bias.npy"].set_bytes_param(bias_npy);
      create_request.set_kernel(Floats(c.kernel));
      for (int64_t dim : kernel_shape) create_request.add_kernel_shape(dim);
      create_request.set_bias(Floats(c.bias));
    } else {
      parameters["in_channels"].set_int64_param(InChannels(c));
      parameters["seed"].set_int64_param(7);
      create_request.set_in_channels(InChannels(c));
      create_request.set_seed(7);
      create_request.mutable_batching()->set_max_batch_size(4);
    }
    load.Add(load_request.SerializeAsString());
    create.Add(create_request.SerializeAsString());
  }

  // Refused inputs of each format, the kinds the unit tests feed.
  const std::string two_floats = Floats({1.0f, 2.0f});
  npy.Add(NpyWithHeader("{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }",
                        std::string(8, '\0')));
  npy.Add(NpyWithHeader("{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", two_floats));
  npy.Add(NpyWithHeader("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 1), }", two_floats));
  npy.Add(NpyWithHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (), }", two_floats));
  npy.Add(NpyWithHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", two_floats));
  npy.Add(std::string("\x93NUMPY\x02\x00\x10\x00\x00\x00", 12) + "{'descr': '<f4'}" + two_floats);
  config.Add("{}");
  config.Add("[1, 2, 3]");
  config.Add(R"({"filters": 1e400, "kernel_size": 3})");
  config.Add(R"({"filters": 2, "kernel_size": [3, -3], "strides": "2"})");

  std::printf(
      "make_seeds: %d %d %d %d %d %d seeds (layer_config npy model_repository "
      "oip_infer_request oip_repository_load layer_service_create)\n",
      config.count(), npy.count(), repository.count(), infer.count(), load.count(), create.count());
  return 0;
}
