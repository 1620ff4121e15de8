#include <trainer/host_allocator.h>

#include <malloc.h>

namespace trainer {

void tune_host_allocator() {
#ifdef M_TOP_PAD
  mallopt(M_TOP_PAD, 64 << 20);
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
#endif
}

}  // namespace trainer
