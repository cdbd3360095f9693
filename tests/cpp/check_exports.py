"""libfastconv.so exports only the public API (issue 12).

Every defined dynamic symbol must be a name of namespace fastconv declared in the public headers (a function, or a
member, vtable or typeinfo of a class they declare), a C API symbol fc_*, or one of the linker's own (_init, _fini,
version nodes); a sample of internal symbols must be absent and a sample of public ones present.

    python check_exports.py LIBRARY HEADER_DIR   (HEADER_DIR holds fastconv/*.h)

tests/test_cpp_package.py runs check() on the installed package's library; ctest on the built one.
"""
import re
import subprocess
import sys
from pathlib import Path

# Never exported: the op registry, the kernel table, the GEMM and a convolution kernel, graph internals.
MUST_BE_ABSENT = ["fastconv::Registry::", "fastconv::KernelTable::", "fastconv::cpu::sgemm(",
                  "fastconv::cpu::conv_im2col_gemm_forward(", "fastconv::live_nodes(", "fastconv::add_cpu_kernel("]
# Exported: a sample of the public API, the typeinfo C++ users catch errors by, and the eager / DLPack functions.
MUST_BE_PRESENT = ["fastconv::version()", "typeinfo for fastconv::Error", "fastconv::Tensor::empty(",
                   "fastconv::Executable::run()", "fastconv::append_backward(", "fastconv::build_training(",
                   "fastconv::cuda::is_available()", "fastconv::run_op(", "fastconv::to_dlpack(",
                   "fastconv::from_dlpack(", "fastconv::shape_str(", "fastconv::set_isa("]
LINKER_SYMBOLS = {"_init", "_fini", "__bss_start", "_edata", "_end"}
SPECIAL_PREFIXES = ("typeinfo name for ", "typeinfo for ", "vtable for ", "VTT for ", "non-virtual thunk to ",
                    "virtual thunk to ", "guard variable for ")


def dynamic_symbols(lib):
    """(name, type) of every defined dynamic symbol, the name without its @VERSION suffix."""
    out = subprocess.run(["nm", "-D", "--defined-only", "-P", str(lib)], check=True, capture_output=True,
                         text=True).stdout
    syms = []
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 2:
            syms.append((parts[0].split("@")[0], parts[1]))
    return syms


def demangle(names):
    out = subprocess.run(["c++filt"], input="\n".join(names) + "\n", check=True, capture_output=True,
                         text=True).stdout
    return out.splitlines()


def public_names(header_dir):
    """Identifiers of the public headers' code (comments and string literals removed), and their namespaces."""
    idents, namespaces = set(), set()
    for h in sorted(Path(header_dir, "fastconv").glob("*.h")):
        src = h.read_text()
        src = re.sub(r"/\*.*?\*/", " ", src, flags=re.S)
        src = re.sub(r"//[^\n]*", " ", src)
        src = re.sub(r'"(\\.|[^"\\])*"', " ", src)
        idents |= set(re.findall(r"[A-Za-z_]\w*", src))
        for ns in re.findall(r"namespace\s+([\w:]+)\s*\{", src):
            namespaces |= set(ns.split("::"))
    return idents, namespaces


def qualified_components(demangled):
    """'fastconv::Tensor::reshape(std::vector<long> const&) const' -> ['fastconv', 'Tensor', 'reshape']."""
    name, depth = [], 0
    for i, ch in enumerate(demangled):
        if ch == "<":
            # operator<< / operator< are names, not template arguments
            if demangled[:i].endswith("operator") or demangled[:i].endswith("operator<"):
                name.append(ch)
                continue
            depth += 1
        elif ch == ">" and depth:
            depth -= 1
        elif ch == "(" and depth == 0 and not demangled[:i].endswith("operator"):
            break
        elif depth == 0:
            name.append(ch)
    return "".join(name).split("::")


def problems(lib, header_dir):
    idents, namespaces = public_names(header_dir)
    syms = dynamic_symbols(lib)
    names = [n for n, _ in syms]
    # abi tags ("shape_str[abi:cxx11](...)") are not part of the name
    dem = [re.sub(r"\[abi:\w+\]", "", d) for d in demangle(names)]
    bad = []
    for (raw, kind), d in zip(syms, dem):
        if raw in LINKER_SYMBOLS or kind == "A":  # version nodes are absolute symbols
            continue
        if raw.startswith("fc_") and d == raw:  # the C API
            continue
        s = d
        for p in SPECIAL_PREFIXES:
            if s.startswith(p):
                s = s[len(p):]
                break
        comps = qualified_components(s)
        if len(comps) < 2 or comps[0] != "fastconv":
            bad.append(f"{d}  ({raw}): not in namespace fastconv")
            continue
        i = 1
        while i < len(comps) - 1 and comps[i] in namespaces:
            i += 1
        head = comps[i]
        if not (head in idents or head.startswith("operator")):
            bad.append(f"{d}  ({raw}): {head!r} is not declared in the public headers")
    text = "\n".join(dem)
    for name in MUST_BE_ABSENT:
        if name in text:
            bad.append(f"internal symbol exported: {name}")
    for name in MUST_BE_PRESENT:
        if name not in text:
            bad.append(f"public symbol missing: {name}")
    return bad, len(syms)


def main(argv):
    if len(argv) != 3:
        print(__doc__)
        return 2
    bad, n = problems(argv[1], argv[2])
    for b in bad:
        print(b)
    print(f"{argv[1]}: {n} dynamic symbols, {len(bad)} problems")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
