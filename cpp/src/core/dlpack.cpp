// DLPack conversions (fastconv/dlpack.h). The Python module's __dlpack__ / from_dlpack wrap these in capsules.
#include "fastconv/dlpack.h"

#include <memory>
#include <vector>

#include "fastconv/cuda.h"
#include "fastconv/error.h"

namespace fastconv {

namespace {

DLDataType dl_dtype(DType t) {
  switch (t) {
    case DType::f32: return {kDLFloat, 32, 1};
    case DType::f64: return {kDLFloat, 64, 1};
    case DType::f16: return {kDLFloat, 16, 1};
    case DType::bf16: return {kDLBfloat, 16, 1};
    case DType::i64: return {kDLInt, 64, 1};
    case DType::i32: return {kDLInt, 32, 1};
    case DType::u8: return {kDLUInt, 8, 1};
    case DType::boolean: return {kDLBool, 8, 1};
  }
  return {kDLFloat, 32, 1};
}

DType from_dl_dtype(DLDataType d) {
  FC_CHECK(d.lanes == 1, Type, "from_dlpack: vector dtypes (lanes=", d.lanes, ") are not supported");
  if (d.code == kDLFloat && d.bits == 32) return DType::f32;
  if (d.code == kDLFloat && d.bits == 64) return DType::f64;
  if (d.code == kDLFloat && d.bits == 16) return DType::f16;
  if (d.code == kDLBfloat && d.bits == 16) return DType::bf16;
  if (d.code == kDLInt && d.bits == 64) return DType::i64;
  if (d.code == kDLInt && d.bits == 32) return DType::i32;
  if (d.code == kDLUInt && d.bits == 8) return DType::u8;
  if (d.code == kDLBool && d.bits == 8) return DType::boolean;
  fail(ErrorKind::Type, "from_dlpack: unsupported DLPack dtype (code ", int(d.code), ", bits ", int(d.bits),
       "); expected float16/32/64, bfloat16, int32/64, uint8 or bool");
}

struct ExportCtx {
  Tensor t;
  std::vector<int64_t> shape, strides;
};

// Owns an imported DLManagedTensor once the import has succeeded: until then `m` is null, so a failing import
// leaves the producer's tensor to the caller instead of deleting it behind their back.
struct ImportOwner {
  DLManagedTensor* m = nullptr;
  ~ImportOwner() {
    if (m && m->deleter) m->deleter(m);
  }
};

}  // namespace

DLManagedTensor* to_dlpack(const Tensor& t) {
  FC_CHECK(t.defined(), Value, "to_dlpack: the tensor is undefined (no storage)");
  auto ctx = std::make_unique<ExportCtx>(ExportCtx{t, t.shape(), t.strides()});
  auto m = std::make_unique<DLManagedTensor>();
  m->dl_tensor.data = t.data_ptr();
  m->dl_tensor.device = {t.device().is_cpu() ? kDLCPU : kDLCUDA, t.device().index};
  m->dl_tensor.ndim = static_cast<int32_t>(t.dim());
  m->dl_tensor.dtype = dl_dtype(t.dtype());
  m->dl_tensor.shape = ctx->shape.data();
  m->dl_tensor.strides = ctx->strides.data();
  m->dl_tensor.byte_offset = 0;
  m->manager_ctx = ctx.release();
  m->deleter = [](DLManagedTensor* self) {
    delete static_cast<ExportCtx*>(self->manager_ctx);
    delete self;
  };
  return m.release();
}

Tensor from_dlpack(DLManagedTensor* m) {
  FC_CHECK(m != nullptr, Value, "from_dlpack: the DLManagedTensor pointer is null");
  const DLTensor& d = m->dl_tensor;
  const DType t = from_dl_dtype(d.dtype);
  Device dev;
  if (d.device.device_type == kDLCUDA) {
    // A device this library cannot address (another machine's numbering, or no CUDA here) would make a tensor
    // whose first use faults far from the import: refuse it now.
    const int n = cuda::device_count();
    FC_CHECK(d.device.device_id >= 0 && d.device.device_id < n, Value, "from_dlpack: the tensor is on CUDA device ",
             d.device.device_id, ", but this fastconv sees ", n, n == 1 ? " CUDA device" : " CUDA devices",
             cuda::compiled() ? "" : " (it was built without CUDA support)");
    dev = {DeviceType::CUDA, d.device.device_id};
  } else {
    FC_CHECK(d.device.device_type == kDLCPU || d.device.device_type == kDLCUDAHost, Value,
             "from_dlpack: unsupported device type ", d.device.device_type,
             " (expected kDLCPU=1, kDLCUDA=2 or kDLCUDAHost=3)");
  }
  FC_CHECK(d.ndim >= 0, Value, "from_dlpack: ndim must be >= 0, got ", d.ndim);
  FC_CHECK(d.ndim == 0 || d.shape != nullptr, Value, "from_dlpack: shape is null for a ", d.ndim, "-D tensor");
  Shape shape(d.shape, d.shape + d.ndim);
  const int64_t numel = shape_numel(shape);  // ValueError for negative sizes
  FC_CHECK(numel == 0 || d.data != nullptr, Value, "from_dlpack: data is null for a tensor of shape ",
           shape_str(shape));
  Shape strides = d.strides ? Shape(d.strides, d.strides + d.ndim) : contiguous_strides(shape);
  void* data = static_cast<char*>(d.data) + d.byte_offset;
  auto owner = std::make_shared<ImportOwner>();
  Tensor out = Tensor::from_blob(data, shape, strides, t, dev, owner);
  owner->m = m;  // from here on the tensor owns it
  return out;
}

}  // namespace fastconv
