#pragma once
// The first check on every file a tool reads that someone else made (a video of a list, a part of
// a set): it must be a regular file. Opening a FIFO blocks until a writer comes (forever, and no
// signal ends the open()), a device reads without end, a socket cannot be opened; each is that
// file's error instead, and the batch goes on.
#include <filesystem>
#include <string_view>

namespace mme {

// Throws FileError naming `path` and what it is: "no such file", "Permission denied", "is a
// directory, not a video", "is a FIFO (named pipe), not a regular file", "is a socket ...", "is a
// character device ...", "empty file (0 bytes)". `what` names the expected content ("a video").
// Symbolic links are followed. Never blocks.
void require_regular_file(const std::filesystem::path& path, std::string_view what);

}  // namespace mme
