#include <mme/version.h>

#ifndef MME_VERSION
#error "MME_VERSION must be defined by the build"
#endif

namespace mme {

const char* version() {
  return MME_VERSION;
}

}  // namespace mme
