// The `tconv` tool's remote subcommands end to end: the real binary, run as a subprocess,
// against a real in-process server on 127.0.0.1:0.
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "gmock/gmock.h"
#include "golden_cases.h"
#include "gtest/gtest.h"
#include "tconv/client/client.h"
#include "tconv/npy/npy.h"
#include "testing/status_matchers.h"
#include "testing/subprocess.h"
#include "testing/test_server.h"

namespace tconv::testing {
namespace {

using ::tconv::server::testing::TestServer;
using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

class ToolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<TestServer>> server = TestServer::Start();
    ASSERT_OK(server);
    server_ = *std::move(server);
    absl::StatusOr<std::unique_ptr<client::Client>> client =
        client::Client::Create(server_->address());
    ASSERT_OK(client);
    client_ = *std::move(client);
  }

  // Runs `tconv args...` to completion (bounded; testing/subprocess.h).
  ToolRun Tool(std::vector<std::string> args) {
    args.insert(args.begin(), TCONV_TOOL_PATH);
    return RunTool(std::move(args), server_->dir());
  }

  std::string Path(const std::string& file) const { return server_->dir() + "/" + file; }
  std::string Server() const { return "--server=" + server_->address(); }

  void WriteFile(const std::string& file, const std::string& bytes) {
    std::ofstream(Path(file), std::ios::binary) << bytes;
  }

  std::unique_ptr<TestServer> server_;
  std::unique_ptr<client::Client> client_;
};

TEST_F(ToolTest, ConformanceThroughTheServerPassesEveryCaseAndCleansUp) {
  const ToolRun run = Tool({"conformance", Server(), "--timeout=60s", kGoldenCasesFile,
                            kErrorCasesFile, kKerasCasesFile});
  EXPECT_EQ(run.exit_status, 0) << run.out << run.err;
  EXPECT_THAT(run.out, EndsWith("217 passed, 0 failed\n")) << run.out;
  // Every temporary layer was deleted again.
  EXPECT_THAT(client_->ListLayers(), IsOkAndHolds(IsEmpty()));
}

TEST_F(ToolTest, CreateGetListInferDeleteWithNpyFiles) {
  const GoldenCase c = LoadGoldenCases().at(1);  // batch 2, k5 s2 same, output_padding 1
  WriteFile("config.json", c.config_json);
  WriteFile("kernel.npy", server::SerializeNpy(c.kernel_shape, c.kernel));
  WriteFile("bias.npy", server::SerializeNpy({static_cast<int64_t>(c.bias.size())}, c.bias));
  WriteFile("in.npy", server::SerializeNpy(c.input_shape, c.input));

  ToolRun run = Tool({"create", Server(), "--name=gen1", "--config=" + Path("config.json"),
                      "--weights=" + Path("kernel.npy"), "--bias=" + Path("bias.npy")});
  ASSERT_EQ(run.exit_status, 0) << run.err;
  EXPECT_THAT(run.out, HasSubstr("gen1"));
  absl::StatusOr<client::LayerInfo> layer = client_->GetLayer("gen1");
  ASSERT_OK(layer);
  EXPECT_EQ(layer->weight_checksum, WeightChecksum(c.kernel, c.bias));

  run = Tool({"get", Server(), "--name", "gen1"});
  ASSERT_EQ(run.exit_status, 0) << run.err;
  EXPECT_THAT(run.out, HasSubstr(absl::StrFormat("%016x", layer->weight_checksum)));
  EXPECT_THAT(run.out, HasSubstr("semantics:       Keras 2\n"));
  run = Tool({"list", Server()});
  ASSERT_EQ(run.exit_status, 0) << run.err;
  EXPECT_THAT(run.out, HasSubstr("gen1"));
  EXPECT_THAT(run.out, HasSubstr("1 layer\n"));

  run = Tool({"infer", Server(), "--name=gen1", "--input=" + Path("in.npy"),
              "--output=" + Path("out.npy")});
  ASSERT_EQ(run.exit_status, 0) << run.err;
  absl::StatusOr<server::NpyArray> out = server::ReadNpyFile(Path("out.npy"), "out.npy");
  ASSERT_OK(out);
  ASSERT_EQ(out->shape, c.output_shape);
  for (size_t i = 0; i < c.output.size(); ++i) {
    ASSERT_TRUE(WithinTolerance(out->data[i], c.output[i])) << "element " << i;
  }

  run = Tool({"delete", Server(), "--name=gen1"});
  ASSERT_EQ(run.exit_status, 0) << run.err;
  run = Tool({"get", Server(), "--name=gen1"});
  EXPECT_EQ(run.exit_status, 1);
  EXPECT_THAT(run.err, HasSubstr("NOT_FOUND"));
}

// A config with Keras 3's marker (its dtype as a DTypePolicy object) is computed with Keras 3's
// meanings (here: unequal dilation rates, which Keras 2 refuses), and `get` says so.
TEST_F(ToolTest, GetSaysWhichKerasSemanticsALayerHas) {
  WriteFile("keras3.json", R"({"filters": 2, "kernel_size": 3, "dilation_rate": [1, 2],
      "dtype": {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"},
                "registered_name": null}})");
  WriteFile("keras2.json", R"({"filters": 2, "kernel_size": 3, "dilation_rate": [1, 2]})");
  ToolRun run = Tool(
      {"create", Server(), "--name=k3", "--config=" + Path("keras3.json"), "--input_channels=2"});
  ASSERT_EQ(run.exit_status, 0) << run.err;
  run = Tool({"get", Server(), "--name=k3"});
  ASSERT_EQ(run.exit_status, 0) << run.err;
  EXPECT_THAT(run.out, HasSubstr("semantics:       Keras 3"));
  run = Tool(
      {"create", Server(), "--name=k2", "--config=" + Path("keras2.json"), "--input_channels=2"});
  EXPECT_EQ(run.exit_status, 1);
  EXPECT_THAT(run.err, HasSubstr("must be equal on both axes in a Keras 2 config"));
}

TEST_F(ToolTest, CreateFromInitializersAndReplace) {
  WriteFile("config.json", R"({"filters": 8, "kernel_size": 3, "strides": 2})");
  const std::vector<std::string> create = {
      "create",  Server(), "--name=seeded", "--config=" + Path("config.json"), "--input_channels=4",
      "--seed=7"};
  ToolRun run = Tool(create);
  ASSERT_EQ(run.exit_status, 0) << run.err;
  run = Tool(create);
  EXPECT_EQ(run.exit_status, 1);
  EXPECT_THAT(run.err, HasSubstr("ALREADY_EXISTS"));
  std::vector<std::string> replace = create;
  replace.push_back("--replace");
  run = Tool(replace);
  EXPECT_EQ(run.exit_status, 0) << run.err;
  absl::StatusOr<client::LayerInfo> layer = client_->GetLayer("seeded");
  ASSERT_OK(layer);
  EXPECT_EQ(layer->in_channels, 4);
}

TEST_F(ToolTest, RefusalsKeepTheServersCodeAndExitStatus) {
  WriteFile("bad.json", R"({"filters": 0, "kernel_size": 3})");
  ToolRun run = Tool(
      {"create", Server(), "--name=bad", "--config=" + Path("bad.json"), "--input_channels=4"});
  EXPECT_EQ(run.exit_status, 1);
  EXPECT_THAT(run.err, HasSubstr("INVALID_ARGUMENT"));
  EXPECT_THAT(run.err, HasSubstr("filters"));
  // Command-line mistakes are usage errors (exit status 2) and reach no server.
  EXPECT_EQ(Tool({"create", Server(), "--config=" + Path("bad.json")}).exit_status, 2);
  EXPECT_EQ(Tool({"get", Server(), "--name=x", "--timeout=soon"}).exit_status, 2);
  EXPECT_EQ(Tool({"list", Server(), "--bogus"}).exit_status, 2);
  run = Tool({"create", Server(), "--name=x", "--config=" + Path("bad.json"),
              "--weights=" + Path("missing.npy"), "--input_channels=3"});
  EXPECT_EQ(run.exit_status, 1);
  EXPECT_THAT(client_->ListLayers(), IsOkAndHolds(IsEmpty()));
}

// Every subcommand answers --help on stdout with its usage, its own flags (each explained),
// an example, and exits 0 without contacting a server.
TEST_F(ToolTest, EverySubcommandsHelpNamesItsFlagsAndExitsZero) {
  const std::map<std::string, std::vector<std::string>> flags = {
      {"conformance", {"--impl", "--threads"}},
      {"create",
       {"--name", "--config", "--weights", "--bias", "--input_channels", "--seed", "--replace"}},
      {"list", {}},
      {"get", {"--name"}},
      {"delete", {"--name"}},
      {"infer", {"--name", "--input", "--output"}},
      {"health", {"--service"}},
      {"index", {"--ready"}},
      {"load", {"--name"}},
      {"unload", {"--name"}},
      {"loadgen",
       {"--layer", "--input_shape", "--concurrency", "--duration", "--requests", "--seed",
        "--progress"}},
  };
  for (const auto& [command, own] : flags) {
    for (const char* help : {"--help", "-h"}) {
      const ToolRun run = Tool({command, help});
      EXPECT_EQ(run.exit_status, 0) << command << " " << help << ": " << run.err;
      EXPECT_THAT(run.out, ::testing::StartsWith("usage: tconv " + command + " ")) << command;
      EXPECT_THAT(run.out, HasSubstr("tconv " + command + " --")) << command << ": no example";
      for (const std::string& flag : own) {
        // "  --flag..." at the start of a line: the flag's own explanation.
        EXPECT_THAT(run.out, HasSubstr("\n  " + flag)) << command << " does not explain " << flag;
      }
      for (const char* common : {"--server=HOST:PORT", "--timeout=DURATION", "--token_file"}) {
        EXPECT_THAT(run.out, HasSubstr(std::string("\n  ") + common)) << command;
      }
    }
  }
  // Help wins over other flags, even a bad one; after "--" it is an argument.
  EXPECT_EQ(Tool({"get", "--bogus", "--help"}).exit_status, 0);
  EXPECT_EQ(Tool({"get", "--name=x", "--", "--help"}).exit_status, 2);
  const ToolRun top = Tool({"help"});
  EXPECT_EQ(top.exit_status, 0);
  for (const char* command : {"index ", "load ", "unload "}) {
    EXPECT_THAT(top.out, HasSubstr(std::string("\n  ") + command));
  }
}

// A folder that failed to load is visible with its reason (list, index, get), and the
// repository extension's load/unload work from the tool.
TEST_F(ToolTest, BrokenFolderIsListedWithItsReasonAndLoadUnloadWork) {
  WriteFile("config.json", R"({"filters": 2, "kernel_size": 3})");
  ToolRun run = Tool({"create", Server(), "--name=good", "--config=" + Path("config.json"),
                      "--input_channels=3", "--seed=1"});
  ASSERT_EQ(run.exit_status, 0) << run.err;
  const std::string repository = server_->dir() + "/repository";
  std::filesystem::copy(repository + "/good", repository + "/broken");
  std::ofstream(repository + "/broken/kernel.npy", std::ios::trunc) << "\x93NUMPY";

  run = Tool({"load", Server(), "--name=broken"});
  EXPECT_EQ(run.exit_status, 1);
  EXPECT_THAT(run.err, HasSubstr("tconv load: INVALID_ARGUMENT: "));
  EXPECT_THAT(run.err, HasSubstr("kernel.npy"));

  run = Tool({"list", Server()});
  ASSERT_EQ(run.exit_status, 0) << run.err;
  EXPECT_THAT(run.out, HasSubstr("good "));
  EXPECT_THAT(run.out, ::testing::ContainsRegex("\nbroken +UNAVAILABLE +kernel.npy"));
  EXPECT_THAT(run.out, HasSubstr("1 layer, 1 not served"));
  run = Tool({"index", Server()});
  ASSERT_EQ(run.exit_status, 0) << run.err;
  EXPECT_THAT(run.out, ::testing::ContainsRegex("(^|\n)broken +UNAVAILABLE +kernel.npy"));
  EXPECT_THAT(run.out, ::testing::ContainsRegex("\ngood +READY +-\n"));
  EXPECT_THAT(run.out, HasSubstr("2 folders, 1 ready\n"));
  run = Tool({"index", Server(), "--ready"});
  ASSERT_EQ(run.exit_status, 0) << run.err;
  EXPECT_THAT(run.out, Not(HasSubstr("broken")));
  run = Tool({"get", Server(), "--name=broken"});
  EXPECT_EQ(run.exit_status, 1);
  EXPECT_THAT(run.err, HasSubstr("NOT_FOUND"));
  EXPECT_THAT(run.err, HasSubstr("not served: kernel.npy"));
  EXPECT_THAT(run.err, HasSubstr("tconv load"));

  // Fixed on disk, loaded from the tool: served.
  std::filesystem::copy_file(repository + "/good/kernel.npy", repository + "/broken/kernel.npy",
                             std::filesystem::copy_options::overwrite_existing);
  run = Tool({"load", Server(), "--name=broken"});
  EXPECT_EQ(run.exit_status, 0) << run.err;
  EXPECT_EQ(run.out, "loaded broken\n");
  const std::vector<float> input(4 * 4 * 3, 0.5f);
  EXPECT_OK(client_->Infer("broken", input, {1, 4, 4, 3}).status());

  run = Tool({"unload", Server(), "--name=good"});
  EXPECT_EQ(run.exit_status, 0) << run.err;
  EXPECT_THAT(client_->Infer("good", input, {1, 4, 4, 3}), StatusIs(absl::StatusCode::kNotFound));
  run = Tool({"list", Server()});
  EXPECT_THAT(run.out, ::testing::ContainsRegex("\ngood +UNAVAILABLE +unloaded\n"));
  run = Tool({"load", Server(), "--name=good"});
  EXPECT_EQ(run.exit_status, 0) << run.err;
  EXPECT_OK(client_->Infer("good", input, {1, 4, 4, 3}).status());
  EXPECT_EQ(Tool({"load", Server()}).exit_status, 2);  // --name is required
  run = Tool({"unload", Server(), "--name=nothing"});
  EXPECT_EQ(run.exit_status, 1);
  EXPECT_THAT(run.err, HasSubstr("NOT_FOUND"));
}

// Messages name what the user typed: the tool's flags, and "local file" for files of this
// machine (not a server's NOT_FOUND).
TEST_F(ToolTest, MessagesNameTheFlagsAndSayWhenAFileIsLocal) {
  const GoldenCase c = LoadGoldenCases().at(1);  // use_bias true
  WriteFile("config.json", c.config_json);
  WriteFile("kernel.npy", server::SerializeNpy(c.kernel_shape, c.kernel));
  std::vector<float> long_bias = c.bias;
  long_bias.push_back(1.0f);
  WriteFile("bias.npy", server::SerializeNpy({static_cast<int64_t>(long_bias.size())}, long_bias));
  ToolRun run = Tool({"create", Server(), "--name=b", "--config=" + Path("config.json"),
                      "--weights=" + Path("kernel.npy"), "--bias=" + Path("bias.npy")});
  EXPECT_EQ(run.exit_status, 1);
  EXPECT_THAT(run.err, HasSubstr("INVALID_ARGUMENT"));
  EXPECT_THAT(run.err, HasSubstr("the bias is --bias")) << run.err;

  WriteFile("seeded.json", R"({"filters": 2, "kernel_size": 3})");
  const std::vector<std::string> create = {"create", Server(), "--name=s",
                                           "--config=" + Path("seeded.json"), "--input_channels=2"};
  ASSERT_EQ(Tool(create).exit_status, 0);
  std::vector<std::string> again = create;
  again.push_back("--replace=false");  // false means false
  run = Tool(again);
  EXPECT_EQ(run.exit_status, 1);
  EXPECT_THAT(run.err, HasSubstr("ALREADY_EXISTS"));
  EXPECT_THAT(run.err, HasSubstr("pass --replace to replace it"));
  again.back() = "--replace=true";
  EXPECT_EQ(Tool(again).exit_status, 0);
  again.back() = "--replace=maybe";
  run = Tool(again);
  EXPECT_EQ(run.exit_status, 2);
  EXPECT_THAT(run.err, HasSubstr("--replace must be true or false"));

  run = Tool({"create", Server(), "--name=m", "--config=" + Path("config.json"),
              "--weights=" + Path("missing.npy")});
  EXPECT_EQ(run.exit_status, 1);
  EXPECT_THAT(run.err, HasSubstr("local file (--weights): cannot open"));
  EXPECT_THAT(run.err, Not(HasSubstr("NOT_FOUND")));
  run = Tool(
      {"create", Server(), "--name=m", "--config=" + Path("missing.json"), "--input_channels=2"});
  EXPECT_EQ(run.exit_status, 1);
  EXPECT_THAT(run.err, HasSubstr("cannot open the local file"));
  run = Tool({"infer", Server(), "--name=s", "--input=" + Path("missing.npy"),
              "--output=" + Path("out.npy")});
  EXPECT_EQ(run.exit_status, 1);
  EXPECT_THAT(run.err, HasSubstr("local file (--input)"));
  run = Tool({"get", Server(), "--name=s", "--timeout=0s"});
  EXPECT_EQ(run.exit_status, 2);
  EXPECT_THAT(run.err, HasSubstr("--timeout must be a positive duration"));
}

TEST_F(ToolTest, HealthExitsZeroOnlyWhenServing) {
  ToolRun run = Tool({"health", Server()});
  EXPECT_EQ(run.exit_status, 0) << run.err;
  EXPECT_EQ(run.out, "SERVING\n");
  run = Tool({"health", Server(), "--service=inference.GRPCInferenceService"});
  EXPECT_EQ(run.exit_status, 0) << run.err;
  server_->server().StartDraining();
  run = Tool({"health", Server()});
  EXPECT_EQ(run.exit_status, 1);
  EXPECT_EQ(run.out, "NOT_SERVING\n");
}

}  // namespace
}  // namespace tconv::testing
