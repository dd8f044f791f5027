// Reading Prometheus' text exposition format in tests: the value of one sample, found by name
// and labels in any order, as a scraper would see it.
#ifndef TCONV_TESTS_TESTING_EXPOSITION_H_
#define TCONV_TESTS_TESTING_EXPOSITION_H_

#include <map>
#include <optional>
#include <sstream>
#include <string>

namespace tconv::testing {

using SampleLabels = std::map<std::string, std::string>;

// The value of the sample `name{labels}` (exact label set), or nullopt when it is absent.
inline std::optional<double> SampleValue(const std::string& exposition, const std::string& name,
                                         const SampleLabels& labels = {}) {
  std::istringstream lines(exposition);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] == '#') continue;
    const auto brace = line.find('{');
    const auto space = line.rfind(' ');
    if (space == std::string::npos) continue;
    const std::string sample_name = line.substr(0, std::min(brace, space));
    if (sample_name != name) continue;
    SampleLabels found;
    if (brace != std::string::npos && brace < space) {
      const std::string body = line.substr(brace + 1, line.rfind('}') - brace - 1);
      std::istringstream pairs(body);
      std::string pair;
      while (std::getline(pairs, pair, ',')) {
        const auto eq = pair.find('=');
        if (eq == std::string::npos || pair.size() < eq + 3) continue;
        found[pair.substr(0, eq)] = pair.substr(eq + 2, pair.size() - eq - 3);
      }
    }
    if (found == labels) return std::stod(line.substr(space + 1));
  }
  return std::nullopt;
}

}  // namespace tconv::testing

#endif  // TCONV_TESTS_TESTING_EXPOSITION_H_
