"""Several processes joined by ``jax.distributed``: who writes, barriers, agreement.

In a single process every function here is trivial (process 0 writes, barriers return at
once, a flag is its own agreement).
"""
from __future__ import annotations

import jax
import numpy as np


def is_primary() -> bool:
    """True in the process that writes (process 0; the only one without jax.distributed)."""
    return jax.process_index() == 0


def barrier(name: str) -> None:
    """Every process waits here for the others (a no-op in a single process)."""
    if jax.process_count() > 1:
        from jax.experimental import multihost_utils

        multihost_utils.sync_global_devices(f"jaxlab:{name}")


def any_process(flag: bool) -> bool:
    """True if ``flag`` is True in any process (so all processes stop at the same chunk)."""
    if jax.process_count() == 1:
        return bool(flag)
    from jax.experimental import multihost_utils

    return bool(np.any(multihost_utils.process_allgather(np.asarray([flag]))))
