// The CUDA runtime as the rest of the engine sees it. Without CUDA support compiled in (or without a driver),
// is_available() is false and the memory functions throw a RuntimeError saying so.
#pragma once
#include <cstddef>
#include <string>

namespace fastconv::cuda {

bool compiled();      // CUDA sources were built into this library (for a GPU, or for the emulator)
bool emulated();      // built with FASTCONV_CUDA=EMU: "the device" is the CUDA emulator running on the CPU
bool is_available();  // compiled, a driver is loaded and at least one device is visible
int device_count();
std::string device_name(int index);
// Device memory through a cache: free() keeps a block for the next malloc() of the same device and size.
void* malloc(size_t nbytes, int device);
void free(void* p);
size_t empty_cache();   // returns the cached (free) blocks to the driver; the bytes released
size_t cached_bytes();  // bytes held in free cached blocks
enum class Copy { HostToDevice, DeviceToHost, DeviceToDevice };
void memcpy(void* dst, const void* src, size_t nbytes, Copy kind);
void memset_zero(void* p, size_t nbytes);

// Streams and CUDA Graphs, for the device executor (graph/context.cpp). A Stream is a cudaStream_t; a GraphExec a
// cudaGraphExec_t. Capture is thread-local (cudaStreamCaptureModeThreadLocal), so several compiled programs may
// capture at once from different threads.
using Stream = void*;
using GraphExec = void*;
Stream stream_create();  // non-blocking: it never waits for the legacy default stream
void stream_destroy(Stream s);
void stream_synchronize(Stream s);
void memcpy_async(void* dst, const void* src, size_t nbytes, Copy kind, Stream s);
void capture_begin(Stream s);
GraphExec capture_end(Stream s);  // the captured work, instantiated
void graph_launch(GraphExec g, Stream s);
void graph_destroy(GraphExec g);

}  // namespace fastconv::cuda
