#pragma once
// The project-wide HDF5 lock. Every HDF5 call of the project is made under it: it keeps the C++
// side safe whatever the HDF5 build (HDF5 serialises its calls anyway). Kept apart from the shard
// store so that the codecs and the h5py plugin need only this.
#include <mutex>
#include <string>

namespace mme {

std::recursive_mutex& hdf5_mutex();

// Holds hdf5_mutex() and switches off HDF5's printing of its error stack for this thread (a
// thread-safe HDF5 keeps that setting per thread): failures become messages (hdf5_reason()).
class Hdf5Lock {
 public:
  Hdf5Lock();
  Hdf5Lock(const Hdf5Lock&) = delete;
  Hdf5Lock& operator=(const Hdf5Lock&) = delete;

 private:
  std::lock_guard<std::recursive_mutex> guard_;
};

// Switches off HDF5's error printing for the calling thread (Hdf5Lock does it too).
void silence_hdf5_errors();

// What HDF5's error stack says about the last failure; reading it clears the stack. Call it under
// the lock, right after the failure.
struct Hdf5Failure {
  // Short: the descriptions from the most specific outwards, "unable to open file (file signature
  // not found)"; with an operating-system error, its text and the HDF5 call's description:
  // "No space left on device (can't write unprocessed chunk data)".
  std::string reason;
  int error = 0;         // the errno the file driver met (0: none)
  bool writing = false;  // the driver failed writing (not reading or opening)
  std::string file;      // the file the driver names, when it does
  std::string stack;     // the whole stack, one line per entry (for the verbose log)
};
Hdf5Failure hdf5_failure();
// hdf5_failure().reason.
std::string hdf5_reason();

}  // namespace mme
