"""fastconv.nn: layers with PyTorch's names, constructor arguments, default initialisation and state_dict keys."""
from __future__ import annotations

import sys as _sys

from .. import functional
from . import init, utils
from .activation import *  # noqa: F401,F403
from .activation import __all__ as _act
from .container import *  # noqa: F401,F403
from .container import __all__ as _cont
from .conv import *  # noqa: F401,F403
from .conv import __all__ as _conv
from .dropout import *  # noqa: F401,F403
from .dropout import __all__ as _drop
from .embedding import *  # noqa: F401,F403
from .embedding import __all__ as _emb
from .linear import *  # noqa: F401,F403
from .linear import __all__ as _lin
from .loss import *  # noqa: F401,F403
from .loss import __all__ as _loss
from .module import Module, Parameter
from .norm import *  # noqa: F401,F403
from .norm import __all__ as _norm
from .pool import *  # noqa: F401,F403
from .padding import *  # noqa: F401,F403
from .padding import __all__ as _padding
from .pool import __all__ as _pool
from .shuffle import *  # noqa: F401,F403
from .shuffle import __all__ as _shuffle

# torch's import path: `import fastconv.nn.functional as F` and `fastconv.functional` are one module object.
_sys.modules[__name__ + ".functional"] = functional

__all__ = (["Module", "Parameter", "functional", "init", "utils"] + _act + _cont + _conv + _drop + _emb + _lin + _loss + _norm
           + _padding + _pool + _shuffle)
