#include "options.h"

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"

namespace tconv::bench {

Options ParseOptions(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    // The value of --name=VALUE, or nullptr when `arg` is another flag.
    auto value = [&](const char* name) -> const char* {
      const std::string prefix = absl::StrCat("--", name, "=");
      return arg.rfind(prefix, 0) == 0 ? argv[i] + prefix.size() : nullptr;
    };
    if (value("suite")) {
      o.suite = value("suite");
    } else if (value("cases")) {
      o.cases = value("cases");
    } else if (value("seconds")) {
      o.seconds = std::atof(value("seconds"));
    } else if (value("plot_data")) {
      o.plot_data = value("plot_data");
    } else if (value("ort_python")) {
      o.ort_python = value("ort_python");
    } else if (arg == "--clock=thread_cpu") {
      o.thread_cpu_clock = true;
    } else if (value("threads")) {
      o.threads.clear();
      for (absl::string_view t : absl::StrSplit(value("threads"), ',')) {
        o.threads.push_back(std::atoi(std::string(t).c_str()));
      }
    } else {
      std::fprintf(stderr, "tconv_bench: unknown argument %s\n", argv[i]);
      std::exit(2);
    }
  }
  return o;
}

}  // namespace tconv::bench
