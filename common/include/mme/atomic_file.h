#pragma once
// Durable publishing: a file is written under a temporary name next to its final one, then
// published by publish_file: fsync the file, rename it over the final name, fsync the directory.
// A reader, or a run killed at any point (power loss included, on file systems that honour
// fsync), sees the old file or the new one, never half of one. Every file the tools publish goes
// through here: shards, checkpoints, manifests, reports, exported weights, pictures. Failures are
// OutputError (error.h): "No space left on device writing RUNDIR/checkpoint.pt".
#include <filesystem>
#include <string_view>

namespace mme {

// A temporary of `path` for this writer, next to it: "<name>.tmp-<host>-<pid>.<n>" (the host and
// pid say whose it is, for remove_stale_temporaries; n keeps two writers of one process apart).
std::filesystem::path temporary_name(const std::filesystem::path& path);
// The inverse: the name a temporary is published under ("part-00002.h5.tmp-host-12.0" ->
// "part-00002.h5"), for messages that must name the file the user knows; other names unchanged.
std::filesystem::path published_name(const std::filesystem::path& file);

// A killed writer leaves its temporaries: removes those of `path` (or, for a directory, of every
// file in it) whose writer on this host is gone. Another host's are left alone: their pids cannot
// be checked from here. Runs at the start of every writer, so a re-run cleans up after a kill.
void remove_stale_temporaries(const std::filesystem::path& path);

// Publishes the complete, closed file `temp` as `path` (replacing an older file there). Throws
// OutputError naming `path`; `temp` is left in place then.
void publish_file(const std::filesystem::path& temp, const std::filesystem::path& path);

// A file written in pieces under a temporary name ("<path>.tmp-<pid>") and published whole by
// commit(); destroyed without commit, it removes the temporary.
class AtomicWriter {
 public:
  // Throws OutputError when the temporary cannot be created.
  explicit AtomicWriter(std::filesystem::path path);
  ~AtomicWriter();
  AtomicWriter(const AtomicWriter&) = delete;
  AtomicWriter& operator=(const AtomicWriter&) = delete;

  // Appends; false after a failure (its errno is kept for commit's error).
  bool write(const void* data, std::size_t size);
  int error() const { return error_; }  // the first write's errno (0: none)
  // Closes, fsyncs and publishes. Throws OutputError (the first write failure, or the publishing's).
  void commit();

 private:
  std::filesystem::path path_, temp_;
  int fd_ = -1;
  int error_ = 0;
  bool committed_ = false;
};

// Writes `bytes` to `path` (binary) under a temporary name and publishes it. Throws OutputError.
void write_atomically(const std::filesystem::path& path, std::string_view bytes);

// fsync of a file or a directory; throws OutputError (operation "publishing").
void fsync_path(const std::filesystem::path& path, bool directory);

}  // namespace mme
