// Triton's system shared memory extension through a real in-process server and the raw stub:
// inputs read from and outputs written to a registered POSIX region (unary and streamed), every
// refusal with its code, regions that outlive an unregister while a request uses them, and
// answers bitwise equal to the raw path's when shared-memory and raw requests share batches.

#include <atomic>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/shm_object.h"
#include "testing/status_matchers.h"
#include "testing/test_server.h"
#include "tests/client/golden_cases.h"

namespace tconv::server::testing {
namespace {

using ::tconv::testing::ShmObject;
using ::tconv::testing::StatusIs;
using ::testing::HasSubstr;

constexpr char kDcganG3[] =
    R"({"filters": 1, "kernel_size": [5, 5], "strides": [2, 2], "padding": "same",
        "use_bias": false, "activation": "tanh"})";
// g3 on {1, 4, 4, 64}: 4 KiB in, {1, 8, 8, 1} = 256 bytes out.
constexpr int64_t kInBytes = 4 * 4 * 64 * 4;
constexpr int64_t kOutBytes = 8 * 8 * 4;

void SetShm(google::protobuf::Map<std::string, inference::InferParameter>& parameters,
            const std::string& region, int64_t byte_size, int64_t offset) {
  parameters["shared_memory_region"].set_string_param(region);
  parameters["shared_memory_byte_size"].set_int64_param(byte_size);
  if (offset != 0) parameters["shared_memory_offset"].set_int64_param(offset);
}

// g3's request with its input at (in_region, in_offset) and its output at (out_region,
// out_offset); an empty out_region leaves the output in the response.
inference::ModelInferRequest ShmInfer(const std::string& in_region, int64_t in_offset,
                                      const std::string& out_region, int64_t out_offset) {
  inference::ModelInferRequest request;
  request.set_model_name("g3");
  auto* input = request.add_inputs();
  input->set_name("input");
  input->set_datatype("FP32");
  for (int64_t dim : {1, 4, 4, 64}) input->add_shape(dim);
  SetShm(*input->mutable_parameters(), in_region, kInBytes, in_offset);
  if (!out_region.empty()) {
    auto* output = request.add_outputs();
    output->set_name("output");
    SetShm(*output->mutable_parameters(), out_region, kOutBytes, out_offset);
  }
  return request;
}

class SharedMemoryTest : public ::testing::Test {
 protected:
  void StartServer(BatchingOptions batching = {}) {
    TestServer::Options options;
    options.repository_dir = dir_.path();
    options.batching = batching;
    auto server = TestServer::Start(options);
    ASSERT_OK(server);
    server_ = std::move(*server);
    ASSERT_OK(CreateLayer(*server_, SeededLayer("g3", kDcganG3, 64, 7)));
  }
  absl::Status Register(const std::string& name, const std::string& key, uint64_t offset,
                        uint64_t byte_size) {
    inference::SystemSharedMemoryRegisterRequest request;
    request.set_name(name);
    request.set_key(key);
    request.set_offset(offset);
    request.set_byte_size(byte_size);
    inference::SystemSharedMemoryRegisterResponse response;
    return ToAbsl(server_->oip().SystemSharedMemoryRegister(Context().get(), request, &response));
  }
  absl::Status Unregister(const std::string& name) {
    inference::SystemSharedMemoryUnregisterRequest request;
    request.set_name(name);
    inference::SystemSharedMemoryUnregisterResponse response;
    return ToAbsl(server_->oip().SystemSharedMemoryUnregister(Context().get(), request, &response));
  }
  absl::StatusOr<inference::SystemSharedMemoryStatusResponse> Status(const std::string& name) {
    inference::SystemSharedMemoryStatusRequest request;
    request.set_name(name);
    inference::SystemSharedMemoryStatusResponse response;
    absl::Status status =
        ToAbsl(server_->oip().SystemSharedMemoryStatus(Context().get(), request, &response));
    if (!status.ok()) return status;
    return response;
  }
  // The raw-path answer for the same input (the reference the shared-memory path must match).
  std::string RawAnswer(const std::vector<float>& input) {
    auto answer = Infer(*server_, RawInfer("g3", {1, 4, 4, 64}, input));
    EXPECT_OK(answer);
    return answer.ok() ? answer->raw_output_contents(0) : "";
  }

  TempDir dir_;
  std::unique_ptr<TestServer> server_;
};

TEST_F(SharedMemoryTest, AdvertisedInServerMetadata) {
  StartServer();
  inference::ServerMetadataResponse metadata;
  ASSERT_OK(ToAbsl(server_->oip().ServerMetadata(Context().get(), {}, &metadata)));
  EXPECT_THAT(metadata.extensions(), ::testing::Contains("system_shared_memory"));
}

// channels_last input and output through one region (input at 0, output behind it at an
// unaligned offset inside a region that itself starts at an unaligned offset of the object).
TEST_F(SharedMemoryTest, InputAndOutputInPlaceMatchTheRawPathBitwise) {
  StartServer();
  ShmObject object(8192 + 100);
  ASSERT_OK(Register("r", object.key(), 100, kInBytes + 16 + kOutBytes));
  const std::vector<float> input = RandomValues(4 * 4 * 64, 11);
  object.Write(100, input);
  std::memset(object.data() + 100 + kInBytes + 12, 0x7f, kOutBytes);
  auto answer = Infer(*server_, ShmInfer("r", 0, "r", kInBytes + 12));
  ASSERT_OK(answer);
  // Like Triton: one empty entry per output, so that clients can index it by output position.
  ASSERT_EQ(answer->raw_output_contents_size(), 1);
  EXPECT_EQ(answer->raw_output_contents(0), "") << "the output travelled in the response";
  ASSERT_EQ(answer->outputs_size(), 1);
  EXPECT_THAT(answer->outputs(0).shape(), ::testing::ElementsAre(1, 8, 8, 1));
  EXPECT_EQ(object.Bytes(100 + kInBytes + 12, kOutBytes), RawAnswer(input));
  // An output may declare more room than it needs (perf_analyzer does); only its bytes are written.
  auto roomy = ShmInfer("r", 0, "r", kInBytes + 8);
  (*roomy.mutable_outputs(0)->mutable_parameters())["shared_memory_byte_size"].set_int64_param(
      kOutBytes + 4);
  std::memset(object.data() + 100 + kInBytes + 8, 0, kOutBytes + 4);
  ASSERT_OK(Infer(*server_, roomy));
  EXPECT_EQ(object.Bytes(100 + kInBytes + 8, kOutBytes), RawAnswer(input));
  EXPECT_EQ(object.Bytes(100 + kInBytes + 8 + kOutBytes, 4), std::string(4, '\0'));
  // Aligned outputs (above) the kernel writes in place; one at an offset that is not aligned
  // for float gets the answer copied there, the same bytes.
  std::memset(object.data() + 100 + kInBytes + 13, 0x7f, kOutBytes);
  ASSERT_OK(Infer(*server_, ShmInfer("r", 0, "r", kInBytes + 13)));
  EXPECT_EQ(object.Bytes(100 + kInBytes + 13, kOutBytes), RawAnswer(input));
  // Input in shared memory, output in the response.
  auto raw_out = Infer(*server_, ShmInfer("r", 0, "", 0));
  ASSERT_OK(raw_out);
  EXPECT_EQ(raw_out->raw_output_contents(0), RawAnswer(input));
}

// A golden case (independent expectation: Keras's answer) through shared memory.
TEST_F(SharedMemoryTest, GoldenCaseThroughSharedMemory) {
  StartServer();
  const auto cases = ::tconv::testing::LoadGoldenCases();
  const auto& c = cases.front();
  tconv::v1::CreateLayerRequest create;
  create.set_name("golden");
  create.set_config_json(c.config_json);
  for (int64_t dim : c.kernel_shape) create.add_kernel_shape(dim);
  create.set_kernel(
      std::string(reinterpret_cast<const char*>(c.kernel.data()), c.kernel.size() * sizeof(float)));
  if (!c.bias.empty()) {
    create.set_bias(
        std::string(reinterpret_cast<const char*>(c.bias.data()), c.bias.size() * sizeof(float)));
  }
  ASSERT_OK(CreateLayer(*server_, create));
  const int64_t in_bytes = static_cast<int64_t>(c.input.size() * sizeof(float));
  const int64_t out_bytes = static_cast<int64_t>(c.output.size() * sizeof(float));
  ShmObject object(in_bytes + out_bytes);
  ASSERT_OK(Register("g", object.key(), 0, in_bytes + out_bytes));
  object.Write(0, c.input);
  inference::ModelInferRequest request;
  request.set_model_name("golden");
  auto* input = request.add_inputs();
  input->set_name("input");
  input->set_datatype("FP32");
  for (int64_t dim : c.input_shape) input->add_shape(dim);
  SetShm(*input->mutable_parameters(), "g", in_bytes, 0);
  auto* output = request.add_outputs();
  output->set_name("output");
  SetShm(*output->mutable_parameters(), "g", out_bytes, in_bytes);
  ASSERT_OK(Infer(*server_, request));
  std::vector<float> got(c.output.size());
  std::memcpy(got.data(), object.data() + in_bytes, out_bytes);
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_TRUE(::tconv::testing::WithinTolerance(got[i], c.output[i]))
        << c.name << " [" << i << "] " << got[i] << " vs " << c.output[i];
  }
}

TEST_F(SharedMemoryTest, StatusListsRegionsAndUnregisterForgetsThem) {
  StartServer();
  ShmObject a(4096), b(4096);
  ASSERT_OK(Register("a", a.key(), 16, 1000));
  ASSERT_OK(Register("b", b.key(), 0, 4096));
  auto all = Status("");
  ASSERT_OK(all);
  ASSERT_EQ(all->regions_size(), 2);
  const auto& ra = all->regions().at("a");
  EXPECT_EQ(ra.name(), "a");
  EXPECT_EQ(ra.key(), a.key());
  EXPECT_EQ(ra.offset(), 16u);
  EXPECT_EQ(ra.byte_size(), 1000u);
  EXPECT_THAT(Status("c"), StatusIs(absl::StatusCode::kNotFound, HasSubstr("'c'")));
  ASSERT_OK(Unregister("a"));
  EXPECT_THAT(Status("a"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_OK(Unregister("a"));  // like Triton: not registered is no error
  ASSERT_OK(Unregister(""));   // every region
  auto none = Status("");
  ASSERT_OK(none);
  EXPECT_EQ(none->regions_size(), 0);
  EXPECT_OK(Register("a", a.key(), 0, 4096));  // the name is free again
}

TEST_F(SharedMemoryTest, RegisterRefusals) {
  StartServer();
  ShmObject object(4096);
  using absl::StatusCode;
  EXPECT_THAT(Register("z", object.key(), 0, 0),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("byte_size 0")));
  EXPECT_THAT(Register("", object.key(), 0, 16),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("non-empty name")));
  EXPECT_THAT(Register("k", "", 0, 16),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("non-empty key")));
  EXPECT_THAT(Register("missing", "/tconv_shm_test_no_such_key", 0, 16),
              StatusIs(StatusCode::kNotFound, HasSubstr("cannot open shared memory key")));
  EXPECT_THAT(Register("big", object.key(), 4000, 200),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("beyond the end")));
  EXPECT_THAT(Register("wrap", object.key(), ~uint64_t{0} - 8, 16),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("overflows")));
  ASSERT_OK(Register("dup", object.key(), 0, 4096));
  EXPECT_THAT(Register("dup", object.key(), 0, 16),
              StatusIs(StatusCode::kAlreadyExists, HasSubstr("already registered")));
  auto status = Status("");
  ASSERT_OK(status);
  EXPECT_EQ(status->regions_size(), 1) << "a refused register left a region behind";
}

TEST_F(SharedMemoryTest, InferRefusals) {
  StartServer();
  ShmObject object(kInBytes + kOutBytes);
  ASSERT_OK(Register("r", object.key(), 0, kInBytes + kOutBytes));
  using absl::StatusCode;
  EXPECT_THAT(Infer(*server_, ShmInfer("nope", 0, "", 0)),
              StatusIs(StatusCode::kNotFound, HasSubstr("'nope' is not registered")));
  EXPECT_THAT(Infer(*server_, ShmInfer("r", 0, "nope", 0)),
              StatusIs(StatusCode::kNotFound, HasSubstr("'nope' is not registered")));
  EXPECT_THAT(Infer(*server_, ShmInfer("r", kOutBytes + 4, "", 0)),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("outside region 'r'")));
  EXPECT_THAT(Infer(*server_, ShmInfer("r", 0, "r", kInBytes + 4)),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("outside region 'r'")));
  EXPECT_THAT(Infer(*server_, ShmInfer("r", int64_t{1} << 62, "", 0)),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("outside region 'r'")));
  auto wrong_size = ShmInfer("r", 0, "", 0);
  (*wrong_size.mutable_inputs(0)->mutable_parameters())["shared_memory_byte_size"].set_int64_param(
      kInBytes - 4);
  EXPECT_THAT(Infer(*server_, wrong_size),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("needs 4096 bytes")));
  auto wrong_out_size = ShmInfer("r", 0, "r", kInBytes);
  (*wrong_out_size.mutable_outputs(0)->mutable_parameters())["shared_memory_byte_size"]
      .set_int64_param(kOutBytes - 4);
  EXPECT_THAT(Infer(*server_, wrong_out_size),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("needs at least 256 bytes")));
  auto no_size = ShmInfer("r", 0, "", 0);
  no_size.mutable_inputs(0)->mutable_parameters()->erase("shared_memory_byte_size");
  EXPECT_THAT(Infer(*server_, no_size),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("no shared_memory_byte_size")));
  auto negative = ShmInfer("r", 0, "", 0);
  (*negative.mutable_inputs(0)->mutable_parameters())["shared_memory_offset"].set_int64_param(-4);
  EXPECT_THAT(Infer(*server_, negative),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("non-negative")));
  auto wrong_type = ShmInfer("r", 0, "", 0);
  (*wrong_type.mutable_inputs(0)->mutable_parameters())["shared_memory_region"].set_int64_param(1);
  EXPECT_THAT(Infer(*server_, wrong_type),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("string_param")));
  auto with_raw = ShmInfer("r", 0, "", 0);
  with_raw.add_raw_input_contents(std::string(kInBytes, '\0'));
  EXPECT_THAT(Infer(*server_, with_raw),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("no raw_input_contents")));
  ASSERT_OK(Unregister("r"));
  EXPECT_THAT(Infer(*server_, ShmInfer("r", 0, "", 0)),
              StatusIs(StatusCode::kNotFound, HasSubstr("not registered")));
}

TEST_F(SharedMemoryTest, CudaSharedMemoryIsUnimplemented) {
  StartServer();
  inference::CudaSharedMemoryRegisterResponse response;
  EXPECT_THAT(ToAbsl(server_->oip().CudaSharedMemoryRegister(Context().get(), {}, &response)),
              StatusIs(absl::StatusCode::kUnimplemented, HasSubstr("CPU")));
  inference::CudaSharedMemoryStatusResponse status;
  EXPECT_THAT(ToAbsl(server_->oip().CudaSharedMemoryStatus(Context().get(), {}, &status)),
              StatusIs(absl::StatusCode::kUnimplemented));
}

// The batcher holds the request 300 ms for company; the region is unregistered meanwhile. The
// request still completes into the (still mapped) memory and the server does not crash.
TEST_F(SharedMemoryTest, UnregisterWhileARequestUsesTheRegion) {
  BatchingOptions batching;
  batching.max_batch_size = 8;
  batching.batch_timeout = absl::Milliseconds(300);
  StartServer(batching);
  ShmObject object(kInBytes + kOutBytes);
  ASSERT_OK(Register("r", object.key(), 0, kInBytes + kOutBytes));
  const std::vector<float> input = RandomValues(4 * 4 * 64, 5);
  object.Write(0, input);
  absl::StatusOr<inference::ModelInferResponse> answer;
  std::thread client([&] { answer = Infer(*server_, ShmInfer("r", 0, "r", kInBytes)); });
  absl::SleepFor(absl::Milliseconds(100));
  ASSERT_OK(Unregister("r"));
  client.join();
  ASSERT_OK(answer);
  EXPECT_EQ(object.Bytes(kInBytes, kOutBytes), RawAnswer(input));
}

// Shared-memory and raw requests, unary and streamed, batched together: each answer equals,
// bit for bit, the one the same input gets alone.
TEST_F(SharedMemoryTest, BatchedWithRawRequestsTheAnswersAreBitwiseTheSame) {
  BatchingOptions batching;
  batching.max_batch_size = 16;
  batching.batch_timeout = absl::Milliseconds(100);
  StartServer(batching);
  constexpr int kClients = 8;
  constexpr int kRounds = 4;
  ShmObject object(kClients * (kInBytes + kOutBytes));
  ASSERT_OK(Register("r", object.key(), 0, kClients * (kInBytes + kOutBytes)));
  std::vector<std::vector<std::string>> shm_answers(kClients), raw_answers(kClients);
  std::vector<std::thread> clients;
  const auto input_of = [](int c, int k) { return RandomValues(4 * 4 * 64, 1000 + 10 * c + k); };
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      const int64_t base = c * (kInBytes + kOutBytes);
      for (int k = 0; k < kRounds; ++k) {
        if (c % 2 == 0) {  // shared memory, alternately unary and streamed
          object.Write(base, input_of(c, k));
          auto request = ShmInfer("r", base, "r", base + kInBytes);
          if (k % 2 == 0) {
            EXPECT_OK(Infer(*server_, request));
          } else {
            auto context = Context();
            auto stream = server_->oip().ModelStreamInfer(context.get());
            ASSERT_TRUE(stream->Write(request));
            stream->WritesDone();
            inference::ModelStreamInferResponse streamed;
            ASSERT_TRUE(stream->Read(&streamed));
            EXPECT_EQ(streamed.error_message(), "");
            EXPECT_EQ(streamed.infer_response().raw_output_contents(0), "");
            EXPECT_OK(ToAbsl(stream->Finish()));
          }
          shm_answers[c].push_back(object.Bytes(base + kInBytes, kOutBytes));
        } else {
          auto answer = Infer(*server_, RawInfer("g3", {1, 4, 4, 64}, input_of(c, k)));
          EXPECT_OK(answer);
          raw_answers[c].push_back(answer.ok() ? answer->raw_output_contents(0) : "");
        }
      }
    });
  }
  for (auto& client : clients) client.join();
  EXPECT_GT(server_->observer().LargestBatch("g3"), 1) << "no batching happened";
  // The references, one request at a time on a server that never batches.
  TempDir alone_dir;
  TestServer::Options alone_options;
  alone_options.repository_dir = alone_dir.path();
  alone_options.batching.max_batch_size = 1;
  auto alone = TestServer::Start(alone_options);
  ASSERT_OK(alone);
  ASSERT_OK(CreateLayer(**alone, SeededLayer("g3", kDcganG3, 64, 7)));
  for (int c = 0; c < kClients; ++c) {
    const auto& got = c % 2 == 0 ? shm_answers[c] : raw_answers[c];
    ASSERT_EQ(got.size(), static_cast<size_t>(kRounds));
    for (int k = 0; k < kRounds; ++k) {
      auto reference = Infer(**alone, RawInfer("g3", {1, 4, 4, 64}, input_of(c, k)));
      ASSERT_OK(reference);
      EXPECT_EQ(got[k], reference->raw_output_contents(0)) << "client " << c << " round " << k;
    }
  }
}

}  // namespace
}  // namespace tconv::server::testing
