"""An offline stand-in for scikit-learn's digits: 8x8 images with values 0..16
of the ten digits, drawn from 5x7 glyphs with random shifts, stroke strength,
blur and noise; deterministic for a given seed."""

import numpy as np

GLYPHS = {
    0: ["01110", "10001", "10011", "10101", "11001", "10001", "01110"],
    1: ["00100", "01100", "00100", "00100", "00100", "00100", "01110"],
    2: ["01110", "10001", "00001", "00010", "00100", "01000", "11111"],
    3: ["11110", "00001", "00001", "01110", "00001", "00001", "11110"],
    4: ["00010", "00110", "01010", "10010", "11111", "00010", "00010"],
    5: ["11111", "10000", "11110", "00001", "00001", "10001", "01110"],
    6: ["00110", "01000", "10000", "11110", "10001", "10001", "01110"],
    7: ["11111", "00001", "00010", "00100", "01000", "01000", "01000"],
    8: ["01110", "10001", "10001", "01110", "10001", "10001", "01110"],
    9: ["01110", "10001", "10001", "01111", "00001", "00010", "01100"],
}


def load_digits(n_samples=1797, seed=0):
    """(images (n, 64) float32 in [0, 16], labels (n,) int64)."""
    rng = np.random.default_rng(seed)
    glyphs = np.array([[[c == "1" for c in row] for row in GLYPHS[d]] for d in range(10)], np.float64)
    labels = np.arange(n_samples) % 10
    rng.shuffle(labels)
    images = np.zeros((n_samples, 8, 8))
    for i, d in enumerate(labels):
        top, left = rng.integers(0, 2), rng.integers(0, 4)
        canvas = np.zeros((8, 8))
        canvas[top:top + 7, left:left + 5] = glyphs[d] * rng.uniform(0.6, 1.0)
        # thicken strokes a little in a random direction, as handwriting varies
        if rng.random() < 0.5:
            canvas[:, 1:] = np.maximum(canvas[:, 1:], 0.5 * canvas[:, :-1])
        else:
            canvas[1:, :] = np.maximum(canvas[1:, :], 0.5 * canvas[:-1, :])
        canvas += rng.normal(0.0, 0.12, canvas.shape)
        canvas[rng.random(canvas.shape) < 0.04] = 0.0
        images[i] = np.clip(canvas, 0.0, 1.0) * 16
    return np.round(images).reshape(n_samples, 64).astype(np.float32), labels.astype(np.int64)
