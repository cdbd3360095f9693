// fastconv._C.read_safetensors / write_safetensors / read_safetensors_metadata: the file part of fastconv.io.
// Glue only: the checks live in cpp/src/io/safetensors.cpp. Arrays handed to Python view the one buffer the file
// was read into (a capsule keeps it alive), so loading copies each byte once: disk to memory.
#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <unistd.h>

#include <cerrno>

#include "io/safetensors.h"

namespace fastconv {
namespace py = pybind11;

namespace {
const char* numpy_format(const std::string& code) {
  if (code == "F32") return "<f4";
  if (code == "F64") return "<f8";
  if (code == "F16") return "<f2";
  if (code == "I64") return "<i8";
  if (code == "I32") return "<i4";
  if (code == "I16") return "<i2";
  if (code == "I8") return "i1";
  if (code == "U8") return "u1";
  return "?";  // BOOL
}
}  // namespace

void bind_io(py::module_& m) {
  m.def("read_safetensors",
        [](const std::string& path) {
          io::SafetensorsFile f;
          {
            py::gil_scoped_release nogil;
            auto buf = io::read_file(path);
            if (!buf) {
              int e = errno;
              py::gil_scoped_acquire gil;
              errno = e;
              PyErr_SetFromErrnoWithFilename(PyExc_OSError, path.c_str());
              throw py::error_already_set();
            }
            f = io::parse_safetensors(std::move(buf), path);
            f.tensors.clear();  // the DType views are for C++; Python builds its arrays from `raw`
          }
          auto* holder = new std::shared_ptr<Storage>(f.buffer);
          py::capsule base(holder, [](void* p) { delete static_cast<std::shared_ptr<Storage>*>(p); });
          auto* bytes = static_cast<char*>(f.buffer->data());
          py::list out;
          for (const io::RawTensor& r : f.raw) {
            py::dtype dt(numpy_format(r.dtype));
            std::vector<py::ssize_t> shape(r.shape.begin(), r.shape.end());
            char* at = bytes + r.offset;
            py::array a;
            if (reinterpret_cast<uintptr_t>(at) % static_cast<uintptr_t>(dt.itemsize()) == 0)
              a = py::array(dt, shape, {}, at, base);
            else
              a = py::array(dt, shape, {}, at);  // no base: NumPy copies (an odd layout from a foreign writer)
            out.append(py::make_tuple(r.name, r.dtype, py::tuple(py::cast(r.shape)), a));
          }
          return py::make_tuple(out, f.metadata);
        },
        py::arg("path"),
        "(list of (name, dtype code, shape, array) in file order, metadata) of a safetensors file; ValueError "
        "naming the file for any malformed content or a checksum mismatch, OSError when it cannot be read.");
  m.def("read_safetensors_metadata",
        [](const std::string& path) {
          errno = 0;
          if (::access(path.c_str(), R_OK) != 0) {  // the OSError Python's open() gave
            PyErr_SetFromErrnoWithFilename(PyExc_OSError, path.c_str());
            throw py::error_already_set();
          }
          py::gil_scoped_release nogil;
          return io::read_safetensors_metadata(path);
        },
        py::arg("path"));
  m.def("write_safetensors",
        [](const std::string& path, const py::list& tensors, const std::map<std::string, std::string>& metadata) {
          std::vector<py::array> keep;
          std::vector<io::RawView> views;
          for (auto item : tensors) {
            auto t = item.cast<py::tuple>();
            auto a = t[2].cast<py::array>();
            if (!(a.flags() & py::array::c_style))
              throw py::value_error("write_safetensors: tensor '" + t[0].cast<std::string>() +
                                    "' is not C-contiguous");
            io::RawView v;
            v.name = t[0].cast<std::string>();
            v.dtype = t[1].cast<std::string>();
            v.shape.assign(a.shape(), a.shape() + a.ndim());
            v.data = a.data();
            v.nbytes = static_cast<size_t>(a.nbytes());
            views.push_back(std::move(v));
            keep.push_back(std::move(a));
          }
          py::gil_scoped_release nogil;
          io::write_safetensors_raw(path, views, metadata);
        },
        py::arg("path"), py::arg("tensors"), py::arg("metadata"),
        "Writes [(name, dtype code, C-contiguous little-endian array)] and string metadata, with the data "
        "checksum, to a temporary name then renames it over `path`.");
}

}  // namespace fastconv
