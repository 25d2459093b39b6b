"""nncore.nn.functional: the same module as nncore.functional (as torch.nn.functional)."""

from ..functional import *  # noqa: F401,F403
from ..functional import __all__  # noqa: F401
