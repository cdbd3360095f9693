// Stands in for cuda/runtime.cu when the library is built without CUDA.
#include "fastconv/cuda.h"
#include "fastconv/error.h"

#if !FASTCONV_WITH_CUDA
namespace fastconv::cuda {
namespace {
[[noreturn]] void no_cuda() {
  fail(ErrorKind::Runtime, "this fastconv was built without CUDA support (no nvcc at build time, or FASTCONV_CUDA=OFF); "
       "use device='cpu' or rebuild with nvcc on PATH");
}
}  // namespace
bool compiled() { return false; }
bool emulated() { return false; }
bool is_available() { return false; }
int device_count() { return 0; }
std::string device_name(int) { no_cuda(); }
void* malloc(size_t, int) { no_cuda(); }
void free(void*) {}
size_t empty_cache() { return 0; }
size_t cached_bytes() { return 0; }
void memcpy(void*, const void*, size_t, Copy) { no_cuda(); }
void memset_zero(void*, size_t) { no_cuda(); }
Stream stream_create() { no_cuda(); }
void stream_destroy(Stream) {}
void stream_synchronize(Stream) { no_cuda(); }
void memcpy_async(void*, const void*, size_t, Copy, Stream) { no_cuda(); }
void capture_begin(Stream) { no_cuda(); }
GraphExec capture_end(Stream) { no_cuda(); }
void graph_launch(GraphExec, Stream) { no_cuda(); }
void graph_destroy(GraphExec) {}
}  // namespace fastconv::cuda
#endif
