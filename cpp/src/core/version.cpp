#include "fastconv/fastconv.h"

namespace fastconv {
const char* version() { return FASTCONV_VERSION; }
}  // namespace fastconv
