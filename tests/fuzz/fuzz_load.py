"""Coverage-guided fuzzing of the model loader (fastconv.load) with atheris (libFuzzer for Python).

    python tests/fuzz/fuzz_load.py -atheris_runs=100000           # or -max_total_time=60 (what CI runs)
    python tests/fuzz/fuzz_load.py --target=arch -max_total_time=60
    python tests/fuzz/fuzz_load.py tests/fuzz/regressions/*        # replay saved inputs

--target=file (default): every input is a whole model file. --target=arch: every input is the architecture JSON
text, written into a well-formed file that also holds a real model's tensors, so byte mutations of the JSON reach
the registry, the field checks, the constructors and the weight loading instead of dying at the header length.
--target=graph: every input is the traced-graph document (docs/model_format.md, the "fastconv.graph" metadata),
written beside a real trained model's tensors and loaded by the C++ loader (fastconv._C.Model.load, what C++
programs use); a model that loads then predicts once, so mutated graphs reach the shape rules, the planner and
the kernels. The only acceptable outcomes are a model or a ValueError naming the file (for --target=graph, a
prediction may also raise a ValueError/TypeError about its input); anything else (another exception, a crash, a
hang) is a finding. The C++ parts are not instrumented (atheris sees Python coverage only), so --target=graph
mutates blind around structured seeds: tests/cpp/test_safetensors.cpp adds mutation tests of the C++ reader. The corpora start from files written by fc.save. libFuzzer saves findings as crash-*
files: copy them to tests/fuzz/regressions/<target>/, where test_fuzz_regressions.py replays them.
"""
import json
import os
import sys
import tempfile

import atheris

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import graph_mutations  # noqa: E402

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


def graph_models():
    """Compiled models saved with their graphs: inference only, and trained with Adam (a train section with
    optimizer state); together they use conv, batch norm, dropout, pooling, flatten, linear and two losses."""
    fc.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.BatchNorm2d(2), nn.ReLU(), nn.Dropout(0.25),
                        nn.MaxPool2d(2), nn.Flatten(), nn.Linear(8, 3))
    trained = fc.compile(net, (2, 1, 4, 4), loss="cross_entropy", optimizer=fc.optim.Adam(net.parameters()))
    trained.train_step(np.ones((2, 1, 4, 4), np.float32), np.array([0, 2]))
    small = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    return [trained, fc.compile(small, (1, 3), loss="mse", optimizer=fc.optim.SGD(small.parameters(), lr=0.1,
                                                                                  momentum=0.9)),
            fc.compile(nn.Sequential(nn.AvgPool2d(2), nn.Flatten()), (1, 2, 4, 4))]


def seed_corpus(folder: str, target: str) -> None:
    """Small files written by today's fc.save (or their architecture or graph text): what a real model file
    holds."""
    os.makedirs(folder, exist_ok=True)
    if target == "graph":
        for i, m in enumerate(graph_models()):
            p = os.path.join(folder, f"seed{i}")
            fc.save(m, p)
            text = fc.io.read_metadata(p)["fastconv.graph"]
            with open(p, "w", encoding="latin-1") as f:
                f.write(text)
        return
    for i, m in enumerate(seed_models()):
        p = os.path.join(folder, f"seed{i}")
        fc.save(m, p)
        if target == "arch":
            text = fc.io.read_metadata(p)["architecture"]
            with open(p, "w", encoding="latin-1") as f:
                f.write(text)


TENSORS = dict(seed_models()[1].state_dict())  # the conv/bn net: its architecture (and mutants of it) load fully


def graph_tensors() -> dict:
    """The trained conv net's file tensors (weights, buffers, optimizer slots): its graph and mutants bind to them."""
    p = PATH + ".graph-seed"
    fc.save(graph_models()[0], p)
    return dict(fc.io.load_safetensors(p)[0])


GRAPH_TENSORS: dict = {}


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


def check_graph(path: str) -> None:
    try:
        model = fc._C.Model.load(path)
    except ValueError as e:
        if path not in str(e):
            raise AssertionError(f"a ValueError that does not name the file: {e}") from None
        return
    try:
        model.predict(np.zeros(model.input_shape, np.float32))
    except (ValueError, TypeError):  # a loaded graph whose input is not a float32 image: refused, as documented
        pass


GRAPH_SEEDS: list = []


def one_graph(data: bytes) -> None:
    """The input's bytes pick a seed document and drive structural edits of it (graph_mutations.py); inputs that
    start with '{' are used as document text as they are (corpus files, regressions)."""
    if not GRAPH_TENSORS:
        GRAPH_TENSORS.update(graph_tensors())
        folder = PATH + ".graph-seeds"
        seed_corpus(folder, "graph")
        GRAPH_SEEDS.extend(json.loads(open(os.path.join(folder, f), encoding="latin-1").read())
                           for f in sorted(os.listdir(folder)))
    if data[:1] == b"{":
        text = data.decode("latin-1")
    else:
        fdp = atheris.FuzzedDataProvider(data)
        doc = GRAPH_SEEDS[fdp.ConsumeIntInRange(0, len(GRAPH_SEEDS) - 1)]
        text = graph_mutations.dumps(graph_mutations.mutate(
            doc, lambda n: fdp.ConsumeIntInRange(0, n - 1), edits=1 + fdp.ConsumeIntInRange(0, 3)))
    fc.io.save_safetensors(GRAPH_TENSORS, PATH, {"format": "fastconv", "fastconv.graph": text})
    check_graph(PATH)


def main() -> None:
    target = next((a.split("=", 1)[1] for a in sys.argv if a.startswith("--target=")), "file")
    if target not in ("file", "arch", "graph"):
        raise SystemExit(f"fuzz_load: --target must be 'file', 'arch' or 'graph', got {target!r}")
    args = [a for a in sys.argv if not a.startswith("--target=")]
    corpus = [a for a in args[1:] if not a.startswith("-")]
    if not corpus:  # a fresh corpus folder seeded with real model files
        folder = os.path.join(os.path.dirname(PATH), f"corpus-{target}")
        seed_corpus(folder, target)
        args.append(folder)
    if target in ("arch", "graph") and not any(a.startswith("-dict=") for a in args):
        args.append("-dict=" + os.path.join(os.path.dirname(os.path.abspath(__file__)), f"{target}.dict"))
    atheris.Setup(args, {"arch": one_arch, "graph": one_graph}.get(target, one_file))
    atheris.Fuzz()


if __name__ == "__main__":
    main()
