"""Plain MLP (the reference's SGD-baseline predictor, ``models/utils.py: MLP``)."""
from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

INITS = ("flax", "torch")


def torch_linear_bias_init(fan_in: int):
    """PyTorch ``nn.Linear``'s bias init: U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
    bound = 1.0 / float(fan_in) ** 0.5

    def init(key: jax.Array, shape: tuple[int, ...], dtype=jnp.float32) -> jax.Array:
        return jax.random.uniform(key, shape, dtype, -bound, bound)
    return init


# PyTorch nn.Linear's weight init, kaiming_uniform_(a=sqrt(5)): U(+-sqrt(6 / ((1 + 5) fan_in)))
# = U(+-1/sqrt(fan_in)), i.e. variance 1 / (3 fan_in).
torch_linear_kernel_init = nn.initializers.variance_scaling(1.0 / 3.0, "fan_in", "uniform")


class MLP(nn.Module):
    """``n_layers`` Dense layers with ReLU between them: (M, in) -> (M, out).

    ``init_scheme``: "flax" (LeCun-normal kernels, zero biases: Flax's Dense default) or "torch"
    (kernels and biases U(+-1/sqrt(fan_in)): PyTorch nn.Linear's default)."""

    hidden: int
    n_layers: int
    out: int
    init_scheme: str = "flax"

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        if self.init_scheme not in INITS:
            raise ValueError(f"init_scheme must be one of {INITS}, got {self.init_scheme!r}")

        def dense(width: int, name: str, fan_in: int) -> nn.Dense:
            if self.init_scheme == "flax":
                return nn.Dense(width, name=name)
            return nn.Dense(width, name=name, kernel_init=torch_linear_kernel_init,
                            bias_init=torch_linear_bias_init(fan_in))

        for i in range(self.n_layers - 1):
            x = nn.relu(dense(self.hidden, f"dense_{i}", x.shape[-1])(x))
        return dense(self.out, f"dense_{self.n_layers - 1}", x.shape[-1])(x)
