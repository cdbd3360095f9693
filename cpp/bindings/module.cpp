// fastconv._C: the Python face of libfastconv.
#include <pybind11/stl.h>

#include "convert.h"
#include "cpu/gemm/gemm.h"
#include "fastconv/cpu_features.h"
#include "fastconv/cuda.h"
#include "fastconv/error.h"
#include "fastconv/graph.h"
#include "fastconv/parallel.h"

namespace fastconv {
void bind_tensor(pybind11::module_& m);
void bind_graph(pybind11::module_& m);
void bind_train(pybind11::module_& m);
void bind_model(pybind11::module_& m);
void bind_io(pybind11::module_& m);
void bind_dist(pybind11::module_& m);
}  // namespace fastconv

namespace py = pybind11;
using namespace fastconv;

PYBIND11_MODULE(_C, m) {
  m.doc() = "fastconv native core";
  m.attr("__version__") = FASTCONV_VERSION;

  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const Error& e) {
      switch (e.kind()) {
        case ErrorKind::Value: PyErr_SetString(PyExc_ValueError, e.what()); return;
        case ErrorKind::Type: PyErr_SetString(PyExc_TypeError, e.what()); return;
        case ErrorKind::Index: PyErr_SetString(PyExc_IndexError, e.what()); return;
        case ErrorKind::NotImplemented: PyErr_SetString(PyExc_NotImplementedError, e.what()); return;
        case ErrorKind::Runtime: PyErr_SetString(PyExc_RuntimeError, e.what()); return;
      }
    }
  });

  m.def("cpu_features", [] {
    const CpuFeatures& f = cpu_features();
    py::dict d;
    d["vendor"] = f.vendor;
    d["brand"] = f.brand;
    d["avx2"] = f.avx2;
    d["fma"] = f.fma;
    d["avx512f"] = f.avx512f;
    d["avx512bw"] = f.avx512bw;
    d["avx512vl"] = f.avx512vl;
    d["avx512dq"] = f.avx512dq;
    d["l2_cache_bytes"] = f.l2_bytes;
    d["best_isa"] = isa_name(f.best);
    d["isa"] = isa_name(active_isa());
    return d;
  });
  m.def("get_isa", [] { return std::string(isa_name(active_isa())); });
  m.def("set_isa", [](const std::string& name) { set_isa(parse_isa(name)); }, py::arg("isa"));
  m.def("get_num_threads", &get_num_threads);
  m.def("set_num_threads", &set_num_threads, py::arg("n"));
  m.def("empty_cache", &release_cached_memory);
  m.def("cached_memory_bytes", &cached_memory_bytes);
  m.def("set_detect_anomaly", &set_detect_anomaly, py::arg("mode"));
  m.def("is_anomaly_enabled", &is_anomaly_enabled);
  m.def("memory_allocated", &allocated_bytes);
  m.def("max_memory_allocated", &max_allocated_bytes);
  m.def("reset_peak_memory_stats", &reset_max_allocated_bytes);

  m.def("cuda_compiled", &cuda::compiled);
  m.def("cuda_is_available", &cuda::is_available);
  m.def("cuda_is_emulated", &cuda::emulated);
  m.def("cuda_device_count", &cuda::device_count);
  m.def("cuda_empty_cache", &cuda::empty_cache);
  m.def("cuda_cached_bytes", &cuda::cached_bytes);
  m.def("cuda_device_name", &cuda::device_name, py::arg("index") = 0);

  // Benchmark/test entry to the SGEMM: C = A @ B for 2-D float32 C-contiguous arrays.
  m.def("sgemm", [](py::array_t<float, py::array::c_style | py::array::forcecast> a,
                    py::array_t<float, py::array::c_style | py::array::forcecast> b) {
    FC_CHECK(a.ndim() == 2 && b.ndim() == 2 && a.shape(1) == b.shape(0), Value, "sgemm: expected A [M,K] and B [K,N]",
             " with matching K");
    const int64_t M = a.shape(0), K = a.shape(1), N = b.shape(1);
    py::array_t<float> c({M, N});
    const float *pa = a.data(), *pb = b.data();
    float* pc = c.mutable_data();
    {
      py::gil_scoped_release nogil;
      cpu::sgemm(false, false, M, N, K, 1.f, pa, K, pb, N, 0.f, pc, N);
    }
    return c;
  }, py::arg("a"), py::arg("b"));

  bind_tensor(m);
  bind_graph(m);
  bind_train(m);
  bind_model(m);
  bind_io(m);
  bind_dist(m);
}
