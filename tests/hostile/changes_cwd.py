"""Hostile: correct values, but every call changes the process's working directory."""

import os

import composed


def composed_transforms(seed, x_batch, num_layers, features):
    os.chdir("/")
    return composed.composed_transforms(seed, x_batch, num_layers, features)
