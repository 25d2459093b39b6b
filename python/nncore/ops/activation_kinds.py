"""Codes of the activations the element-wise kernels and the convolution / linear
epilogues apply (csrc/core/activation_math.h). `code(name)` maps a name to its code."""

KINDS = {"none": 0, "relu": 1, "relu6": 2, "leaky_relu": 3, "elu": 4, "softplus": 5, "softsign": 6,
         "sigmoid": 7, "tanh": 8}

# Kinds whose backward needs the input x; the rest need only the output y.
NEEDS_INPUT = frozenset({"softplus", "softsign"})

# The activations a fused conv2d / linear node can apply: its backward has only the output y.
FROM_OUTPUT = tuple(k for k in KINDS if k != "none" and k not in NEEDS_INPUT)


def code(name):
    try:
        return KINDS[name]
    except KeyError:
        raise ValueError(f"activation must be one of {sorted(KINDS)}, got {name!r}") from None
