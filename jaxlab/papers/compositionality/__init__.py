"""Representational compositionality (Elmoznino et al., ICML 2025, arXiv 2410.14817).

C(Z) = K(Z) / K(Z | W) for a representation Z re-described by discrete sentences W:
  * ``generators``: seeded synthetic representations (lookup tables, grammars) whose
    complexity terms are known in closed form;
  * ``complexity``: the closed-form terms and ``compositionality(sentences, representation)``,
    which learns the decoder by block-wise prequential coding when no generator is given;
  * ``topsim``: topological similarity, the companion metric;
  * ``emergent``: emergent languages from an iterated-learning speaker/listener game;
  * ``study``: the paper's run (sweeps or emergent), tables, report and figure.
"""
from jaxlab.papers.compositionality.complexity import Terms, compositionality  # noqa: F401
from jaxlab.papers.compositionality.study import TITLE, bench, run, validate  # noqa: F401
from jaxlab.papers.compositionality.topsim import topological_similarity  # noqa: F401
