// nn_graphs <model>: the C++ side of tests/test_cpp_nn.py. Prints, separated by lines "----": the predict graph,
// the train graph with build_training appended, the architecture JSON, and "name shape dtype" per state_dict entry.
#include <cstdio>
#include <iostream>
#include <string>

#include "fastconv/fastconv.h"
#include "fastconv/nn.h"

using namespace fastconv;

int main(int argc, char** argv) {
  const std::string which = argc > 1 ? argv[1] : "";
  nn::manual_seed(0);
  nn::Sequential net;
  Shape shape;
  std::string loss;
  nn::Optimizer opt;
  nn::TrainOptions topt;
  if (which == "all_layers") {
    net = nn::Sequential{nn::Conv2d(1, 4, 3, 1, 1), nn::BatchNorm2d(4), nn::ReLU(), nn::MaxPool2d(2),
                         nn::AvgPool2d(2), nn::AdaptiveAvgPool2d(1), nn::Flatten(), nn::Dropout(0.25),
                         nn::Linear(4, 3)};
    shape = {2, 1, 8, 8};
    loss = "cross_entropy";
    opt = nn::SGD(0.1, 0.9);
  } else if (which == "variants") {
    net = nn::Sequential{nn::Conv2d(3, 6, {3, 2}, {2, 1}, {1, 0}, {1, 2}, 3, false),
                         nn::BatchNorm2d(6, 1e-3, 0.3),
                         nn::MaxPool2d({2, 1}, nn::Size2(1, 1), {1, 0}),
                         nn::AvgPool2d({3, 3}, 1, 1, true, false),
                         nn::AdaptiveAvgPool2d({2, -1}),
                         nn::Flatten(2),
                         nn::Flatten(),
                         nn::Linear(6 * 2 * 5, 5, false),
                         nn::Dropout(0.5)};
    shape = {3, 3, 9, 7};
    loss = "mse";
    opt = nn::Adam(1e-3, {0.8, 0.9}, 1e-7, 0.01);
    topt.clip_grad_norm = 1.5;
  } else if (which == "nested" || which == "nested_adadelta" || which == "nested_adagrad") {
    nn::Sequential features{nn::Conv2d(2, 3, 3), nn::ReLU()};
    net = nn::Sequential{features, nn::Flatten(), nn::Linear(3 * 4 * 4, 2)};
    shape = {4, 2, 6, 6};
    loss = "nll";
    if (which == "nested_adadelta")
      opt = nn::Adadelta(0.5, 0.8, 1e-5, 0.01, true);
    else if (which == "nested_adagrad")
      opt = nn::Adagrad(0.02, 0.1, 0.01, 0.3, 1e-8, true);
    else
      opt = nn::RMSprop(0.01, 0.9, 1e-6, 0.0, 0.5, true);
  } else {
    std::fprintf(stderr, "usage: nn_graphs all_layers|variants|nested|nested_adadelta|nested_adagrad\n");
    return 2;
  }
  nn::Traced tr = nn::trace(net, shape, loss, opt, topt);
  std::cout << tr.predict->dump() << "----\n";
  build_training(*tr.train, tr.spec, tr.state.get());
  std::cout << tr.train->dump() << "----\n" << net.architecture() << "\n----\n";
  for (const auto& [name, t] : net.state_dict()) std::cout << name << " " << shape_str(t.shape()) << " "
                                                           << dtype_name(t.dtype()) << "\n";
  return 0;
}
