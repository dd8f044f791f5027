// For the targets that parse protobuf messages: protobuf logs an ERROR line for every string
// field with invalid UTF-8 (which the fuzzer sends often), flooding the log and slowing the run.
// The parse still fails or succeeds as the server's would; only the message is dropped.
#ifndef TCONV_TESTS_FUZZ_FUZZ_PROTO_H_
#define TCONV_TESTS_FUZZ_FUZZ_PROTO_H_

#include "google/protobuf/stubs/logging.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  google::protobuf::SetLogHandler(
      [](google::protobuf::LogLevel, const char*, int, const std::string&) {});
  return 0;
}

#endif  // TCONV_TESTS_FUZZ_FUZZ_PROTO_H_
