// memcpy_rate: how fast this machine copies a tensor's bytes — the byte path's ceiling in
// bench/service/run.sh. For each size, the median of --calls copies between two buffers that
// were touched first (so no page faults are timed):
//
//   memcpy_rate --bytes=200704,1605632
//   bytes=200704 median_us=6.1 gb_per_s=32.9
//   bytes=1605632 median_us=98.0 gb_per_s=16.4
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"

ABSL_FLAG(std::string, bytes, "1048576", "comma-separated copy sizes in bytes");
ABSL_FLAG(int, calls, 200, "timed copies per size");

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  for (absl::string_view part : absl::StrSplit(absl::GetFlag(FLAGS_bytes), ',')) {
    size_t bytes = 0;
    if (!absl::SimpleAtoi(part, &bytes) || bytes == 0) {
      std::fprintf(stderr, "memcpy_rate: bad size '%s'\n", std::string(part).c_str());
      return 2;
    }
    std::vector<char> from(bytes, 1);
    std::vector<char> to(bytes, 0);
    std::vector<double> micros;
    for (int i = 0; i < std::max(1, absl::GetFlag(FLAGS_calls)); ++i) {
      from[i % bytes] = static_cast<char>(i);  // a different copy each time
      const auto start = std::chrono::steady_clock::now();
      std::memcpy(to.data(), from.data(), bytes);
      micros.push_back(
          std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start)
              .count());
      if (to[i % bytes] != from[i % bytes]) return 1;  // keeps the copy from being dropped
    }
    std::sort(micros.begin(), micros.end());
    const double median = micros[micros.size() / 2];
    std::printf("bytes=%zu median_us=%.1f gb_per_s=%.1f\n", bytes, median, bytes / median / 1e3);
  }
  return 0;
}
