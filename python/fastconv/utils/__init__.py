"""fastconv.utils: torch.utils' names (data loading)."""
from . import data

__all__ = ["data"]
