// The C++ Model (fastconv/model.h) for Python, and the graph serializer Python's fastconv.save calls. Glue only.
#include <pybind11/stl.h>

#include "api/model_file.h"
#include "convert.h"
#include "fastconv/model.h"

namespace fastconv {
namespace py = pybind11;
using namespace py_convert;

namespace {

py::dict named_dict(const NamedTensors& ts) {
  py::dict out;
  for (const auto& [name, t] : ts) out[py::str(name)] = numpy_on_host(t);
  return out;
}

}  // namespace

void bind_model(py::module_& m) {
  py::class_<Model>(m, "Model", "A model file's network run and trained in C++ (fastconv/model.h).")
      .def_static("load", [](const std::string& path, const std::string& device, int threads) {
          ModelOptions o;
          o.device = Device::parse(device);
          o.threads = threads;
          return Model::load(path, o);
        }, py::arg("path"), py::arg("device") = "cpu", py::arg("threads") = 0)
      .def("save", &Model::save, py::arg("path"), py::call_guard<py::gil_scoped_release>())
      .def("predict", [](const Model& self, py::handle x) {
          Tensor t = to_tensor(x), y;
          {
            py::gil_scoped_release nogil;
            y = self.predict(t);
          }
          return numpy_on_host(y);
        }, py::arg("x"))
      .def("predict_named", [](const Model& self, py::handle x) {
          Tensor t = to_tensor(x);
          NamedTensors y;
          {
            py::gil_scoped_release nogil;
            y = self.predict_named(t);
          }
          return named_dict(y);
        }, py::arg("x"))
      .def("train_step", [](Model& self, py::handle x, py::handle y) {
          Tensor tx = to_tensor(x), ty = to_tensor(y);
          py::gil_scoped_release nogil;
          return self.train_step(tx, ty);
        }, py::arg("x"), py::arg("y"))
      .def("state_dict", [](const Model& self) { return named_dict(self.state_dict()); },
           "{name: NumPy view of the model's own tensor} in state_dict order.")
      .def("parameter", [](const Model& self, const std::string& n) { return numpy_on_host(self.parameter(n)); })
      .def_property_readonly("steps", &Model::steps)
      .def("lr", &Model::lr, py::arg("group") = 0)
      .def("set_lr", &Model::set_lr, py::arg("lr"), py::arg("group") = 0)
      .def_property_readonly("trainable", &Model::trainable)
      .def_property_readonly("input_shape", &Model::input_shape)
      .def_property_readonly("output_names", &Model::output_names);

  m.def("serialize_graphs", [](std::shared_ptr<Graph> predict, ValueId predict_x, py::list outputs,
                               py::dict state_dict, py::object train, py::object device_params) {
          ModelGraphs g;
          g.predict = std::move(predict);
          g.predict_x = predict_x;
          for (auto o : outputs) {
            py::tuple t = o.cast<py::tuple>();
            g.predict_outputs.emplace_back(t[0].cast<std::string>(), t[1].cast<ValueId>());
          }
          for (auto [k, v] : state_dict) g.state_dict.emplace_back(py::str(k).cast<std::string>(), to_tensor(v));
          int train_nodes = -1;
          if (!train.is_none()) {
            py::dict d = train.cast<py::dict>();
            g.train = d["graph"].cast<std::shared_ptr<Graph>>();
            train_nodes = d["num_nodes"].cast<int>();
            g.train_x = d["x"].cast<ValueId>();
            g.train_y = d["y"].cast<ValueId>();
            g.spec = spec_from_dict(d["spec"].cast<py::dict>());
            g.state = d["state"].cast<std::shared_ptr<OptimizerState>>();
          }
          std::map<const void*, Tensor> host_of;  // a params_to_device cache: (device copy, host tensor) pairs
          if (!device_params.is_none())
            for (auto item : device_params.cast<py::dict>()) {
              py::tuple t = item.second.cast<py::tuple>();
              host_of[t[0].cast<Tensor>().data_ptr()] = t[1].cast<Tensor>();
            }
          GraphDoc doc = write_graph_doc(g, train_nodes, host_of);
          return py::make_tuple(doc.json, named_dict(doc.tensors));
        },
        py::arg("predict"), py::arg("predict_x"), py::arg("outputs"), py::arg("state_dict"), py::arg("train") = py::none(),
        py::arg("device_params") = py::none(),
        "fastconv.save's graph document: (the fastconv.graph JSON text, {reserved name: array}) for the compiled "
        "predict program (and the train program: graph, num_nodes before build_training, x, y, spec, state).");
}

}  // namespace fastconv
