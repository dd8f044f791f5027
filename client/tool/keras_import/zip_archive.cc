#include "zip_archive.h"

#include <zip.h>

#include <fstream>
#include <memory>

#include "absl/strings/str_cat.h"

namespace tconv::keras_import {
namespace {

struct ArchiveCloser {
  void operator()(zip_t* archive) const { zip_discard(archive); }  // read-only: nothing to write
};
struct EntryCloser {
  void operator()(zip_file_t* file) const { zip_fclose(file); }
};

std::string ErrorText(int code) {
  zip_error_t error;
  zip_error_init_with_code(&error, code);
  std::string text = zip_error_strerror(&error);
  zip_error_fini(&error);
  return text;
}

}  // namespace

bool LooksLikeZip(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char magic[4] = {};
  return in.read(magic, 4) && magic[0] == 'P' && magic[1] == 'K' && magic[2] == 3 && magic[3] == 4;
}

absl::StatusOr<std::optional<std::string>> ReadZipEntry(const std::string& path,
                                                        const std::string& name) {
  int code = 0;
  std::unique_ptr<zip_t, ArchiveCloser> archive(
      zip_open(path.c_str(), ZIP_RDONLY | ZIP_CHECKCONS, &code));
  if (archive == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, " is not a readable zip archive (", ErrorText(code),
                     "); a .keras file is a zip: truncated or damaged?"));
  }
  zip_stat_t stat;
  zip_stat_init(&stat);
  if (zip_stat(archive.get(), name.c_str(), 0, &stat) != 0) return std::nullopt;
  if ((stat.valid & ZIP_STAT_SIZE) == 0 || stat.size > (uint64_t{1} << 32)) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": entry ", name, " has no size or is over 4 GiB"));
  }
  std::unique_ptr<zip_file_t, EntryCloser> entry(zip_fopen(archive.get(), name.c_str(), 0));
  if (entry == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": entry ", name, " cannot be opened: ", zip_strerror(archive.get())));
  }
  std::string bytes(static_cast<size_t>(stat.size), '\0');
  size_t done = 0;
  while (done < bytes.size()) {
    const zip_int64_t got = zip_fread(entry.get(), bytes.data() + done, bytes.size() - done);
    if (got <= 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": entry ", name,
                       " cannot be read (truncated or damaged): ", zip_file_strerror(entry.get())));
    }
    done += static_cast<size_t>(got);
  }
  // libzip checks the CRC when the end of the entry is read.
  char extra = 0;
  if (zip_fread(entry.get(), &extra, 1) != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": entry ", name, " is damaged: ", zip_file_strerror(entry.get())));
  }
  return std::optional<std::string>(std::move(bytes));
}

}  // namespace tconv::keras_import
