#include "backend/backend.h"

#include <cstring>
#include <mutex>

#include "fastconv/cuda.h"
#include "fastconv/error.h"

namespace fastconv {
namespace {

class CudaBackend : public Backend {
 public:
  CudaBackend() : Backend("cuda", DeviceType::CUDA) {}
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
