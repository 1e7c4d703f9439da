"""Explicit vs implicit in-context learners (Mittal, Elmoznino et al., ICML 2025).

``tasks``: the task families and query shifts; ``models``: the implicit and explicit
learners with the reference's masks, known-f / known-z heads and the latent probe;
``study``: learners, chunk-end validation, tables and the printed table; ``figures``;
``ablation``: the supervised ablation's batches, validation sets, scores and
table; ``bench``: step times and the seed-parallel ratio for ``jaxlab bench``.
"""
from jaxlab.papers.explicit_implicit.bench import bench  # noqa: F401
from jaxlab.papers.explicit_implicit.study import TITLE, run, validate  # noqa: F401
