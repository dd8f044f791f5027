// Reading named entries of a zip file through libzip, with its consistency checks on (a
// truncated or damaged archive is refused, not half-read).
#ifndef TCONV_CLIENT_TOOL_KERAS_IMPORT_ZIP_ARCHIVE_H_
#define TCONV_CLIENT_TOOL_KERAS_IMPORT_ZIP_ARCHIVE_H_

#include <optional>
#include <string>

#include "absl/status/statusor.h"

namespace tconv::keras_import {

// True when the file starts with a zip signature ("PK\3\4").
bool LooksLikeZip(const std::string& path);

// The entry `name` of the zip at `path`, decompressed (its CRC checked); nullopt when the
// archive has no such entry. INVALID_ARGUMENT naming the file for an unreadable archive.
absl::StatusOr<std::optional<std::string>> ReadZipEntry(const std::string& path,
                                                        const std::string& name);

}  // namespace tconv::keras_import

#endif  // TCONV_CLIENT_TOOL_KERAS_IMPORT_ZIP_ARCHIVE_H_
