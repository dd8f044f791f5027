#include "ort_peer.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "nlohmann/json.hpp"

namespace tconv::bench {
namespace {

absl::Status WriteFloats(const std::string& path, const std::vector<float>& values) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(values.data()),
            static_cast<std::streamsize>(values.size() * sizeof(float)));
  return out ? absl::OkStatus() : absl::InternalError(absl::StrCat("cannot write ", path));
}

}  // namespace

absl::StatusOr<std::unique_ptr<OrtPeer>> OrtPeer::Start(const std::string& python,
                                                        const std::string& script) {
  // A child that died (a bad interpreter, an import error) must turn into an error status on
  // the next command, not end the benchmark with SIGPIPE.
  signal(SIGPIPE, SIG_IGN);
  char pattern[] = "/tmp/tconv_bench_ort.XXXXXX";
  if (mkdtemp(pattern) == nullptr) return absl::UnavailableError("cannot make a scratch folder");
  int to_child[2], from_child[2];
  if (pipe(to_child) != 0 || pipe(from_child) != 0) return absl::UnavailableError("pipe failed");
  const pid_t pid = fork();
  if (pid < 0) return absl::UnavailableError("fork failed");
  if (pid == 0) {
    dup2(to_child[0], STDIN_FILENO);
    dup2(from_child[1], STDOUT_FILENO);
    close(to_child[1]);
    close(from_child[0]);
    execl(python.c_str(), python.c_str(), script.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  close(to_child[0]);
  close(from_child[1]);
  std::unique_ptr<OrtPeer> peer(new OrtPeer());
  peer->pid_ = pid;
  peer->to_ = fdopen(to_child[1], "w");
  peer->from_ = fdopen(from_child[0], "r");
  peer->dir_ = pattern;
  return peer;
}

OrtPeer::~OrtPeer() {
  if (to_ != nullptr) fclose(to_);  // the child's stdin closes: it exits
  if (from_ != nullptr) fclose(from_);
  if (pid_ > 0) waitpid(pid_, nullptr, 0);
  std::error_code ignored;
  if (!dir_.empty()) std::filesystem::remove_all(dir_, ignored);
}

absl::StatusOr<std::string> OrtPeer::Ask(const std::string& command) {
  if (std::fputs((command + "\n").c_str(), to_) < 0 || std::fflush(to_) != 0) {
    return absl::UnavailableError("the ONNX Runtime process is gone");
  }
  std::string answer;
  for (int c = std::fgetc(from_); c != EOF && c != '\n'; c = std::fgetc(from_)) answer += char(c);
  if (answer.empty()) return absl::UnavailableError("the ONNX Runtime process did not answer");
  if (answer.rfind("error ", 0) == 0) return absl::InternalError(answer.substr(6));
  return answer;
}

absl::StatusOr<std::string> OrtPeer::Describe() { return Ask("describe"); }

// ONNX's ConvTranspose crops `pads` ([top, left, bottom, right]) from the full result (length
// L = (n-1)*s + (k-1)*d + 1) and appends `output_padding` rows: Keras' top crop
// t = floor((L - o) / 2), the rest at the bottom, or rows appended when output_padding makes o
// larger than L - t (the mapping of the XNNPACK peer).
absl::StatusOr<std::vector<float>> OrtPeer::Load(const LayerConfig& config,
                                                 const LayerWeights& weights,
                                                 const std::vector<float>& input,
                                                 const Shape4& input_shape, int threads) {
  std::vector<int64_t> pads(4), output_padding(2);
  int64_t out_hw[2];
  for (int axis = 0; axis < 2; ++axis) {
    const int64_t n = input_shape[1 + axis], k = config.kernel_size[axis];
    const int64_t s = config.strides[axis], d = config.dilation_rate[axis];
    const int64_t full = (n - 1) * s + (k - 1) * d + 1;
    out_hw[axis] = config.OutputLength(n, axis);
    const int64_t top =
        config.padding == Padding::kSame ? std::max<int64_t>(0, full - out_hw[axis]) / 2 : 0;
    const int64_t bottom = full - out_hw[axis] - top;  // negative: rows appended
    pads[axis] = top;
    pads[2 + axis] = std::max<int64_t>(0, bottom);
    output_padding[axis] = std::max<int64_t>(0, -bottom);
  }
  const std::string input_path = dir_ + "/input", kernel_path = dir_ + "/kernel";
  const std::string bias_path = dir_ + "/bias", output_path = dir_ + "/output";
  if (absl::Status s = WriteFloats(input_path, input); !s.ok()) return s;
  if (absl::Status s = WriteFloats(kernel_path, weights.kernel); !s.ok()) return s;
  if (config.use_bias) {
    if (absl::Status s = WriteFloats(bias_path, weights.bias); !s.ok()) return s;
  }
  const nlohmann::json spec = {
      {"input_shape", {input_shape[0], input_shape[1], input_shape[2], input_shape[3]}},
      {"filters", config.filters},
      {"kernel_size", {config.kernel_size[0], config.kernel_size[1]}},
      {"strides", {config.strides[0], config.strides[1]}},
      {"dilations", {config.dilation_rate[0], config.dilation_rate[1]}},
      {"pads", pads},
      {"output_padding", output_padding},
      {"output_hw", {out_hw[0], out_hw[1]}},
      {"threads", threads},
      {"input", input_path},
      {"kernel", kernel_path},
      {"bias", config.use_bias ? bias_path : ""},
      {"output", output_path}};
  if (auto answer = Ask("load " + spec.dump()); !answer.ok()) {
    return absl::InternalError(
        absl::StrCat("ONNX Runtime refused ", config.name, ": ", answer.status().message()));
  }
  std::vector<float> out(input_shape[0] * out_hw[0] * out_hw[1] * config.filters);
  std::ifstream file(output_path, std::ios::binary);
  file.read(reinterpret_cast<char*>(out.data()),
            static_cast<std::streamsize>(out.size() * sizeof(float)));
  if (!file) return absl::InternalError(absl::StrCat("cannot read ", output_path));
  return out;
}

absl::StatusOr<std::vector<double>> OrtPeer::Round(double warm_up_ms, int calls, bool thread_cpu) {
  auto answer = Ask(absl::StrCat("round ", warm_up_ms, " ", calls, " ", thread_cpu ? 1 : 0));
  if (!answer.ok()) return answer.status();
  std::vector<double> ms;
  for (absl::string_view word : absl::StrSplit(*answer, ' ', absl::SkipEmpty())) {
    double value;
    if (!absl::SimpleAtod(word, &value)) {
      return absl::InternalError(absl::StrCat("bad round answer: ", *answer));
    }
    ms.push_back(value);
  }
  if (ms.size() != static_cast<size_t>(calls)) {
    return absl::InternalError(absl::StrCat("bad round answer: ", *answer));
  }
  return ms;
}

absl::Status OrtPeer::Drop() { return Ask("drop").status(); }

}  // namespace tconv::bench
