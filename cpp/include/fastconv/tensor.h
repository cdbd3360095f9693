// Tensor: a strided view over reference-counted storage. Kernels see raw pointers; this is what the API passes.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "fastconv/dtype.h"
#include "fastconv/export.h"

namespace fastconv {

using Shape = std::vector<int64_t>;
FASTCONV_API std::string shape_str(const Shape& s);  // "[8, 4, 3, 3]"
// The most elements a tensor may have: 2**60 (2**62 bytes of float32, beyond any allocation), so that byte counts
// and index arithmetic on any valid shape stay inside int64.
constexpr int64_t kMaxTensorElements = int64_t(1) << 60;
FASTCONV_API int64_t shape_numel(const Shape& s);  // ValueError for a negative size or more than kMaxTensorElements
FASTCONV_API Shape contiguous_strides(const Shape& s);  // in elements

// 64-byte-aligned CPU memory (one cache line; an AVX-512 register).
FASTCONV_API void* aligned_alloc64(size_t nbytes);
FASTCONV_API void aligned_free64(void* p);
// The same through a cache of large freed blocks (what Storage uses): a block of >= 1 MiB freed here is kept (up
// to FASTCONV_CACHE_MB, default 256, oldest dropped first) and handed out again for a request of its size class,
// so its pages are not faulted in again. cached_free64 needs the size given to cached_alloc64.
FASTCONV_API void* cached_alloc64(size_t nbytes);
FASTCONV_API void cached_free64(void* p, size_t nbytes);
FASTCONV_API size_t release_cached_memory();  // returns the cached blocks to the system; the bytes freed
FASTCONV_API size_t cached_memory_bytes();
// Bytes of CPU tensor storage allocated now, and the most at any time since the last reset (the process-wide
// high-water mark; torch.cuda.max_memory_allocated's meaning for the CPU).
FASTCONV_API size_t allocated_bytes();
FASTCONV_API size_t max_allocated_bytes();
FASTCONV_API void reset_max_allocated_bytes();

class FASTCONV_API Storage {
 public:
  using Deleter = std::function<void(void*)>;
  // Takes ownership through `deleter` (called once with `data`); an empty deleter means borrowed memory.
  Storage(void* data, size_t nbytes, Device device, Deleter deleter);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  static std::shared_ptr<Storage> allocate(size_t nbytes, Device device);
  void* data() const { return data_; }
  size_t nbytes() const { return nbytes_; }
  Device device() const { return device_; }

  // The weight version: bumped by every write to these bytes that fastconv makes or is told about (compiled
  // optimizer updates and running statistics, Tensor::copy_from/fill_, load_state_dict, Python writes through a
  // Parameter, weights_changed()). Constants folded from parameters (docs/inference.md) are recomputed when a
  // version they were computed from moved. Kernels writing arena values do not bump it (nobody folds those).
  uint64_t version() const { return version_.load(std::memory_order_acquire); }
  void bump_version() { version_.fetch_add(1, std::memory_order_acq_rel); }

 private:
  void* data_;
  size_t nbytes_;
  Device device_;
  Deleter deleter_;
  std::atomic<uint64_t> version_{0};
};

class FASTCONV_API Tensor {
 public:
  Tensor() = default;  // undefined tensor
  Tensor(std::shared_ptr<Storage> storage, int64_t offset_bytes, Shape shape, Shape strides, DType dtype);

  static Tensor empty(const Shape& shape, DType dtype = DType::f32, Device device = {});
  static Tensor zeros(const Shape& shape, DType dtype = DType::f32, Device device = {});
  static Tensor full(const Shape& shape, float value, Device device = {});
  // Wraps memory someone else owns; `owner` keeps it alive (e.g. a NumPy array) and is released with the tensor.
  static Tensor from_blob(void* data, const Shape& shape, const Shape& strides, DType dtype, Device device,
                          std::shared_ptr<void> owner);

  bool defined() const { return storage_ != nullptr; }
  const Shape& shape() const { return shape_; }
  const Shape& strides() const { return strides_; }
  int64_t dim() const { return static_cast<int64_t>(shape_.size()); }
  int64_t size(int64_t d) const;  // negative d counts from the end
  int64_t numel() const { return shape_numel(shape_); }
  size_t nbytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype_); }
  DType dtype() const { return dtype_; }
  Device device() const;
  bool is_contiguous() const;
  const std::shared_ptr<Storage>& storage() const { return storage_; }

  void* data_ptr() const;
  template <class T>
  T* data() const { return static_cast<T*>(data_ptr()); }

  Tensor contiguous() const;  // itself when already contiguous
  Tensor clone() const;       // always a new contiguous copy
  Tensor reshape(const Shape& shape) const;  // a view; one dim may be -1; needs a contiguous tensor
  Tensor to(DType dtype) const;              // conversion between f32/f64/i64/i32/u8/bool
  Tensor to(Device device) const;            // itself on that device, else a contiguous copy there
  Tensor& fill_(float value);
  void copy_from(const Tensor& src);  // same shape; any strides; dtype converted

 private:
  std::shared_ptr<Storage> storage_;
  int64_t offset_ = 0;  // bytes
  Shape shape_, strides_;
  DType dtype_ = DType::f32;
};

// "Tensor(shape=[2, 3], dtype=float32, device=cpu)"
FASTCONV_API std::ostream& operator<<(std::ostream& os, const Tensor& t);

}  // namespace fastconv
