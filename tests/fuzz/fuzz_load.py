"""Coverage-guided fuzzing of the model loader (fastconv.load) with atheris (libFuzzer for Python).

    python tests/fuzz/fuzz_load.py -atheris_runs=100000           # or -max_total_time=60 (what CI runs)
    python tests/fuzz/fuzz_load.py --target=arch -max_total_time=60
    python tests/fuzz/fuzz_load.py tests/fuzz/regressions/*        # replay saved inputs

--target=file (default): every input is a whole model file. --target=arch: every input is the architecture JSON
text, written into a well-formed file that also holds a real model's tensors, so byte mutations of the JSON reach
the registry, the field checks, the constructors and the weight loading instead of dying at the header length.
The only acceptable outcomes are a model or a ValueError naming the file; anything else (another exception, a
crash, a hang) is a finding. The corpora start from files written by fc.save. libFuzzer saves findings as crash-*
files: copy them to tests/fuzz/regressions/<target>/, where test_fuzz_regressions.py replays them.
"""
import os
import sys
import tempfile

import atheris

with atheris.instrument_imports(include=["fastconv.io", "fastconv.nn", "fastconv.models"]):
    import numpy as np

    import fastconv as fc
    import fastconv.nn as nn

PATH = os.path.join(tempfile.mkdtemp(prefix="fc-fuzz-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None),
                    "m.safetensors")


def seed_models():
    fc.manual_seed(0)
    models = [nn.Linear(3, 2), nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.BatchNorm2d(2), nn.ReLU(),
                                             nn.MaxPool2d(2), nn.Flatten(), nn.Linear(8, 3)),
              nn.Sequential(nn.ModuleList([nn.Identity(), nn.Dropout(0.1)]), nn.LayerNorm((2, 3))),
              nn.Sequential(nn.ConvTranspose2d(2, 1, 2, stride=2, bias=False), nn.Upsample(scale_factor=2),
                            nn.AdaptiveAvgPool2d((None, 1)), nn.GroupNorm(1, 1))]
    m = nn.Conv2d(2, 2, 1)
    m.weight.requires_grad = False
    models.append(m)
    return models


def seed_corpus(folder: str, target: str) -> None:
    """Small files written by today's fc.save (or their architecture text): what a real model file holds."""
    os.makedirs(folder, exist_ok=True)
    for i, m in enumerate(seed_models()):
        p = os.path.join(folder, f"seed{i}")
        fc.save(m, p)
        if target == "arch":
            text = fc.io.read_metadata(p)["architecture"]
            with open(p, "w", encoding="latin-1") as f:
                f.write(text)


TENSORS = dict(seed_models()[1].state_dict())  # the conv/bn net: its architecture (and mutants of it) load fully


def check(path: str) -> None:
    try:
        fc.load(path)
    except ValueError as e:
        if path not in str(e):
            raise AssertionError(f"a ValueError that does not name the file: {e}") from None


def one_file(data: bytes) -> None:
    with open(PATH, "wb") as f:
        f.write(data)
    check(PATH)


def one_arch(data: bytes) -> None:
    fc.io.save_safetensors(TENSORS, PATH, {"format": "fastconv", "architecture": data.decode("latin-1")})
    check(PATH)


def main() -> None:
    target = next((a.split("=", 1)[1] for a in sys.argv if a.startswith("--target=")), "file")
    if target not in ("file", "arch"):
        raise SystemExit(f"fuzz_load: --target must be 'file' or 'arch', got {target!r}")
    args = [a for a in sys.argv if not a.startswith("--target=")]
    corpus = [a for a in args[1:] if not a.startswith("-")]
    if not corpus:  # a fresh corpus folder seeded with real model files
        folder = os.path.join(os.path.dirname(PATH), f"corpus-{target}")
        seed_corpus(folder, target)
        args.append(folder)
    if target == "arch" and not any(a.startswith("-dict=") for a in args):
        args.append("-dict=" + os.path.join(os.path.dirname(os.path.abspath(__file__)), "arch.dict"))
    atheris.Setup(args, one_arch if target == "arch" else one_file)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
