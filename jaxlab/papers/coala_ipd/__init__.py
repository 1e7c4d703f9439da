"""COALA-PG (Meulemans et al., ICLR 2025) on the iterated prisoner's dilemma: the IPD
(``ipd``), naive and learning-aware players (``players``), meta-trajectory rollouts
(``rollout``), the COALA-PG estimator and its baselines (``estimator``), meta-training as a
runner Trainer (``meta``), zero-determinant fits (``zd``), the study (``study``)."""
from jaxlab.papers.coala_ipd.study import TITLE, bench, run, validate  # noqa: F401
