"""Building the C++ examples and test programs (each its own CMake project, as a user's) with find_package(fastconv):
against the installed package (fastconv.get_cmake_dir()) or, in a development tree (PYTHONPATH=python), against a
package description written here for python/fastconv/lib/libfastconv.so and cpp/include."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import fastconv

REPO = Path(__file__).resolve().parent.parent

_DEV_CONFIG = """\
include(CMakeFindDependencyMacro)
find_dependency(Threads)
if(NOT TARGET fastconv::fastconv)
  add_library(fastconv::fastconv SHARED IMPORTED)
  set_target_properties(fastconv::fastconv PROPERTIES
    IMPORTED_LOCATION "{lib}"
    INTERFACE_INCLUDE_DIRECTORIES "{include}"
    INTERFACE_LINK_LIBRARIES Threads::Threads)
endif()
"""


def cmake_dir(work: Path) -> Path:
    """The folder holding fastconvConfig.cmake: the installed package's, else one written under `work`."""
    installed = Path(fastconv.get_cmake_dir())
    if (installed / "fastconvConfig.cmake").exists():
        return installed
    lib = Path(fastconv.__file__).resolve().parent / "lib" / "libfastconv.so"
    assert lib.exists(), f"no {lib}: build fastconv first (FASTCONV_PYTHON_INPLACE=ON)"
    d = work / "fastconv-dev-config"
    d.mkdir(parents=True, exist_ok=True)
    (d / "fastconvConfig.cmake").write_text(_DEV_CONFIG.format(lib=lib, include=REPO / "cpp" / "include"))
    return d


def build(source: Path, work: Path) -> Path:
    """Configures and builds the CMake project `source` under work/<name>; returns its build folder."""
    cmake = shutil.which("cmake")
    assert cmake, "cmake is needed to build fastconv itself, so it must be on PATH"
    out = work / f"build-{source.name}"
    cfg = subprocess.run([cmake, "-S", str(source), "-B", str(out), f"-Dfastconv_DIR={cmake_dir(work)}",
                          "-DCMAKE_BUILD_TYPE=Release"], capture_output=True, text=True)
    assert cfg.returncode == 0, cfg.stdout + cfg.stderr
    bld = subprocess.run([cmake, "--build", str(out)], capture_output=True, text=True)
    assert bld.returncode == 0, bld.stdout + bld.stderr
    return out


def run(exe: Path, *args, check: bool = True, **kw) -> subprocess.CompletedProcess:
    r = subprocess.run([str(exe), *map(str, args)], capture_output=True, text=True, timeout=600, **kw)
    if check:
        assert r.returncode == 0, f"{exe.name} {' '.join(map(str, args))} exited {r.returncode}:\n{r.stdout}\n{r.stderr}"
    return r
