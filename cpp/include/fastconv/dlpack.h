// The DLPack ABI (v0.8, unversioned "dltensor" capsules), written from the public specification so that
// NumPy arrays and torch tensors cross into fastconv without copies, and fastconv's conversions to and from it.
#pragma once
#include <cstdint>

#include "fastconv/export.h"
#include "fastconv/tensor.h"

extern "C" {

typedef enum { kDLCPU = 1, kDLCUDA = 2, kDLCUDAHost = 3, kDLCUDAManaged = 13 } DLDeviceType;
typedef struct {
  int32_t device_type;
  int32_t device_id;
} DLDevice;
typedef enum { kDLInt = 0, kDLUInt = 1, kDLFloat = 2, kDLBfloat = 4, kDLBool = 6 } DLDataTypeCode;
typedef struct {
  uint8_t code;
  uint8_t bits;
  uint16_t lanes;
} DLDataType;
typedef struct {
  void* data;
  DLDevice device;
  int32_t ndim;
  DLDataType dtype;
  int64_t* shape;
  int64_t* strides;  // in elements; NULL means compact row-major
  uint64_t byte_offset;
} DLTensor;
typedef struct DLManagedTensor {
  DLTensor dl_tensor;
  void* manager_ctx;
  void (*deleter)(struct DLManagedTensor* self);
} DLManagedTensor;
}

namespace fastconv {

// A DLPack view of t's memory (no copy). The DLManagedTensor keeps t's storage alive until its deleter is called,
// which the consumer does exactly once. Shape and strides (in elements) are always given. ValueError for an
// undefined tensor.
FASTCONV_API DLManagedTensor* to_dlpack(const Tensor& t);
// A tensor viewing m's memory (no copy), for CPU (and CUDA-host) or CUDA memory; strides NULL means row-major.
// On success the tensor owns m: m->deleter runs once, when the last tensor sharing the memory goes. On error
// (null m, vector or unsupported dtype, unsupported device type, a CUDA device id outside [0, cuda::device_count()),
// negative ndim or sizes, null shape or data) it throws a fastconv::Error and m stays the caller's.
FASTCONV_API Tensor from_dlpack(DLManagedTensor* m);

}  // namespace fastconv
