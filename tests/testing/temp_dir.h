// A fresh, empty directory under the test's temp dir (gtest's, honouring TEST_TMPDIR), removed
// with everything in it by the destructor. The one scratch-directory helper of the C++ tests.
#ifndef TCONV_TESTS_TESTING_TEMP_DIR_H_
#define TCONV_TESTS_TESTING_TEMP_DIR_H_

#include <stdlib.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <system_error>

#include "gtest/gtest.h"

namespace tconv::testing {

class TempDir {
 public:
  // Aborts when the directory cannot be made: every test using it would fail obscurely.
  TempDir() {
    std::string pattern = (std::filesystem::path(::testing::TempDir()) / "tconv_XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) {
      std::fprintf(stderr, "TempDir: mkdtemp(%s): %s\n", pattern.c_str(), std::strerror(errno));
      std::abort();
    }
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace tconv::testing

#endif  // TCONV_TESTS_TESTING_TEMP_DIR_H_
