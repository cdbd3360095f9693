// A native program using fastconv without Python: build a graph, differentiate it, run it.
#include <cmath>
#include <cstdio>
#include <memory>

#include "fastconv/fastconv.h"

int main() {
  using namespace fastconv;
  std::printf("fastconv %s, kernels: %s, cuda available: %d\n", version(), isa_name(active_isa()),
              int(cuda::is_available()));
  auto g = std::make_shared<Graph>();
  ValueId x = g->input("x", {{4}});
  ValueId loss = g->add1("sum", {g->add1("relu", {x})});
  ValueId dx = append_backward(*g, loss, {x})[0];
  Executable exe(g, {loss, dx});
  Tensor in = Tensor::empty({4});
  const float v[4] = {-1.f, 2.f, -3.f, 4.f};
  for (int i = 0; i < 4; ++i) in.data<float>()[i] = v[i];
  exe.set_input(x, in);
  exe.run();
  float l = exe.output(loss).data<float>()[0];
  Tensor g_dx = exe.output(dx);
  std::printf("loss = %g, dloss/dx = [%g %g %g %g], arena = %zu bytes\n", l, g_dx.data<float>()[0],
              g_dx.data<float>()[1], g_dx.data<float>()[2], g_dx.data<float>()[3], exe.peak_bytes());
  bool ok = std::fabs(l - 6.f) < 1e-6f && g_dx.data<float>()[0] == 0.f && g_dx.data<float>()[1] == 1.f;
  try {
    Tensor::empty({-1});
    ok = false;
  } catch (const Error& e) {
    std::printf("bad shape rejected: %s\n", e.what());
  }
  return ok ? 0 : 1;
}
