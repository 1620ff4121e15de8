#pragma once
// One live run per output directory. flowgen and trajgen lock each shard directory they write
// (so the tasks of one Slurm array, each with its own --shard, run side by side, while a second run
// of the same shard stops at once), the trainer locks its run.out.
//
// The lock is DIR/.lock: an open file description lock (fcntl F_OFD_SETLK, or F_SETLK on kernels
// without it) on that file, which the kernel, or the NFS/Lustre lock manager, releases when the
// holder dies however it dies, plus the holder's name written into the file (tool, host, pid,
// since when) for the message a second run gets. Where the file system has no locks at all (ENOLCK,
// EOPNOTSUPP: Lustre mounted without flock) the name alone decides, checked for staleness the
// way temporaries are (remove_stale_temporaries): a holder on this host whose pid is gone is stale;
// one on another host is taken as alive, and the message says to remove the file if that run is
// gone. The file stays after release (emptied): deleting a lock file races with a run opening it.
#include <filesystem>
#include <string>

namespace mme {

class DirectoryLock {
 public:
  // Takes DIR/.lock for `tool` (DIR must exist). Throws FileError naming DIR and the holder when a
  // live run holds it ("in use by flowgen, pid 4242 on node17, since 2026-12-08 01:02:03 UTC"),
  // OutputError when the lock file cannot be created.
  DirectoryLock(const std::filesystem::path& dir, const std::string& tool);
  ~DirectoryLock();
  DirectoryLock(const DirectoryLock&) = delete;
  DirectoryLock& operator=(const DirectoryLock&) = delete;

  static constexpr const char* kFileName = ".lock";

 private:
  std::filesystem::path path_;
  int fd_ = -1;
};

}  // namespace mme
