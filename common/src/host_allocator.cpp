#include <mme/host_allocator.h>

#include <malloc.h>

namespace mme {

void keep_freed_memory() {
#ifdef M_TOP_PAD
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
  mallopt(M_TOP_PAD, 64 << 20);
#endif
}

}  // namespace mme
