// Several files in one fuzz input: the contents one after another, separated by kFileSeparator.
// Used by the repository folder target (config.json, kernel.npy, bias.npy) and by the seed
// generator that writes its corpus, so the two agree on the format.
#ifndef TCONV_TESTS_FUZZ_FUZZ_FILES_H_
#define TCONV_TESTS_FUZZ_FUZZ_FILES_H_

#include <string>
#include <string_view>
#include <vector>

namespace tconv::fuzz {

inline constexpr std::string_view kFileSeparator = "\n--tconv-next-file--\n";

inline std::vector<std::string_view> SplitFiles(std::string_view input) {
  std::vector<std::string_view> files;
  while (true) {
    const size_t at = input.find(kFileSeparator);
    files.push_back(input.substr(0, at));
    if (at == std::string_view::npos) return files;
    input.remove_prefix(at + kFileSeparator.size());
  }
}

inline std::string JoinFiles(const std::vector<std::string>& files) {
  std::string joined;
  for (size_t i = 0; i < files.size(); ++i) {
    if (i > 0) joined += kFileSeparator;
    joined += files[i];
  }
  return joined;
}

}  // namespace tconv::fuzz

#endif  // TCONV_TESTS_FUZZ_FUZZ_FILES_H_
