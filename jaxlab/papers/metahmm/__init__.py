"""Next-token prediction should be ambiguity-sensitive (MetaHMM, arXiv 2506.16288).

``study``: the model, learners, oracle runs, tables and figure; ``mc``: the Monte-Carlo
predictor; ``pipeline``: the paper's run (phases lm, decoder, posterior).
"""
from jaxlab.papers.metahmm.pipeline import run  # noqa: F401
from jaxlab.papers.metahmm.study import CHOICES, TITLE, bench, validate  # noqa: F401
