"""Array-level kernels, forward and backward, without autograd. Each function
takes NumPy arrays (CPU) or CuPy arrays (GPU), allocates its outputs on the
same device unless `out=` is given, and hands them to nncore._C. One module
per op family: gemm, conv, pool, softmax, batch_norm, rnn, boxes, resize, activation,
optim."""

from .gemm import (  # noqa: F401
    gemm,
    linear,
    matmul,
)
from .epilogue import (  # noqa: F401
    epilogue_grad,
)
from .conv import (  # noqa: F401
    conv2d,
    conv2d_backward,
    conv_transpose2d,
    conv_transpose2d_backward,
)
from .softmax import (  # noqa: F401
    softmax,
    log_softmax,
    softmax_backward,
    log_softmax_backward,
    cross_entropy,
    cross_entropy_backward,
    cross_entropy_with_grad,
)
from .batch_norm import (  # noqa: F401
    batch_norm,
    batch_norm_backward,
)
from .pool import (  # noqa: F401
    max_pool2d,
    max_pool2d_backward,
    avg_pool2d,
    avg_pool2d_backward,
    lp_pool2d,
    lp_pool2d_backward,
    adaptive_avg_pool2d,
    adaptive_avg_pool2d_backward,
)
from .boxes import (  # noqa: F401
    box_area,
    box_iou,
    nms,
    batched_nms,
)
from .resize import (  # noqa: F401
    interpolate2d,
    interpolate2d_backward,
)
from .activation import (  # noqa: F401
    activation,
    activation_backward,
)
from .optim import (  # noqa: F401
    adagrad_step,
    adam_step,
    rmsprop_step,
    sgd_step,
)
from .rnn import (  # noqa: F401
    lstm_cell,
    lstm_cell_backward,
    lstm,
    lstm_backward,
    gru_cell,
    gru_cell_backward,
    gru,
    gru_backward,
    rnn_cell,
    rnn_cell_backward,
    rnn,
    rnn_backward,
)

__all__ = [
    "activation",
    "activation_backward",
    "adagrad_step",
    "adam_step",
    "adaptive_avg_pool2d",
    "adaptive_avg_pool2d_backward",
    "avg_pool2d",
    "avg_pool2d_backward",
    "batch_norm",
    "batch_norm_backward",
    "batched_nms",
    "box_area",
    "box_iou",
    "conv2d",
    "conv2d_backward",
    "conv_transpose2d",
    "conv_transpose2d_backward",
    "cross_entropy",
    "cross_entropy_backward",
    "cross_entropy_with_grad",
    "epilogue_grad",
    "gemm",
    "gru",
    "gru_backward",
    "gru_cell",
    "gru_cell_backward",
    "interpolate2d",
    "interpolate2d_backward",
    "linear",
    "log_softmax",
    "log_softmax_backward",
    "lp_pool2d",
    "lp_pool2d_backward",
    "lstm",
    "lstm_backward",
    "lstm_cell",
    "lstm_cell_backward",
    "matmul",
    "max_pool2d",
    "max_pool2d_backward",
    "nms",
    "rmsprop_step",
    "rnn",
    "rnn_backward",
    "rnn_cell",
    "rnn_cell_backward",
    "sgd_step",
    "softmax",
    "softmax_backward",
]

from ._checks import guarded as _guarded  # noqa: E402

# every public op leaves with a TypeError/ValueError led by its name (see _checks.guarded)
for _name in __all__:
    globals()[_name] = _guarded(globals()[_name])
del _name
