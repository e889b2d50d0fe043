"""Mutants: the wrong activation, or the right one in the wrong place."""

try:
    from mutants._base import run, validated
except ImportError:  # loaded by file path: pytest properties --impl tests/mutants/activation.py:no_final_relu
    from _base import run, validated


def no_final_relu(seed, x_batch, num_layers, features):
    """Skips the relu after the last layer (the last layer is linear)."""
    seed, x, n, f = validated(seed, x_batch, num_layers, features)
    return run(seed, x, n, f, last_act=False)


def relu_before_linear(seed, x_batch, num_layers, features):
    """Applies relu to each layer's input instead of its output: relu(h) @ K + b."""
    seed, x, n, f = validated(seed, x_batch, num_layers, features)
    return run(seed, x, n, f, act_first=True)


def leaky_relu(seed, x_batch, num_layers, features):
    """Uses leaky_relu (slope 0.01) instead of relu."""
    seed, x, n, f = validated(seed, x_batch, num_layers, features)
    return run(seed, x, n, f, act="leaky_relu")


def gelu(seed, x_batch, num_layers, features):
    """Uses gelu instead of relu."""
    seed, x, n, f = validated(seed, x_batch, num_layers, features)
    return run(seed, x, n, f, act="gelu")


def softplus(seed, x_batch, num_layers, features):
    """Uses softplus (a smooth relu with softplus(0) = log 2) instead of relu."""
    seed, x, n, f = validated(seed, x_batch, num_layers, features)
    return run(seed, x, n, f, act="softplus")
