// The `tconv` tool's remote subcommands end to end: the real binary, run as a subprocess,
// against a real in-process server on 127.0.0.1:0.
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>

#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "gmock/gmock.h"
#include "golden_cases.h"
#include "gtest/gtest.h"
#include "server/core/npy.h"
#include "tconv/client/client.h"
#include "test_server.h"
#include "testing/status_matchers.h"

extern char** environ;

namespace tconv::testing {
namespace {

using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

struct ToolRun {
  int exit_code = -1;
  std::string out;
  std::string err;
};

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

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

  // Runs `tconv args...` (posix_spawn: no fork of this multi-threaded process).
  ToolRun Tool(std::vector<std::string> args) {
    args.insert(args.begin(), TCONV_TOOL_PATH);
    const std::string out_path = Path("tool.out"), err_path = Path("tool.err");
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                     0644);
    posix_spawn_file_actions_addopen(&actions, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                     0644);
    std::vector<char*> argv;
    for (std::string& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    ToolRun run;
    pid_t pid = 0;
    if (posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ) == 0) {
      int status = 0;
      waitpid(pid, &status, 0);
      run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    posix_spawn_file_actions_destroy(&actions);
    run.out = ReadAll(out_path);
    run.err = ReadAll(err_path);
    return run;
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
  const ToolRun run =
      Tool({"conformance", Server(), "--timeout=60s", kGoldenCasesFile, kErrorCasesFile,
            kKerasCasesFile});
  EXPECT_EQ(run.exit_code, 0) << run.out << run.err;
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
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_THAT(run.out, HasSubstr("gen1"));
  absl::StatusOr<client::LayerInfo> layer = client_->GetLayer("gen1");
  ASSERT_OK(layer);
  EXPECT_EQ(layer->weight_checksum, WeightChecksum(c.kernel, c.bias));

  run = Tool({"get", Server(), "--name", "gen1"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_THAT(run.out, HasSubstr(absl::StrFormat("%016x", layer->weight_checksum)));
  EXPECT_THAT(run.out, HasSubstr("semantics:       Keras 2\n"));
  run = Tool({"list", Server()});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_THAT(run.out, HasSubstr("gen1"));
  EXPECT_THAT(run.out, HasSubstr("1 layer\n"));

  run = Tool({"infer", Server(), "--name=gen1", "--input=" + Path("in.npy"),
              "--output=" + Path("out.npy")});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  absl::StatusOr<server::NpyArray> out = server::ReadNpyFile(Path("out.npy"), "out.npy");
  ASSERT_OK(out);
  ASSERT_EQ(out->shape, c.output_shape);
  for (size_t i = 0; i < c.output.size(); ++i) {
    ASSERT_TRUE(WithinTolerance(out->data[i], c.output[i])) << "element " << i;
  }

  run = Tool({"delete", Server(), "--name=gen1"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  run = Tool({"get", Server(), "--name=gen1"});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_THAT(run.err, HasSubstr("NOT_FOUND"));
}

// A config with Keras 3's marker (its dtype as a DTypePolicy object) is computed with Keras 3's
// meanings (here: unequal dilation rates, which Keras 2 refuses), and `get` says so.
TEST_F(ToolTest, GetSaysWhichKerasSemanticsALayerHas) {
  WriteFile("keras3.json", R"({"filters": 2, "kernel_size": 3, "dilation_rate": [1, 2],
      "dtype": {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"},
                "registered_name": null}})");
  WriteFile("keras2.json", R"({"filters": 2, "kernel_size": 3, "dilation_rate": [1, 2]})");
  ToolRun run = Tool({"create", Server(), "--name=k3", "--config=" + Path("keras3.json"),
                      "--input_channels=2"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  run = Tool({"get", Server(), "--name=k3"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_THAT(run.out, HasSubstr("semantics:       Keras 3"));
  run = Tool({"create", Server(), "--name=k2", "--config=" + Path("keras2.json"),
              "--input_channels=2"});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_THAT(run.err, HasSubstr("must be equal on both axes in a Keras 2 config"));
}

TEST_F(ToolTest, CreateFromInitializersAndReplace) {
  WriteFile("config.json", R"({"filters": 8, "kernel_size": 3, "strides": 2})");
  const std::vector<std::string> create = {
      "create",  Server(), "--name=seeded", "--config=" + Path("config.json"), "--input_channels=4",
      "--seed=7"};
  ToolRun run = Tool(create);
  ASSERT_EQ(run.exit_code, 0) << run.err;
  run = Tool(create);
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_THAT(run.err, HasSubstr("ALREADY_EXISTS"));
  std::vector<std::string> replace = create;
  replace.push_back("--replace");
  run = Tool(replace);
  EXPECT_EQ(run.exit_code, 0) << run.err;
  absl::StatusOr<client::LayerInfo> layer = client_->GetLayer("seeded");
  ASSERT_OK(layer);
  EXPECT_EQ(layer->in_channels, 4);
}

TEST_F(ToolTest, RefusalsKeepTheServersCodeAndExitStatus) {
  WriteFile("bad.json", R"({"filters": 0, "kernel_size": 3})");
  ToolRun run = Tool(
      {"create", Server(), "--name=bad", "--config=" + Path("bad.json"), "--input_channels=4"});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_THAT(run.err, HasSubstr("INVALID_ARGUMENT"));
  EXPECT_THAT(run.err, HasSubstr("filters"));
  // Command-line mistakes are usage errors (exit status 2) and reach no server.
  EXPECT_EQ(Tool({"create", Server(), "--config=" + Path("bad.json")}).exit_code, 2);
  EXPECT_EQ(Tool({"get", Server(), "--name=x", "--timeout=soon"}).exit_code, 2);
  EXPECT_EQ(Tool({"list", Server(), "--bogus"}).exit_code, 2);
  run = Tool({"create", Server(), "--name=x", "--config=" + Path("bad.json"),
              "--weights=" + Path("missing.npy"), "--input_channels=3"});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_THAT(client_->ListLayers(), IsOkAndHolds(IsEmpty()));
}

TEST_F(ToolTest, HealthExitsZeroOnlyWhenServing) {
  ToolRun run = Tool({"health", Server()});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.out, "SERVING\n");
  run = Tool({"health", Server(), "--service=inference.GRPCInferenceService"});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  server_->server().StartDraining();
  run = Tool({"health", Server()});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_EQ(run.out, "NOT_SERVING\n");
}

}  // namespace
}  // namespace tconv::testing
