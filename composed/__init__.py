"""composed: the NNX composed-transforms network (scan over layers inside vmap over the batch), its argument contract,
several independent implementations and a float64 oracle.

>>> import composed, numpy as np
>>> composed.composed_transforms(0, np.ones((2, 3), np.float32), 2, 3).shape
(6,)
"""

from types import MappingProxyType

from composed import fast, numpy_loop, pure_jax, reference, vmap_in_scan
from composed.contract import ContractError, ContractTypeError, validate
from composed.oracle import oracle
from composed.params import params

composed_transforms = fast.composed_transforms

#: Every bundled implementation, by name. Each takes ``(seed, x_batch, num_layers, features)``.
IMPLEMENTATIONS = MappingProxyType(
    {
        "reference": reference.composed_transforms,
        "fast": fast.composed_transforms,
        "vmap_in_scan": vmap_in_scan.composed_transforms,
        "pure_jax": pure_jax.composed_transforms,
        "numpy_loop": numpy_loop.composed_transforms,
    }
)

__all__ = [
    "composed_transforms",
    "IMPLEMENTATIONS",
    "ContractError",
    "ContractTypeError",
    "validate",
    "params",
    "oracle",
]
__version__ = "0.1.0"
