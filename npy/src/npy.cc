#include "tconv/npy/npy.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "tconv/status/status_macros.h"

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              ".npy '<f4' data is copied as is, which needs a little-endian host");

namespace tconv::server {
namespace {

constexpr std::string_view kMagic = "\x93NUMPY";

std::string ShapeString(absl::Span<const int64_t> shape) {
  return absl::StrCat("(", absl::StrJoin(shape, ", "), shape.size() == 1 ? ",)" : ")");
}

// The header is a Python dict literal as numpy.lib.format writes it, e.g.
// {'descr': '<f4', 'fortran_order': False, 'shape': (3, 3, 64, 128), }
// This is a strict parser for exactly that grammar: the three keys, each once, in any order.
class HeaderParser {
 public:
  HeaderParser(std::string_view text, const std::string& what) : text_(text), what_(what) {}

  absl::Status Parse(std::string* descr, bool* fortran_order, std::vector<int64_t>* shape) {
    RETURN_IF_ERROR(Expect('{'));
    std::optional<std::string> d;
    std::optional<bool> f;
    std::optional<std::vector<int64_t>> s;
    while (!Consume('}')) {  // an empty dict or a trailing comma ends here
      ASSIGN_OR_RETURN(std::string key, ParseString());
      RETURN_IF_ERROR(Expect(':'));
      if (key == "descr" && !d) {
        ASSIGN_OR_RETURN(d, ParseString());
      } else if (key == "fortran_order" && !f) {
        ASSIGN_OR_RETURN(f, ParseBool());
      } else if (key == "shape" && !s) {
        ASSIGN_OR_RETURN(s, ParseShape());
      } else {
        return Error(absl::StrCat("unexpected or repeated key '", key,
                                  "' (expected 'descr', 'fortran_order', 'shape')"));
      }
      if (Consume(',')) continue;
      RETURN_IF_ERROR(Expect('}'));
      break;
    }
    SkipSpace();
    if (pos_ != text_.size()) return Error("unexpected text after the header dict");
    if (!d || !f || !s) return Error("header lacks one of 'descr', 'fortran_order', 'shape'");
    *descr = *std::move(d);
    *fortran_order = *f;
    *shape = *std::move(s);
    return absl::OkStatus();
  }

 private:
  absl::Status Error(const std::string& message) const {
    return absl::InvalidArgumentError(
        absl::StrCat(what_, ": malformed .npy header at offset ", pos_, ": ", message));
  }
  void SkipSpace() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\n')) ++pos_;
  }
  bool Consume(char c) {
    SkipSpace();
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  absl::Status Expect(char c) {
    return Consume(c) ? absl::OkStatus()
                      : Error(absl::StrCat("expected '", std::string(1, c), "'"));
  }
  absl::StatusOr<std::string> ParseString() {
    SkipSpace();
    if (pos_ >= text_.size() || (text_[pos_] != '\'' && text_[pos_] != '"')) {
      return Error("expected a quoted string");
    }
    const char quote = text_[pos_++];
    const size_t end = text_.find(quote, pos_);
    if (end == std::string_view::npos) return Error("unterminated string");
    std::string value(text_.substr(pos_, end - pos_));
    pos_ = end + 1;
    return value;
  }
  absl::StatusOr<bool> ParseBool() {
    SkipSpace();
    for (const auto& [word, value] : {std::pair{"True", true}, std::pair{"False", false}}) {
      if (text_.substr(pos_, std::strlen(word)) == word) {
        pos_ += std::strlen(word);
        return value;
      }
    }
    return Error("expected True or False");
  }
  absl::StatusOr<std::vector<int64_t>> ParseShape() {
    RETURN_IF_ERROR(Expect('('));
    std::vector<int64_t> shape;
    while (!Consume(')')) {
      SkipSpace();
      int64_t dim = 0;
      const size_t start = pos_;
      while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') {
        if (pos_ - start >= 12) return Error("shape dimension too large");
        dim = dim * 10 + (text_[pos_++] - '0');
      }
      if (pos_ == start) return Error("expected a non-negative integer in 'shape'");
      if (static_cast<int64_t>(shape.size()) == NpyLimits::kMaxRank) {
        return Error(absl::StrCat("shape has more than ", NpyLimits::kMaxRank, " dimensions"));
      }
      shape.push_back(dim);
      if (Consume(',')) continue;
      RETURN_IF_ERROR(Expect(')'));
      break;
    }
    return shape;
  }

  std::string_view text_;
  const std::string& what_;
  size_t pos_ = 0;
};

uint32_t LittleEndian(std::string_view bytes) {
  uint32_t value = 0;
  for (size_t i = bytes.size(); i-- > 0;) value = (value << 8) | static_cast<uint8_t>(bytes[i]);
  return value;
}

// Validates the magic and version; returns where the header text starts and its length.
absl::StatusOr<std::pair<size_t, size_t>> LocateHeader(std::string_view bytes,
                                                       const std::string& what) {
  if (bytes.size() < 10 || bytes.substr(0, kMagic.size()) != kMagic) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": not a .npy file (no \\x93NUMPY magic at the start)"));
  }
  const int major = static_cast<uint8_t>(bytes[6]);
  const int minor = static_cast<uint8_t>(bytes[7]);
  if (minor != 0 || major < 1 || major > 3) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": .npy format version ", major, ".",
                                                   minor, " is not supported (1.0, 2.0, 3.0)"));
  }
  const size_t length_bytes = major == 1 ? 2 : 4;
  const size_t start = 8 + length_bytes;
  if (bytes.size() < start) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": truncated .npy header"));
  }
  const size_t length = LittleEndian(bytes.substr(8, length_bytes));
  if (length > static_cast<size_t>(NpyLimits::kMaxHeaderBytes)) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": .npy header of ", length,
                                                   " bytes exceeds the limit of ",
                                                   NpyLimits::kMaxHeaderBytes));
  }
  if (bytes.size() - start < length) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": truncated .npy header: it claims ",
                                                   length, " bytes, the file has ",
                                                   bytes.size() - start));
  }
  return std::make_pair(start, length);
}

absl::Status CheckDescr(std::string_view descr, bool fortran_order, const std::string& what) {
  if (descr != "<f4") {
    const std::string hint = descr == ">f4" ? "big-endian float32; save arr.astype('<f4')"
                                            : "save arr.astype(np.float32)";
    return absl::InvalidArgumentError(absl::StrCat(what, ": dtype '", std::string(descr),
                                                   "' is not supported, expected '<f4' "
                                                   "(little-endian float32; ",
                                                   hint, ")"));
  }
  if (fortran_order) {
    return absl::InvalidArgumentError(
        absl::StrCat(what,
                     ": fortran_order True is not supported, expected C order "
                     "(save np.ascontiguousarray(arr))"));
  }
  return absl::OkStatus();
}

absl::StatusOr<int64_t> ElementCount(const std::vector<int64_t>& shape, const std::string& what) {
  int64_t count = 1;
  for (int64_t dim : shape) {
    if (dim != 0 && count > NpyLimits::kMaxElements / dim) {
      return absl::InvalidArgumentError(absl::StrCat(what, ": shape ", ShapeString(shape),
                                                     " exceeds the limit of ",
                                                     NpyLimits::kMaxElements, " elements"));
    }
    count *= dim;
  }
  return count;
}

}  // namespace

absl::StatusOr<NpyArray> ParseNpy(std::string_view bytes, const std::string& what) {
  ASSIGN_OR_RETURN(const auto header, LocateHeader(bytes, what));
  NpyArray array;
  std::string descr;
  bool fortran_order = false;
  RETURN_IF_ERROR(HeaderParser(bytes.substr(header.first, header.second), what)
                      .Parse(&descr, &fortran_order, &array.shape));
  RETURN_IF_ERROR(CheckDescr(descr, fortran_order, what));
  ASSIGN_OR_RETURN(const int64_t count, ElementCount(array.shape, what));
  const std::string_view data = bytes.substr(header.first + header.second);
  const size_t expected = static_cast<size_t>(count) * sizeof(float);
  if (data.size() != expected) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, data.size() < expected ? ": truncated: shape " : ": trailing bytes: shape ",
        ShapeString(array.shape), " needs ", expected, " bytes of float32 data, the file has ",
        data.size()));
  }
  array.data.resize(count);
  if (count > 0) std::memcpy(array.data.data(), data.data(), expected);
  return array;
}

absl::StatusOr<NpyArray> ReadNpyFile(const std::string& path, const std::string& what) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int error = errno;
    const std::string message = absl::StrCat("cannot open ", path, ": ", std::strerror(error));
    return error == ENOENT ? absl::NotFoundError(message) : absl::FailedPreconditionError(message);
  }
  struct stat info {};
  std::string bytes;
  absl::Status status;
  constexpr int64_t kMaxFileBytes =
      12 + NpyLimits::kMaxHeaderBytes + NpyLimits::kMaxElements * int64_t{sizeof(float)};
  if (::fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
    status = absl::FailedPreconditionError(absl::StrCat(path, " is not a readable regular file"));
  } else if (info.st_size > kMaxFileBytes) {
    status = absl::InvalidArgumentError(absl::StrCat(
        what, ": file of ", info.st_size, " bytes exceeds the limit of ", kMaxFileBytes));
  } else {
    bytes.resize(info.st_size);
    size_t done = 0;
    while (done < bytes.size()) {
      const ssize_t n = ::read(fd, bytes.data() + done, bytes.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      done += n;
    }
    if (done != bytes.size()) {
      status = absl::FailedPreconditionError(absl::StrCat("cannot read ", path));
    }
  }
  ::close(fd);
  RETURN_IF_ERROR(status);
  return ParseNpy(bytes, what);
}

std::string SerializeNpy(absl::Span<const int64_t> shape, absl::Span<const float> data) {
  std::string header =
      absl::StrCat("{'descr': '<f4', 'fortran_order': False, 'shape': ", ShapeString(shape), ", }");
  // numpy.lib.format pads with spaces and a final newline so that the data starts at a
  // multiple of 64 bytes (10 bytes of magic, version and length precede the header).
  const size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header.push_back('\n');
  std::string bytes(kMagic);
  bytes.push_back('\x01');
  bytes.push_back('\x00');
  bytes.push_back(static_cast<char>(header.size() & 0xff));
  bytes.push_back(static_cast<char>(header.size() >> 8));
  bytes += header;
  bytes.append(reinterpret_cast<const char*>(data.data()), data.size() * sizeof(float));
  return bytes;
}

}  // namespace tconv::server
