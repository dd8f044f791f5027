#include "tconv/npy/npy.h"

#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/status_matchers.h"
#include "testing/temp_dir.h"

namespace tconv::server {
namespace {

using ::tconv::testing::IsOkAndHolds;
using ::tconv::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::Field;
using ::testing::HasSubstr;

constexpr auto kInvalid = absl::StatusCode::kInvalidArgument;

// A .npy file assembled byte by byte from NEP 1: magic, version, little-endian header length
// (2 bytes for 1.0, 4 for 2.0/3.0), the header dict, then raw little-endian float32 data.
std::string MakeNpy(int major, const std::string& header, const std::vector<float>& data) {
  std::string bytes = "\x93NUMPY";
  bytes.push_back(static_cast<char>(major));
  bytes.push_back('\0');
  const size_t length = header.size();
  const int length_bytes = major == 1 ? 2 : 4;
  for (int i = 0; i < length_bytes; ++i) bytes.push_back(static_cast<char>(length >> (8 * i)));
  bytes += header;
  for (float value : data) {
    uint32_t bits;
    std::memcpy(&bits, &value, 4);
    for (int i = 0; i < 4; ++i) bytes.push_back(static_cast<char>(bits >> (8 * i)));
  }
  return bytes;
}

std::string Header(const std::string& descr, const std::string& fortran, const std::string& shape) {
  return "{'descr': '" + descr + "', 'fortran_order': " + fortran + ", 'shape': " + shape + ", }\n";
}

TEST(NpyTest, SerializeMatchesWhatNumpyWrites) {
  // np.save(f, np.array([1.5, -2.0, 0.25], np.float32)) with NumPy 1.24: the header is padded
  // to 118 bytes ('v') so that the data starts at byte 128.
  const std::string expected_header = std::string("\x93NUMPY\x01\x00v\x00", 10) +
                                      "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }" +
                                      std::string(60, ' ') + "\n";
  const std::string bytes = SerializeNpy({3}, std::vector<float>{1.5f, -2.0f, 0.25f});
  ASSERT_EQ(bytes.size(), 128u + 12u);
  EXPECT_EQ(bytes.substr(0, 128), expected_header);
  // 1.5f = 0x3fc00000, little-endian.
  EXPECT_EQ(bytes.substr(128, 4), std::string("\x00\x00\xc0\x3f", 4));
}

TEST(NpyTest, RoundTripsEveryRank) {
  for (const std::vector<int64_t>& shape :
       {std::vector<int64_t>{}, {5}, {2, 3}, {3, 3, 4, 2}, {0, 7}, {1, 1, 1, 1, 1, 1, 1, 2}}) {
    int64_t count = 1;
    for (int64_t dim : shape) count *= dim;
    std::vector<float> data(count);
    for (int64_t i = 0; i < count; ++i) data[i] = 0.1f * static_cast<float>(i) - 3.0f;
    const std::string bytes = SerializeNpy(shape, data);
    EXPECT_EQ((bytes.size() - data.size() * 4) % 64, 0u) << "data not 64-byte aligned";
    auto array = ParseNpy(bytes, "x.npy");
    ASSERT_OK(array);
    EXPECT_EQ(array->shape, shape);
    EXPECT_EQ(array->data, data);  // bit-identical: exact float equality, no NaN here
  }
}

TEST(NpyTest, ReadsVersions2And3AndAnyKeyOrder) {
  const std::string header = "{\"shape\": (2, 1),'fortran_order':False ,'descr':'<f4'}   \n";
  for (int major : {1, 2, 3}) {
    EXPECT_THAT(ParseNpy(MakeNpy(major, header, {4.0f, -1.0f}), "k.npy"),
                IsOkAndHolds(Field(&NpyArray::data, ElementsAre(4.0f, -1.0f))))
        << "version " << major;
  }
}

TEST(NpyTest, ReadsNonFiniteValuesUnchanged) {
  // The repository decides about NaN; the format reader must not alter data.
  const float nan = std::numeric_limits<float>::quiet_NaN();
  auto array = ParseNpy(MakeNpy(1, Header("<f4", "False", "(1,)"), {nan}), "k.npy");
  ASSERT_OK(array);
  EXPECT_TRUE(std::isnan(array->data[0]));
}

struct Malformed {
  const char* name;
  std::string bytes;
  const char* message;
};

std::vector<Malformed> MalformedFiles() {
  const std::string good = Header("<f4", "False", "(2,)");
  std::string long_header = MakeNpy(2, good, {1, 2});
  long_header[8] = '\x00';
  long_header[9] = '\x00';
  long_header[10] = '\x01';  // 65536-byte header claimed
  std::string version = MakeNpy(1, good, {1, 2});
  version[6] = '\x04';
  std::string minor = MakeNpy(1, good, {1, 2});
  minor[7] = '\x01';
  return {
      {"Empty", "", "not a .npy file"},
      {"BadMagic", "\x93NUMPZ\x01\x00\x00\x00", "not a .npy file"},
      {"Version4", version, "format version 4.0 is not supported"},
      {"Version1_1", minor, "format version 1.1 is not supported"},
      {"HeaderOverLimit", long_header, "exceeds the limit of 10000"},
      {"TruncatedHeader", MakeNpy(1, good, {}).substr(0, 40), "truncated .npy header"},
      {"Float64", MakeNpy(1, Header("<f8", "False", "(1,)"), {0, 0}), "dtype '<f8'"},
      {"BigEndian", MakeNpy(1, Header(">f4", "False", "(2,)"), {1, 2}), "big-endian"},
      {"Uint8", MakeNpy(1, Header("|u1", "False", "(8,)"), {1, 2}), "dtype '|u1'"},
      {"Fortran", MakeNpy(1, Header("<f4", "True", "(2, 1)"), {1, 2}), "fortran_order True"},
      {"TruncatedData", MakeNpy(1, Header("<f4", "False", "(3,)"), {1, 2}),
       "truncated: shape (3,) needs 12 bytes of float32 data, the file has 8"},
      {"TrailingData", MakeNpy(1, Header("<f4", "False", "(1,)"), {1, 2}),
       "trailing bytes: shape (1,) needs 4 bytes"},
      {"AbsurdShape", MakeNpy(1, Header("<f4", "False", "(1048576, 1048576)"), {}),
       "exceeds the limit of 1073741824 elements"},
      {"HugeDim", MakeNpy(1, Header("<f4", "False", "(99999999999999999,)"), {}),
       "dimension too large"},
      {"NegativeDim", MakeNpy(1, Header("<f4", "False", "(-1,)"), {}), "non-negative integer"},
      {"Rank9", MakeNpy(1, Header("<f4", "False", "(1, 1, 1, 1, 1, 1, 1, 1, 1)"), {1}),
       "more than 8 dimensions"},
      {"MissingShape", MakeNpy(1, "{'descr': '<f4', 'fortran_order': False}\n", {}),
       "lacks one of"},
      {"ExtraKey",
       MakeNpy(1, "{'descr': '<f4', 'x': 1, 'shape': (), 'fortran_order': False}\n", {1}),
       "unexpected or repeated key 'x'"},
      {"RepeatedKey",
       MakeNpy(1, "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': ()}\n", {1}),
       "unexpected or repeated key 'descr'"},
      {"NotADict", MakeNpy(1, "[1, 2]\n", {}), "expected '{'"},
      {"TextAfterDict", MakeNpy(1, Header("<f4", "False", "()") + "x", {1}),
       "unexpected text after the header dict"},
      {"UnterminatedString", MakeNpy(1, "{'descr: <f4}\n", {}), "unterminated string"},
      {"BadBool", MakeNpy(1, Header("<f4", "false", "()"), {1}), "expected True or False"},
  };
}

class NpyMalformedTest : public ::testing::TestWithParam<Malformed> {};

TEST_P(NpyMalformedTest, IsRefusedNamingTheFile) {
  EXPECT_THAT(ParseNpy(GetParam().bytes, "kernel.npy"),
              StatusIs(kInvalid, AllOf(HasSubstr("kernel.npy: "), HasSubstr(GetParam().message))));
}

INSTANTIATE_TEST_SUITE_P(Files, NpyMalformedTest, ::testing::ValuesIn(MalformedFiles()),
                         [](const auto& param_info) { return std::string(param_info.param.name); });

TEST(NpyTest, ReadsFilesAndReportsMissingOnes) {
  const ::tconv::testing::TempDir temp;
  const std::string& dir = temp.path();
  const std::string path = dir + "/bias.npy";
  {
    std::ofstream out(path, std::ios::binary);
    out << SerializeNpy({2}, std::vector<float>{0.5f, 7.0f});
  }
  EXPECT_THAT(ReadNpyFile(path, "bias.npy"),
              IsOkAndHolds(Field(&NpyArray::data, ElementsAreArray({0.5f, 7.0f}))));
  EXPECT_THAT(ReadNpyFile(dir + "/missing.npy", "missing.npy"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("missing.npy")));
  EXPECT_THAT(ReadNpyFile(dir, "dir.npy"), StatusIs(absl::StatusCode::kFailedPrecondition));
}

}  // namespace
}  // namespace tconv::server
