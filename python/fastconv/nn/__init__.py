"""Neural-network layers with PyTorch's names (filled in by the graph-engine work). `fastconv.nn.functional` is
`fastconv.functional`."""
from .. import functional  # noqa: F401
