"""In-context learning and Occam's razor (Elmoznino et al., arXiv 2410.14086).

``study``: the in-context learners, their evaluation, tables and figure; ``task``: the task
family of the config; ``sgd``: the SGD learner of §3.2; ``figures``: multi-run figures;
``bench``: the study's speed ratios for ``jaxlab bench``.
"""
from jaxlab.papers.icl_occam.bench import bench  # noqa: F401
from jaxlab.papers.icl_occam.study import (  # noqa: F401
    CHOICES, TITLE, make_learner, make_train, run, validate)
