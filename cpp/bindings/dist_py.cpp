// fastconv._C.dist_*: the communicator behind fastconv.distributed (cpp/src/dist/comm.h). Glue only. Waits release
// the GIL: the other ranks may need this process's Python threads meanwhile.
#include <pybind11/numpy.h>

#include "dist/comm.h"
#include "fastconv/error.h"

namespace fastconv {
namespace py = pybind11;

namespace {
// A writable C-contiguous float32 array (a Parameter or buffer: engine memory, updated in place).
float* inplace_floats(py::array& a, const char* who) {
  FC_CHECK(py::isinstance<py::array_t<float>>(a) && a.dtype().equal(py::dtype::of<float>()), Type, who,
           ": expected a float32 array, got dtype ", std::string(py::str(a.dtype())));
  FC_CHECK((a.flags() & py::array::c_style) && a.writeable(), Value, who,
           ": expected a writable C-contiguous array (it is updated in place)");
  return static_cast<float*>(a.mutable_data());
}
}  // namespace

void bind_dist(py::module_& m) {
  m.def("dist_init", &dist::init, py::arg("backend"), py::arg("timeout"), py::arg("plugin_path"),
        py::call_guard<py::gil_scoped_release>());
  m.def("dist_initialized", &dist::initialized);
  m.def("dist_backend", &dist::backend);
  m.def("dist_rank", &dist::rank);
  m.def("dist_world_size", &dist::world_size);
  m.def("dist_collectives_completed", &dist::collectives_completed);
  m.def("dist_comm_seconds", &dist::comm_seconds);
  m.def("dist_barrier", &dist::barrier, py::call_guard<py::gil_scoped_release>());
  m.def("dist_finalize", &dist::finalize, py::call_guard<py::gil_scoped_release>());
  m.def("dist_all_reduce_sum", [](py::array a) {
    float* p = inplace_floats(a, "all_reduce");
    const int64_t n = int64_t(a.size());
    py::gil_scoped_release nogil;
    dist::wait(dist::allreduce_sum_start(p, n));
  });
  m.def("dist_broadcast", [](py::array a, int root) {
    float* p = inplace_floats(a, "broadcast");
    const int64_t n = int64_t(a.size());
    py::gil_scoped_release nogil;
    dist::wait(dist::broadcast_start(p, n, root));
  }, py::arg("array"), py::arg("src"));
}

}  // namespace fastconv
