"""The C++ package inside the installed Python package: a native program builds with find_package(fastconv) against
fastconv.get_cmake_dir() and runs, as the README tells C++ users to do."""
import shutil
import subprocess
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
