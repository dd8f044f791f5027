// What a fuzz target does when a property it checks does not hold: print why and abort, which
// libFuzzer reports as a crash (and saves the input), like a sanitizer report.
#ifndef TCONV_TESTS_FUZZ_FUZZ_CHECK_H_
#define TCONV_TESTS_FUZZ_FUZZ_CHECK_H_

#include <cstdio>
#include <cstdlib>

#define TCONV_FUZZ_CHECK(condition)                                                         \
  do {                                                                                      \
    if (!(condition)) {                                                                     \
      std::fprintf(stderr, "%s:%d: property failed: %s\n", __FILE__, __LINE__, #condition); \
      std::abort();                                                                         \
    }                                                                                       \
  } while (0)

#endif  // TCONV_TESTS_FUZZ_FUZZ_CHECK_H_
