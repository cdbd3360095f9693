#include "fastconv/tensor.h"

#include <cstdint>
#include <cstring>
#include <sstream>

#include "fastconv/cuda.h"
#include "fastconv/error.h"

namespace fastconv {

std::string shape_str(const Shape& s) {
  std::ostringstream os;
  os << '[';
  for (size_t i = 0; i < s.size(); ++i) os << (i ? ", " : "") << s[i];
  os << ']';
  return os.str();
}

// Element counts past this (2**62 bytes of float32) cannot be allocated, and larger products could wrap int64: a
// shape that big is refused wherever it is counted, before any size derived from it reaches an allocator.
int64_t shape_numel(const Shape& s) {
  for (int64_t d : s)
    if (d == 0) return 0;
  int64_t n = 1;
  for (int64_t d : s) {
    FC_CHECK(d > 0 && !__builtin_mul_overflow(n, d, &n) && n <= kMaxTensorElements, Value, "shape ", shape_str(s),
             d < 0 ? " has a negative size" : " has more than 2**60 elements (no tensor can be that large)");
  }
  return n;
}

Shape contiguous_strides(const Shape& s) {
  Shape st(s.size());
  int64_t acc = 1;
  for (size_t i = s.size(); i-- > 0;) {
    st[i] = acc;
    // Strides of an empty tensor never address memory; saturating keeps them defined for absurd empty shapes.
    if (s[i] > 0 && __builtin_mul_overflow(acc, s[i], &acc)) acc = INT64_MAX;
  }
  return st;
}

Storage::Storage(void* data, size_t nbytes, Device device, Deleter deleter)
    : data_(data), nbytes_(nbytes), device_(device), deleter_(std::move(deleter)) {}

Storage::~Storage() {
  if (deleter_) deleter_(data_);
}

std::shared_ptr<Storage> Storage::allocate(size_t nbytes, Device device) {
  if (device.is_cpu())
    return std::make_shared<Storage>(cached_alloc64(nbytes), nbytes, device,
                                     [nbytes](void* p) { cached_free64(p, nbytes); });
  return std::make_shared<Storage>(cuda::malloc(nbytes, device.index), nbytes, device,
                                   [](void* p) { cuda::free(p); });
}

namespace {
// Bumps a storage's version when it goes out of scope: a write is announced once its bytes are there, so that a
// reader which sees the new version also sees the new bytes (folded constants: docs/inference.md).
struct VersionBump {
  Storage* s;
  ~VersionBump() {
    if (s) s->bump_version();
  }
};

void check_shape(const Shape& shape, const char* who) {
  for (int64_t d : shape)
    FC_CHECK(d >= 0, Value, who, ": shape ", shape_str(shape), " has a negative dimension; sizes must be >= 0");
}
}  // namespace

Tensor::Tensor(std::shared_ptr<Storage> storage, int64_t offset_bytes, Shape shape, Shape strides, DType dtype)
    : storage_(std::move(storage)), offset_(offset_bytes), shape_(std::move(shape)), strides_(std::move(strides)),
      dtype_(dtype) {
  FC_CHECK(shape_.size() == strides_.size(), Value, "Tensor: shape ", shape_str(shape_), " and strides ",
           shape_str(strides_), " must have the same length");
  check_shape(shape_, "Tensor");
}

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) {
  check_shape(shape, "empty");
  // shape_numel bounds the count at 2**60, so the byte count (at most 8 bytes an element) cannot wrap.
  auto st = Storage::allocate(static_cast<size_t>(shape_numel(shape)) * dtype_size(dtype), device);
  return Tensor(std::move(st), 0, shape, contiguous_strides(shape), dtype);
}

Tensor Tensor::zeros(const Shape& shape, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  if (device.is_cpu())
    std::memset(t.data_ptr(), 0, t.nbytes());
  else
    cuda::memset_zero(t.data_ptr(), t.nbytes());
  return t;
}

Tensor Tensor::full(const Shape& shape, float value, Device device) {
  FC_CHECK(device.is_cpu(), NotImplemented, "full: only device 'cpu' is supported, got '", device.str(), "'");
  return empty(shape, DType::f32, device).fill_(value);
}

Tensor Tensor::from_blob(void* data, const Shape& shape, const Shape& strides, DType dtype, Device device,
                         std::shared_ptr<void> owner) {
  size_t span = 0;
  for (size_t i = 0; i < shape.size(); ++i)
    if (shape[i] > 0) span += static_cast<size_t>((shape[i] - 1) * (strides[i] < 0 ? -strides[i] : strides[i]));
  span = (span + 1) * dtype_size(dtype);
  auto st = std::make_shared<Storage>(data, span, device, [owner](void*) mutable { owner.reset(); });
  return Tensor(std::move(st), 0, shape, strides, dtype);
}

int64_t Tensor::size(int64_t d) const {
  int64_t n = dim();
  FC_CHECK(d >= -n && d < n, Index, "size: dimension ", d, " is out of range for a tensor with ", n, " dimensions");
  return shape_[d < 0 ? d + n : d];
}

Device Tensor::device() const { return storage_ ? storage_->device() : Device{}; }

void* Tensor::data_ptr() const {
  return storage_ ? static_cast<char*>(storage_->data()) + offset_ : nullptr;
}

bool Tensor::is_contiguous() const {
  int64_t expect = 1;
  for (size_t i = shape_.size(); i-- > 0;) {
    if (shape_[i] == 1) continue;
    if (shape_[i] == 0) return true;
    if (strides_[i] != expect) return false;
    expect *= shape_[i];
  }
  return true;
}

Tensor Tensor::contiguous() const {
  if (is_contiguous()) return *this;
  return clone();
}

Tensor Tensor::to(Device d) const {
  if (d == device()) return *this;
  Tensor out = empty(shape_, dtype_, d);
  out.copy_from(contiguous());
  return out;
}

Tensor Tensor::clone() const {
  Tensor out = empty(shape_, dtype_, device());
  out.copy_from(*this);
  return out;
}

Tensor Tensor::reshape(const Shape& shape) const {
  FC_CHECK(is_contiguous(), Value, "reshape: needs a contiguous tensor (call contiguous() first), got strides ",
           shape_str(strides_), " for shape ", shape_str(shape_));
  Shape s = shape;
  int64_t known = 1, infer = -1;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == -1) {
      FC_CHECK(infer < 0, Value, "reshape: only one dimension may be -1, got ", shape_str(shape));
      infer = static_cast<int64_t>(i);
    } else {
      FC_CHECK(s[i] >= 0, Value, "reshape: invalid size ", s[i], " in ", shape_str(shape));
      known *= s[i];
    }
  }
  if (infer >= 0) {
    FC_CHECK(known > 0 && numel() % known == 0, Value, "reshape: cannot infer -1 in ", shape_str(shape),
             " for a tensor of ", numel(), " elements");
    s[infer] = numel() / known;
  }
  FC_CHECK(shape_numel(s) == numel(), Value, "reshape: shape ", shape_str(shape), " has ", shape_numel(s),
           " elements but the tensor ", shape_str(shape_), " has ", numel());
  return Tensor(storage_, offset_, s, contiguous_strides(s), dtype_);
}

namespace {
double load(const char* p, DType t) {
  switch (t) {
    case DType::f32: return *reinterpret_cast<const float*>(p);
    case DType::f64: return *reinterpret_cast<const double*>(p);
    case DType::i64: return double(*reinterpret_cast<const int64_t*>(p));
    case DType::i32: return *reinterpret_cast<const int32_t*>(p);
    case DType::u8: return *reinterpret_cast<const uint8_t*>(p);
    case DType::boolean: return *reinterpret_cast<const uint8_t*>(p) ? 1.0 : 0.0;
    default: fail(ErrorKind::NotImplemented, "conversion from ", dtype_name(t), " is not implemented");
  }
}
void store(char* p, DType t, double v) {
  switch (t) {
    case DType::f32: *reinterpret_cast<float*>(p) = float(v); break;
    case DType::f64: *reinterpret_cast<double*>(p) = v; break;
    case DType::i64: *reinterpret_cast<int64_t*>(p) = int64_t(v); break;
    case DType::i32: *reinterpret_cast<int32_t*>(p) = int32_t(v); break;
    case DType::u8: *reinterpret_cast<uint8_t*>(p) = uint8_t(v); break;
    case DType::boolean: *reinterpret_cast<uint8_t*>(p) = v != 0; break;
    default: fail(ErrorKind::NotImplemented, "conversion to ", dtype_name(t), " is not implemented");
  }
}
}  // namespace

void Tensor::copy_from(const Tensor& src) {
  FC_CHECK(src.shape() == shape_, Value, "copy_from: source shape ", shape_str(src.shape()),
           " does not match destination shape ", shape_str(shape_));
  const VersionBump bump{storage_.get()};  // after the bytes are written, on every path out
  int64_t n = numel();
  if (!device().is_cpu() || !src.device().is_cpu()) {  // a synchronous cudaMemcpy, as torch's copy_ to/from cuda
    FC_CHECK(src.dtype() == dtype_ && src.is_contiguous() && is_contiguous(), NotImplemented,
             "copy_from: a copy between ", src.device().str(), " and ", device().str(),
             " needs contiguous tensors of one dtype (got ", dtype_name(src.dtype()), " -> ", dtype_name(dtype_),
             "); call contiguous() / to(dtype) on the host first");
    if (n == 0) return;
    const cuda::Copy kind = src.device().is_cpu() ? cuda::Copy::HostToDevice
                            : device().is_cpu()   ? cuda::Copy::DeviceToHost
                                                  : cuda::Copy::DeviceToDevice;
    cuda::memcpy(data_ptr(), src.data_ptr(), nbytes(), kind);
    return;
  }
  if (n == 0) return;
  if (src.dtype() == dtype_ && src.is_contiguous() && is_contiguous()) {
    std::memcpy(data_ptr(), src.data_ptr(), nbytes());
    return;
  }
  // General strided path: walk a multi-index. Not a hot path (interop and conversions only).
  size_t ssz = dtype_size(src.dtype()), dsz = dtype_size(dtype_);
  Shape idx(shape_.size(), 0);
  const char* s = static_cast<const char*>(src.data_ptr());
  char* d = static_cast<char*>(data_ptr());
  for (int64_t k = 0; k < n; ++k) {
    int64_t so = 0, dof = 0;
    for (size_t i = 0; i < idx.size(); ++i) {
      so += idx[i] * src.strides()[i];
      dof += idx[i] * strides_[i];
    }
    if (src.dtype() == dtype_)
      std::memcpy(d + dof * dsz, s + so * ssz, dsz);
    else
      store(d + dof * dsz, dtype_, load(s + so * ssz, src.dtype()));
    for (size_t i = idx.size(); i-- > 0;) {
      if (++idx[i] < shape_[i]) break;
      idx[i] = 0;
    }
  }
}

Tensor Tensor::to(DType dtype) const {
  if (dtype == dtype_) return *this;
  Tensor out = empty(shape_, dtype, device());
  out.copy_from(*this);
  return out;
}

Tensor& Tensor::fill_(float value) {
  FC_CHECK(device().is_cpu(), NotImplemented, "fill_: only cpu tensors, got ", device().str());
  FC_CHECK(is_contiguous(), Value, "fill_: needs a contiguous tensor");
  const VersionBump bump{storage_.get()};
  int64_t n = numel();
  char* d = static_cast<char*>(data_ptr());
  if (dtype_ == DType::f32) {
    float* f = reinterpret_cast<float*>(d);
    for (int64_t i = 0; i < n; ++i) f[i] = value;
  } else {
    for (int64_t i = 0; i < n; ++i) store(d + i * dtype_size(dtype_), dtype_, value);
  }
  return *this;
}

std::ostream& operator<<(std::ostream& os, const Tensor& t) {
  if (!t.defined()) return os << "Tensor(undefined)";
  return os << "Tensor(shape=" << shape_str(t.shape()) << ", dtype=" << dtype_name(t.dtype())
            << ", device=" << t.device().str() << ")";
}

}  // namespace fastconv
