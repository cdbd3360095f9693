"""The C++ package inside the installed Python package: a native program builds with find_package(fastconv) against
fastconv.get_cmake_dir() and runs, as the README tells C++ users to do; `python -m fastconv --cmake-dir` prints that
folder; the shipped libfastconv.so exports only the public API (tests/cpp/check_exports.py), and the Python module
does not depend on it."""
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import fastconv

SMOKE = Path(__file__).resolve().parent.parent / "examples" / "cpp" / "smoke"


def test_smoke_program_builds_against_the_installed_package(tmp_path):
    cmake = shutil.which("cmake")
    assert cmake, "cmake is needed to build fastconv itself, so it must be on PATH"
    cmake_dir = Path(fastconv.get_cmake_dir())
    if not (cmake_dir / "fastconvConfig.cmake").exists():
        pytest.skip("development tree (PYTHONPATH=python): no installed CMake package; ctest covers the staged one")
    build = tmp_path / "build"
    cfg = subprocess.run([cmake, "-S", str(SMOKE), "-B", str(build), f"-Dfastconv_DIR={cmake_dir}"],
                         capture_output=True, text=True)
    assert cfg.returncode == 0, cfg.stdout + cfg.stderr
    bld = subprocess.run([cmake, "--build", str(build)], capture_output=True, text=True)
    assert bld.returncode == 0, bld.stdout + bld.stderr
    run = subprocess.run([str(build / "fastconv_smoke")], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "loss = 6" in run.stdout and f"fastconv {fastconv.__version__}" in run.stdout


PKG_DIR = Path(fastconv.__file__).resolve().parent
REPO = Path(__file__).resolve().parent.parent


def _check_exports():
    spec = importlib.util.spec_from_file_location("check_exports", REPO / "tests" / "cpp" / "check_exports.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_python_m_fastconv_cmake_dir_prints_get_cmake_dir():
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(PKG_DIR.parent), os.environ.get("PYTHONPATH", "")]))
    r = subprocess.run([sys.executable, "-m", "fastconv", "--cmake-dir"], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout == fastconv.get_cmake_dir() + "\n"
    assert Path(r.stdout.strip()) == PKG_DIR / "lib" / "cmake" / "fastconv"


def test_the_shipped_library_exports_only_the_public_api():
    lib = PKG_DIR / "lib" / "libfastconv.so"
    assert lib.exists(), f"{lib}: the package ships libfastconv.so for C++ users (wheel and dev layout alike)"
    assert shutil.which("nm") and shutil.which("c++filt"), "binutils (nm, c++filt) are needed to read the library"
    # The installed package carries its headers (include/fastconv); a development tree has them in cpp/include.
    headers = PKG_DIR / "include" if (PKG_DIR / "include" / "fastconv").is_dir() else REPO / "cpp" / "include"
    bad, n = _check_exports().problems(lib, headers)
    assert n > 100 and not bad, "\n".join(bad[:50])
    soname = subprocess.run(["readelf", "-d", str(lib)], capture_output=True, text=True, check=True).stdout
    assert "Library soname: [libfastconv.so.0]" in soname


def test_the_python_module_carries_the_engine_itself():
    # _C links the engine's objects (it uses internals that libfastconv.so does not export): it must not need the
    # shared library at run time, so that the two never mix in one process by accident.
    exts = sorted(PKG_DIR.glob("_C*.so"))
    assert exts, f"no _C*.so in {PKG_DIR}"
    dyn = subprocess.run(["readelf", "-d", str(exts[0])], capture_output=True, text=True, check=True).stdout
    needed = re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", dyn)
    assert needed and not any("fastconv" in n for n in needed), needed
