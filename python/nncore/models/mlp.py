"""The multilayer perceptron trained by backpropagation: Linear layers with a
nonlinearity between them (the notebook's sigmoid by default)."""

from .. import nn

_ACTIVATIONS = {"sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "relu": nn.ReLU}


class MLP(nn.Sequential):
    """in_features -> hidden[0] -> ... -> out_features. The last layer is linear
    (logits); `dropout` is applied after each hidden activation when > 0."""

    def __init__(self, in_features, hidden, out_features, activation="sigmoid", dropout=0.0):
        if activation not in _ACTIVATIONS:
            raise ValueError(f"MLP: activation must be one of {tuple(_ACTIVATIONS)}, got {activation!r}")
        sizes = [in_features, *hidden, out_features]
        if any(not isinstance(s, int) or isinstance(s, bool) or s < 1 for s in sizes):
            raise ValueError(f"MLP: layer sizes must be positive ints, got {sizes}")
        layers = []
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
            layers.append(nn.Linear(a, b))
            if i < len(sizes) - 2:
                layers.append(_ACTIVATIONS[activation]())
                if dropout > 0:
                    layers.append(nn.Dropout(dropout))
        super().__init__(*layers)
        self.sizes = tuple(sizes)
        self.activation = activation
