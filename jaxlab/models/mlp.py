"""Plain MLP (the reference's SGD-baseline predictor, ``models/utils.py: MLP``)."""
from __future__ import annotations

import flax.linen as nn
import jax


class MLP(nn.Module):
    """``n_layers`` Dense layers with ReLU between them: (M, in) -> (M, out)."""

    hidden: int
    n_layers: int
    out: int

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        for i in range(self.n_layers - 1):
            x = nn.relu(nn.Dense(self.hidden, name=f"dense_{i}")(x))
        return nn.Dense(self.out, name=f"dense_{self.n_layers - 1}")(x)
