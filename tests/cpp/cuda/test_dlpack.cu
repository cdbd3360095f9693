// DLPack with device tensors (fastconv/dlpack.h): a 'cuda:0' tensor exports as kDLCUDA with its device id and
// data pointer, comes back through from_dlpack without a copy, and keeps the exported storage alive exactly as long
// as the import lives (ASan, in CI's sanitizer step, reports a deleter that runs twice or never). A capsule on a
// CUDA device this machine does not have is refused before it is taken.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "fastconv/cuda.h"
#include "fastconv/dlpack.h"
#include "fastconv/error.h"

using namespace fastconv;

namespace {

Tensor on_device(const std::vector<float>& v, const Shape& s) {
  Tensor h = Tensor::empty(s);
  for (size_t i = 0; i < v.size(); ++i) h.data<float>()[i] = v[i];
  return h.to(Device::parse("cuda:0"));
}

std::vector<float> host_values(const Tensor& t) {
  Tensor h = t.to(Device{});
  return std::vector<float>(h.data<float>(), h.data<float>() + h.numel());
}

}  // namespace

TEST(DeviceDlpack, ExportsKDLCUDAWithTheDeviceIdAndTheDevicePointer) {
  Tensor d = on_device({1, 2, 3, 4, 5, 6}, {2, 3});
  ASSERT_EQ(d.device().type, DeviceType::CUDA);
  DLManagedTensor* m = to_dlpack(d);
  EXPECT_EQ(m->dl_tensor.device.device_type, kDLCUDA);
  EXPECT_EQ(m->dl_tensor.device.device_id, 0);
  EXPECT_EQ(m->dl_tensor.data, d.data_ptr());
  EXPECT_EQ(m->dl_tensor.ndim, 2);
  EXPECT_EQ(m->dl_tensor.shape[0], 2);
  EXPECT_EQ(m->dl_tensor.shape[1], 3);
  EXPECT_EQ(m->dl_tensor.strides[0], 3);
  EXPECT_EQ(m->dl_tensor.strides[1], 1);
  m->deleter(m);
}

TEST(DeviceDlpack, RoundTripsWithoutACopyAndKeepsTheStorageAlive) {
  cuda::empty_cache();
  Tensor d = on_device({1, 2, 3, 4}, {4});
  void* p = d.data_ptr();
  Tensor e = from_dlpack(to_dlpack(d));
  EXPECT_EQ(e.device().type, DeviceType::CUDA);
  EXPECT_EQ(e.device().index, 0);
  EXPECT_EQ(e.data_ptr(), p);
  d = Tensor();
  EXPECT_EQ(cuda::cached_bytes(), 0u);  // the import still holds the block
  EXPECT_EQ(host_values(e), (std::vector<float>{1, 2, 3, 4}));
  e = Tensor();
  EXPECT_EQ(cuda::cached_bytes(), 16u);  // ... and gave it back when it went
  cuda::empty_cache();
}

TEST(DeviceDlpack, RefusesACudaDeviceThisMachineDoesNotHave) {
  Tensor d = on_device({1, 2}, {2});
  for (int id : {-1, cuda::device_count(), 7}) {
    DLManagedTensor* m = to_dlpack(d);
    m->dl_tensor.device.device_id = id;
    try {
      from_dlpack(m);
      ADD_FAILURE() << "device " << id << " was accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::Value);
      const std::string msg = e.what();
      EXPECT_NE(msg.find("CUDA device " + std::to_string(id) + ","), std::string::npos) << msg;
      EXPECT_NE(msg.find("sees " + std::to_string(cuda::device_count())), std::string::npos) << msg;
    }
    m->deleter(m);  // refused: still ours to free (ASan: freed once, here)
  }
}
