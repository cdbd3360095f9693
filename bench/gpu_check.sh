#!/usr/bin/env bash
# One call on a GPU machine: build with CUDA, run the test suite, run the benchmarks; logs go to $1 (default ./out).
#   bash bench/gpu_check.sh "$OUT"
# The device machine has torch, numpy, pytest, pybind11, scikit-build-core, cmake, ninja and nvcc preinstalled and
# no package registry, hence --no-build-isolation --no-deps.
set -uo pipefail
out="${1:-out}"
mkdir -p "$out"
cd "$(dirname "$0")/.."
{ nvidia-smi || true; lscpu | grep -E "Model name|^CPU\(s\)"; } > "$out/machine.txt" 2>&1
export SKBUILD_CMAKE_DEFINE="FASTCONV_CUDA=ON;FASTCONV_BUILD_TESTS=ON" CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)"
export CUDAARCHS=90  # sm_90 only: the lent machines are H100/H200
status=0
pip install --no-build-isolation --no-deps . > "$out/build.log" 2>&1 || { echo "build failed"; tail -50 "$out/build.log"; exit 1; }
python -c "import fastconv as fc; print(fc.__version__, fc.cuda.is_available(), fc.cuda.get_device_name(0))" \
  > "$out/cuda.txt" 2>&1 || status=1
python -m pytest -q -x tests > "$out/pytest.log" 2>&1 || status=1
build_dir=$(dirname "$(ls -d build/*/CTestTestfile.cmake | head -n 1)")
ctest --test-dir "$build_dir" --output-on-failure > "$out/ctest.log" 2>&1 || status=1
# The CUDA tests (tests/cpp/cuda, ctest registers them only under the emulator) on the real GPU, then the
# same binary under compute-sanitizer's memcheck and racecheck.
cuda_tests="$build_dir/tests/cpp/fastconv_cuda_tests"
"$cuda_tests" > "$out/cuda_tests.log" 2>&1 || status=1
if command -v compute-sanitizer >/dev/null; then
  for tool in memcheck racecheck; do
    timeout 240 compute-sanitizer --tool "$tool" --error-exitcode 1 "$cuda_tests" --gtest_filter='-*Planted*' \
      > "$out/sanitizer_$tool.log" 2>&1 || status=1
  done
fi
for b in bench/bench_ops.py bench/bench_cuda.py; do
  python "$b" --json "$out/$(basename "$b" .py).json" > "$out/$(basename "$b" .py).txt" 2>&1 || status=1
done
tail -3 "$out/pytest.log" "$out/ctest.log" "$out/cuda_tests.log"; cat "$out/cuda.txt"
exit $status
