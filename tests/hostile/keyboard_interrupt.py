"""Hostile: raises KeyboardInterrupt from inside the call. It must not stop the run: the property fails naming it."""


def composed_transforms(seed, x_batch, num_layers, features):
    raise KeyboardInterrupt("pretending the user pressed Ctrl-C")
