"""The smallest tour of fastconv: eager ops on NumPy arrays, gradients from the compiled backward pass, interop."""
import numpy as np

import fastconv as fc
import fastconv.functional as F

print(f"fastconv {fc.__version__}: CPU kernels {fc.get_isa()}, {fc.get_num_threads()} threads, "
      f"CUDA available: {fc.cuda.is_available()}")

rng = np.random.default_rng(0)
x = rng.standard_normal((4, 8)).astype(np.float32)
w = rng.standard_normal(8).astype(np.float32)

y = F.relu(x * w)                      # eager: NumPy in, NumPy out
print("relu(x * w) row 0:", np.round(y[0], 3))

loss_and_grads = fc.value_and_grad(lambda x, w: F.relu(x * w).mean(), argnums=(0, 1))
loss, (gx, gw) = loss_and_grads(x, w)  # traced once per shape, backward compiled in C++
print(f"loss = {float(loss):.4f}, dloss/dw = {np.round(gw, 3)}")

t = fc.from_numpy(x)                   # zero-copy views both ways
assert np.asarray(t).ctypes.data == x.ctypes.data
print("zero-copy NumPy round trip: ok")
