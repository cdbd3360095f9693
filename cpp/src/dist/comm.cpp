// dist::init loads the plugin with dlopen (comm_abi.h says why); "local" needs none.
#include "dist/comm.h"

#include <dlfcn.h>

#include <atomic>
#include <map>
#include <mutex>

#include "dist/comm_abi.h"
#include "fastconv/error.h"

namespace fastconv::dist {
namespace {

struct Comm {
  std::mutex mu;
  std::string backend;
  const fastconv_comm_api* api = nullptr;  // null for "local"
  int rank = 0, size = 1;
  std::atomic<int64_t> local_handles{0}, completed{0};
  std::mutex pending_mu;
  std::map<const float*, int64_t> pending;  // buffer -> its collective not yet waited for
};
Comm& comm() {
  static Comm* c = new Comm();  // never destroyed: atexit handlers may still finalize
  return *c;
}

void check_rc(int rc, const char* err, const char* what) {
  FC_CHECK(rc == 0, Runtime, err[0] ? err : what);
}

const fastconv_comm_api* need() {
  Comm& c = comm();
  FC_CHECK(!c.backend.empty(), Runtime,
           "fastconv.distributed: not initialized; call fastconv.distributed.init() before training with "
           "DistributedDataParallel");
  return c.api;
}

}  // namespace

void init(const std::string& backend, double timeout_s, const std::string& plugin_path) {
  Comm& c = comm();
  std::lock_guard<std::mutex> lock(c.mu);
  FC_CHECK(backend == "mpi" || backend == "local", Value,
           "fastconv.distributed.init: argument 'backend' must be 'mpi', 'local' or 'auto', got '", backend, "'");
  FC_CHECK(timeout_s > 0, Value, "fastconv.distributed.init: argument 'timeout' must be > 0 seconds, got ",
           timeout_s);
  if (!c.backend.empty()) {
    FC_CHECK(c.backend == backend, Value, "fastconv.distributed.init: already initialized with backend '",
             c.backend, "', cannot switch to '", backend, "'");
    return;
  }
  if (backend == "mpi") {
    void* h = dlopen(plugin_path.c_str(), RTLD_NOW | RTLD_GLOBAL);
    FC_CHECK(h != nullptr, Runtime, "fastconv.distributed.init: backend 'mpi' needs the MPI plugin, built when ",
             "CMake finds MPI (Debian: apt-get install libopenmpi-dev openmpi-bin, then reinstall fastconv); ",
             "loading '", plugin_path, "' failed: ", dlerror());
    auto fn = reinterpret_cast<fastconv_comm_plugin_fn>(dlsym(h, FASTCONV_COMM_PLUGIN_SYMBOL));
    FC_CHECK(fn != nullptr, Runtime, "fastconv.distributed.init: '", plugin_path, "' is not a fastconv plugin");
    const fastconv_comm_api* api = fn();
    FC_CHECK(api->abi_version == FASTCONV_COMM_ABI_VERSION, Runtime, "fastconv.distributed.init: '", plugin_path,
             "' speaks plugin ABI ", api->abi_version, ", this fastconv ", FASTCONV_COMM_ABI_VERSION);
    char err[1024] = "";
    check_rc(api->init(timeout_s, &c.rank, &c.size, err, sizeof err), err, "MPI initialization failed");
    c.api = api;
  }
  c.backend = backend;
}

bool initialized() { return !comm().backend.empty(); }
std::string backend() { return comm().backend; }
int rank() { return comm().rank; }
int world_size() { return comm().size; }
int64_t collectives_completed() { return comm().completed.load(); }
double comm_seconds() { return comm().api ? comm().api->busy_seconds() : 0.0; }

int64_t allreduce_sum_start(float* data, int64_t n) {
  const fastconv_comm_api* api = need();
  if (!api) return ++comm().local_handles;  // one rank: the sum is the data
  char err[1024] = "";
  int64_t h = 0;
  check_rc(api->allreduce_sum_start(data, n, &h, err, sizeof err), err, "allreduce failed");
  return h;
}

int64_t broadcast_start(float* data, int64_t n, int root) {
  const fastconv_comm_api* api = need();
  FC_CHECK(root >= 0 && root < comm().size, Value, "fastconv.distributed: broadcast root ", root,
           " is not a rank of this world of ", comm().size);
  if (!api) return ++comm().local_handles;
  char err[1024] = "";
  int64_t h = 0;
  check_rc(api->broadcast_start(data, n, root, &h, err, sizeof err), err, "broadcast failed");
  return h;
}

void wait(int64_t handle) {
  const fastconv_comm_api* api = need();
  if (api) {
    char err[1024] = "";
    check_rc(api->wait(handle, err, sizeof err), err, "collective failed");
  }
  ++comm().completed;
}

void allreduce_sum_start_at(float* data, int64_t n) {
  const int64_t h = allreduce_sum_start(data, n);
  Comm& c = comm();
  std::lock_guard<std::mutex> lock(c.pending_mu);
  FC_CHECK(c.pending.emplace(data, h).second, Runtime, "fastconv.distributed: a second allreduce of one buffer ",
           "started before the first was waited for");
}

void wait_for(const float* data) {
  Comm& c = comm();
  int64_t h;
  {
    std::lock_guard<std::mutex> lock(c.pending_mu);
    auto it = c.pending.find(data);
    FC_CHECK(it != c.pending.end(), Runtime, "fastconv.distributed: waiting for a buffer with no allreduce started");
    h = it->second;
    c.pending.erase(it);
  }
  wait(h);
}

void barrier() {
  const fastconv_comm_api* api = need();
  if (!api) return;
  char err[1024] = "";
  int64_t h = 0;
  check_rc(api->barrier_start(&h, err, sizeof err), err, "barrier failed");
  wait(h);
}

void finalize() {
  Comm& c = comm();
  std::lock_guard<std::mutex> lock(c.mu);
  if (c.api) c.api->finalize();
  c.api = nullptr;
  c.backend.clear();
}

}  // namespace fastconv::dist
