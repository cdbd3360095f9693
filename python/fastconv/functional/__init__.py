"""torch.nn.functional-compatible ops. NumPy arrays in -> NumPy arrays out (eager); Symbols in -> graph nodes.

One module per op family, mirroring cpp/src/ops/; each exports its names through __all__.
"""
from __future__ import annotations

from . import (activation as _activation, adaptive as _adaptive, conv as _conv, dropout as _dropout,
               eltwise as _eltwise, embedding as _embedding, fold as _fold, linear as _linear, loss as _loss, norm as _norm, pad as _pad,
               pool as _pool, ranking_loss as _ranking_loss, shape as _shape, shuffle as _shuffle,
               upsample as _upsample)
from .activation import *  # noqa: F401,F403
from .adaptive import *  # noqa: F401,F403
from .conv import *  # noqa: F401,F403
from .dropout import *  # noqa: F401,F403
from .eltwise import *  # noqa: F401,F403
from .embedding import *  # noqa: F401,F403
from .fold import *  # noqa: F401,F403
from .linear import *  # noqa: F401,F403
from .loss import *  # noqa: F401,F403
from .norm import *  # noqa: F401,F403
from .pad import *  # noqa: F401,F403
from .pool import *  # noqa: F401,F403
from .ranking_loss import *  # noqa: F401,F403
from .shape import *  # noqa: F401,F403
from .shuffle import *  # noqa: F401,F403
from .upsample import *  # noqa: F401,F403

__all__ = [name for m in (_activation, _adaptive, _conv, _dropout, _eltwise, _embedding, _fold, _linear, _loss, _norm, _pad, _pool, _ranking_loss, _shape,
                          _shuffle, _upsample)
           for name in m.__all__]
