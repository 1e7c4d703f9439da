"""Towards Exact Computation of Inductive Bias (Boopathy et al., IJCAI 2024, arXiv 2406.15941).

``estimator``: the scaled non-central chi-squared fit, IB(eps) in bits, KS, bootstrap;
``kernel``: exact GP-posterior samples; ``ensemble``: the MLP member trained by the engine;
``tasks``: teacher / digits / pendulum; ``study``: cells and validation; ``pipeline``: the
run; ``plots``: the figures; ``bench``: members per second, one program vs a loop.
"""
from jaxlab.papers.inductive_bias.bench import bench  # noqa: F401
from jaxlab.papers.inductive_bias.pipeline import run  # noqa: F401
from jaxlab.papers.inductive_bias.study import TITLE, validate  # noqa: F401
