// Training programs and optimizer state. Glue only.
#include <pybind11/stl.h>

#include "convert.h"
#include "fastconv/train.h"

namespace fastconv {
namespace py = pybind11;
using namespace py_convert;

void bind_train(py::module_& m) {
  py::class_<OptimizerState, std::shared_ptr<OptimizerState>>(m, "OptimizerState")
      .def(py::init<>())
      .def_property("steps", &OptimizerState::steps, &OptimizerState::set_steps)
      .def("set_lr", &OptimizerState::set_lr, py::arg("group"), py::arg("lr"))
      .def("lr", [](OptimizerState& s, size_t g) { return s.lr(g).data<double>()[0]; }, py::arg("group"))
      .def("slots", [](const OptimizerState& s) {
        py::dict out;
        for (const auto& [key, slots] : s.slots()) {
          py::dict d;
          for (const auto& [name, t] : slots) d[py::str(name)] = numpy_from_tensor(t);
          out[py::str(key)] = d;
        }
        return out;
      }, "{parameter key: {slot name: NumPy view}} of every slot made so far.")
      .def("slot", [](OptimizerState& s, const std::string& key, const std::string& slot, py::handle like) {
        Tensor t = to_tensor(like);
        return numpy_from_tensor(s.slot(key, slot, {t.shape(), t.dtype()}));
      }, py::arg("key"), py::arg("slot"), py::arg("like"), "The slot (zeros shaped like `like` when new), as a view.");

  m.def("build_training", [](Graph& g, const py::dict& spec, std::shared_ptr<OptimizerState> state) {
          const TrainGraph t = build_training(g, spec_from_dict(spec), state.get());
          return py::dict(py::arg("grads") = t.grads, py::arg("step") = t.step);
        },
        py::arg("graph"), py::arg("spec"), py::arg("state") = nullptr,
        "Appends backward, clipping and optimizer updates to the graph; returns {'grads': [...], 'step': id}.");
  m.def("step_counter", [](Graph& g, std::shared_ptr<OptimizerState> state) {
          return step_counter(g, state ? state->step() : Tensor());
        },
        py::arg("graph"), py::arg("state") = nullptr,
        "The graph's step number value (made once per graph; counts in the optimizer state's counter if given).");
  m.def("empty_array", [](std::vector<int64_t> shape, const std::string& dtype) {
          return numpy_from_tensor(Tensor::empty(shape, dtype_from_name(dtype)));
        },
        py::arg("shape"), py::arg("dtype") = "float32",
        "A NumPy array over memory fastconv allocates (and owns): parameters and buffers are made this way.");
}

}  // namespace fastconv
