#include "backend/backend.h"

#include <cstring>
#include <mutex>
#include <utility>

#include "fastconv/cuda.h"
#include "fastconv/error.h"

namespace fastconv {
namespace {

cuda::Copy copy_kind(bool dst_host, bool src_host) {
  FC_CHECK(!(dst_host && src_host), Value, "StepQueue::copy: host-to-host copy on a device queue");
  return dst_host ? cuda::Copy::DeviceToHost : src_host ? cuda::Copy::HostToDevice : cuda::Copy::DeviceToDevice;
}

// Capture is thread-local, so contexts on other threads keep running while one captures. The first run with a new
// set of addresses runs directly (a kernel's one-time setup, like raising its shared-memory limit, is not
// capture-safe), the second is captured and replayed, and every later one only replays.
class CudaQueue : public StepQueue {
 public:
  CudaQueue() : stream_(cuda::stream_create()) {}
  ~CudaQueue() override {
    cuda::graph_destroy(graph_);
    cuda::stream_destroy(stream_);
  }
  void* stream() const override { return stream_; }
  void run(LaunchFn launch, void* arg, uint64_t version, bool capturable) override {
    replayed_ = false;
    if (graph_ && capturable && version == graph_version_) {
      cuda::graph_launch(graph_, stream_);
      replayed_ = true;
      return;
    }
    if (!capturable || !ran_once_ || version != ran_version_) {
      cuda::graph_destroy(std::exchange(graph_, nullptr));
      launch(arg);
      ran_once_ = true;
      ran_version_ = version;
      return;
    }
    cuda::graph_destroy(std::exchange(graph_, nullptr));
    cuda::capture_begin(stream_);
    try {
      launch(arg);
    } catch (...) {
      try {
        cuda::graph_destroy(cuda::capture_end(stream_));  // ends the invalidated capture; its own error is moot
      } catch (const Error&) {
      }
      throw;
    }
    graph_ = cuda::capture_end(stream_);
    graph_version_ = version;
    cuda::graph_launch(graph_, stream_);
    replayed_ = true;
  }
  void copy(void* dst, bool dst_host, const void* src, bool src_host, size_t nbytes) override {
    cuda::memcpy_async(dst, src, nbytes, copy_kind(dst_host, src_host), stream_);
  }
  void synchronize() override { cuda::stream_synchronize(stream_); }
  bool replayed() const override { return replayed_; }

 private:
  cuda::Stream stream_;
  cuda::GraphExec graph_ = nullptr;
  uint64_t graph_version_ = 0, ran_version_ = 0;
  bool ran_once_ = false, replayed_ = false;
};

class CudaBackend : public Backend {
 public:
  CudaBackend() : Backend("cuda", DeviceType::CUDA) {}
  std::unique_ptr<StepQueue> make_queue() const override { return std::make_unique<CudaQueue>(); }
  void copy(void* dst, const void* src, size_t nbytes) const override {
    cuda::memcpy(dst, src, nbytes, cuda::Copy::DeviceToDevice);
  }
  bool needs_fixed_addresses() const override { return true; }
};

struct Backends {
  std::mutex mu;
  std::vector<std::shared_ptr<Backend>> list;
  Backends() {
    list.push_back(std::make_shared<Backend>("cpu", DeviceType::CPU));
    list.push_back(std::make_shared<CudaBackend>());
  }
};
Backends& backends() {
  static Backends* b = new Backends();  // never destroyed: compiled programs may outlive static teardown
  return *b;
}

}  // namespace

void StepQueue::copy(void* dst, bool, const void* src, bool, size_t nbytes) {
  if (nbytes) std::memcpy(dst, src, nbytes);
}

bool Backend::supports(const KernelCall& c) const {
  if (c.backend != name_) return false;
  try {
    KernelTable::global().select(c);
    return true;
  } catch (const Error&) {
    return false;
  }
}

std::shared_ptr<Storage> Backend::allocate(size_t nbytes, Device d) const { return Storage::allocate(nbytes, d); }

void Backend::copy(void* dst, const void* src, size_t nbytes) const {
  if (nbytes) std::memcpy(dst, src, nbytes);
}

void Backend::add(std::shared_ptr<Backend> b) {
  Backends& all = backends();
  std::lock_guard<std::mutex> lock(all.mu);
  for (auto& e : all.list)
    if (e->name() == b->name()) {
      e = std::move(b);
      return;
    }
  all.list.push_back(std::move(b));
}

const Backend& Backend::get(const std::string& name) {
  Backends& all = backends();
  std::lock_guard<std::mutex> lock(all.mu);
  std::string known;
  for (const auto& e : all.list) {
    if (e->name() == name) return *e;
    known += (known.empty() ? "" : ", ") + e->name();
  }
  fail(ErrorKind::Value, "unknown backend '", name, "' (registered backends: ", known, ")");
}

std::vector<std::string> Backend::names() {
  Backends& all = backends();
  std::lock_guard<std::mutex> lock(all.mu);
  std::vector<std::string> out;
  for (const auto& e : all.list) out.push_back(e->name());
  return out;
}

const std::string& Backend::default_for(Device d) {
  static const std::string cpu = "cpu", cuda = "cuda";
  return d.is_cpu() ? cpu : cuda;
}

int Backend::derive(const std::string& name, const std::string& base, const std::vector<std::string>& algos) {
  FC_CHECK(name != base, Value, "derive: a backend cannot derive from itself ('", name, "')");
  const Backend& b = get(base);
  FC_CHECK(b.device_type() == DeviceType::CPU, Value, "derive: backend '", base,
           "' is not on the CPU; only CPU backends can be derived");
  add(std::make_shared<Backend>(name, DeviceType::CPU));
  return KernelTable::global().copy_backend(base, name, algos);
}

}  // namespace fastconv
