// The CUDA runtime as the rest of the engine sees it. Without CUDA support compiled in (or without a driver),
// is_available() is false and the memory functions throw a RuntimeError saying so.
#pragma once
#include <cstddef>
#include <string>

#include "fastconv/export.h"

namespace fastconv::cuda {

FASTCONV_API bool compiled();      // CUDA sources were built into this library (for a GPU, or for the emulator)
FASTCONV_API bool emulated();      // built with FASTCONV_CUDA=EMU: "the device" is the CUDA emulator running on the CPU
FASTCONV_API bool is_available();  // compiled, a driver is loaded and at least one device is visible
FASTCONV_API int device_count();
FASTCONV_API std::string device_name(int index);
// Device memory through a cache: free() keeps a block for the next malloc() of the same device and size.
FASTCONV_API void* malloc(size_t nbytes, int device);
FASTCONV_API void free(void* p);
FASTCONV_API size_t empty_cache();   // returns the cached (free) blocks to the driver; the bytes released
FASTCONV_API size_t cached_bytes();  // bytes held in free cached blocks
enum class Copy { HostToDevice, DeviceToHost, DeviceToDevice };
FASTCONV_API void memcpy(void* dst, const void* src, size_t nbytes, Copy kind);
FASTCONV_API void memset_zero(void* p, size_t nbytes);

// Streams and CUDA Graphs, for the device executor (graph/context.cpp). A Stream is a cudaStream_t; a GraphExec a
// cudaGraphExec_t. Capture is thread-local (cudaStreamCaptureModeThreadLocal), so several compiled programs may
// capture at once from different threads.
using Stream = void*;
using GraphExec = void*;
FASTCONV_API Stream stream_create();  // non-blocking: it never waits for the legacy default stream
FASTCONV_API void stream_destroy(Stream s);
FASTCONV_API void stream_synchronize(Stream s);
FASTCONV_API void memcpy_async(void* dst, const void* src, size_t nbytes, Copy kind, Stream s);
FASTCONV_API void capture_begin(Stream s);
FASTCONV_API GraphExec capture_end(Stream s);  // the captured work, instantiated
FASTCONV_API void graph_launch(GraphExec g, Stream s);
FASTCONV_API void graph_destroy(GraphExec g);

}  // namespace fastconv::cuda
