"""Hostile: spins forever in Python bytecode (the per-call SIGALRM timeout interrupts it)."""


def composed_transforms(seed, x_batch, num_layers, features):
    while True:
        pass
