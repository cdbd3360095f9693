"""docs/cpp.md's examples run as written: its CMakeLists.txt and main.cpp blocks are extracted, built against
fastconv and run; the file the program saves loads in Python and classifies as it did; the C snippet compiles as C
and classifies with that file."""
import re

import numpy as np
import pytest

import fastconv as fc
from cpp_build import REPO, build, run

DOC = (REPO / "docs" / "cpp.md").read_text()


def block(lang: str) -> str:
    found = re.findall(rf"```{lang}\n(.*?)```", DOC, re.S)
    assert found, f"docs/cpp.md has no ```{lang} block"
    return found[0]


def toy_inputs():
    x = np.zeros((16, 1, 8, 8), np.float32)
    for i in range(16):
        label, row = i % 2, i % 6
        col = 5 if label else 1
        x[i, 0, row:row + 2, col:col + 2] = 1
    return x, np.arange(16) % 2


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    work = tmp_path_factory.mktemp("docs_cpp")
    src = work / "toy"
    src.mkdir()
    (src / "CMakeLists.txt").write_text(block("cmake"))
    (src / "main.cpp").write_text(block("cpp"))
    exe = build(src, work) / "toy"
    r = run(exe, cwd=work)
    return work, r.stdout


def test_cpp_example_runs_and_python_loads_its_file(toy):
    work, out = toy
    m = re.search(r"loss ([\d.]+) -> ([\d.]+) after 31 steps", out)
    assert m and float(m.group(2)) < float(m.group(1)), out
    assert "16/16 correct" in out
    model = fc.load(str(work / "toy.safetensors"))
    x, y = toy_inputs()
    assert np.array_equal(fc.compile(model, x.shape).predict(x).argmax(1), y)


def test_c_snippet_compiles_as_c_and_classifies(toy):
    work, _ = toy
    src = work / "c_snippet"
    src.mkdir()
    (src / "snippet.c").write_text(block("c"))
    (src / "main.c").write_text(
        "#include <stdint.h>\n#include <stdio.h>\nint classify(const char* path, const float* x);\n"
        "int main(int argc, char** argv) {\n  float x[64] = {0};\n  x[2 * 8 + 5] = x[2 * 8 + 6] = 1;\n"
        "  x[3 * 8 + 5] = x[3 * 8 + 6] = 1;\n  printf(\"class %d\\n\", classify(argv[1], x));\n"
        "  printf(\"missing %d\\n\", classify(\"/nonexistent.safetensors\", x));\n  return 0;\n}\n")
    (src / "CMakeLists.txt").write_text(
        "cmake_minimum_required(VERSION 3.21)\nproject(snippet C)\nset(CMAKE_C_STANDARD 99)\n"
        "find_package(fastconv REQUIRED)\nadd_executable(snippet main.c snippet.c)\n"
        "target_compile_options(snippet PRIVATE -Wall -Werror)\n"
        "target_link_libraries(snippet PRIVATE fastconv::fastconv)\n")
    r = run(build(src, work) / "snippet", work / "toy.safetensors")
    assert "class 1" in r.stdout and "missing -1" in r.stdout
    assert "nonexistent.safetensors" in r.stderr
