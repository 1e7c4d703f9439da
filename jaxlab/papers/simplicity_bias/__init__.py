"""Simplicity bias as two-part compression (Marty, Elmoznino et al., 2026, arXiv 2603.25839).

Which feature does a network rely on at each training-set size? Each candidate feature's
learning curve gives a model cost K (area above the asymptote) and a per-sample cost on
the benchmark; the lower envelope of the lines K + N l predicts the feature an optimal
two-part compressor uses at N, compared with the feature a network trained on N mixed
samples relies on (permutation tests). Every fit of a benchmark point is one program
(``jaxlab.coding.fits``). docs/simplicity_bias.md.
"""
from __future__ import annotations

import ml_collections

from jaxlab import results, runner
from jaxlab.config import require
from jaxlab.papers.simplicity_bias import data, report, study
from jaxlab.papers.simplicity_bias.bench import bench  # noqa: F401

TITLE = "A Compression Perspective on Simplicity Bias (Marty, Elmoznino et al., arXiv 2603.25839)"


def _probability(value, field: str) -> None:
    require(isinstance(value, (int, float)) and 0.0 <= value <= 1.0, field,
            f"must be a probability in [0, 1], got {value!r}")


def _count(value, field: str, least: int = 1) -> None:
    require(isinstance(value, int) and not isinstance(value, bool) and value >= least, field,
            f"must be an integer >= {least}, got {value!r}")


def validate(config: ml_collections.ConfigDict) -> None:
    """One-line errors for every field of this paper (sizes, probabilities, counts)."""
    require(len(config.sweeps) >= 1, "sweeps", "needs at least one sweep")
    for s in config.sweeps:
        require(s in study.SWEEPS, "sweeps", f"unknown sweep {s!r}; choose from {study.SWEEPS}")
    t = config.task
    for f in ("image_size", "digit_size", "watermark_bits"):
        _count(t[f], f"task.{f}")
    require(t.digit_size <= t.image_size, "task.digit_size",
            f"must be <= task.image_size ({t.image_size}), got {t.digit_size}")
    require(1 <= t.digits_per_class <= 5 if isinstance(t.digits_per_class, int) else False,
            "task.digits_per_class", f"must be an integer in 1..5, got {t.digits_per_class!r}")
    _count(t.prototypes, "task.prototypes", least=0)
    require(t.prototypes <= 140, "task.prototypes",
            f"at most 140 (the train pool of the rarest digit), got {t.prototypes}")
    require(t.test_images in data.TEST_IMAGES, "task.test_images",
            f"must be one of {data.TEST_IMAGES}, got {t.test_images!r}")
    if any(s.startswith("B") for s in config.sweeps):
        require(t.watermark_bits <= t.image_size, "task.watermark_bits",
                f"must be <= task.image_size ({t.image_size}) to fit the rightmost column, "
                f"got {t.watermark_bits}")
        require(t.watermark_bits <= 32, "task.watermark_bits", f"must be <= 32, got {t.watermark_bits}")
    for sc in ("scenario_a", "scenario_b"):
        for f in ("spur_prob", "flip_prob", "env_noisiness"):
            _probability(config[sc][f], f"{sc}.{f}")
    _count(config.scenario_b.bank_size, "scenario_b.bank_size")
    for f in ("spur_prob", "flip_prob"):
        for v in config.grid[f]:
            _probability(v, f"grid.{f}")
    for v in config.grid.bank_size:
        _count(v, "grid.bank_size")
        require(2 * v <= 2 ** config.task.watermark_bits, "grid.bank_size",
                f"two banks of {v} distinct {t.watermark_bits}-bit patterns do not exist")
    require(2 * config.scenario_b.bank_size <= 2 ** t.watermark_bits, "scenario_b.bank_size",
            f"two banks of {config.scenario_b.bank_size} distinct {t.watermark_bits}-bit patterns "
            "do not exist")
    c = config.curve
    require(len(c.sizes) >= 2, "curve.sizes", f"needs at least 2 sizes, got {tuple(c.sizes)}")
    for v in c.sizes:
        _count(v, "curve.sizes")
    require(list(c.sizes) == sorted(set(c.sizes)), "curve.sizes",
            f"must be strictly increasing, got {tuple(c.sizes)}")
    for f in ("n_seeds", "n_val", "n_test", "batch_size", "patience", "check_min", "check_max",
              "max_steps", "chunk_steps"):
        _count(c[f], f"curve.{f}")
    _count(c.lanes, "curve.lanes", least=0)
    _count(c.check_max_mixed, "curve.check_max_mixed", least=0)
    require(c.check_min <= c.check_max, "curve.check_min",
            f"must be <= curve.check_max ({c.check_max}), got {c.check_min}")
    require(c.learning_rate > 0, "curve.learning_rate", f"must be > 0, got {c.learning_rate}")
    require(c.weight_decay >= 0, "curve.weight_decay", f"must be >= 0, got {c.weight_decay}")
    require(c.min_delta >= 0, "curve.min_delta", f"must be >= 0, got {c.min_delta}")
    r = config.reliance
    _count(r.n_perm, "reliance.n_perm")
    _count(r.perm_samples, "reliance.perm_samples")
    require(r.perm_samples <= c.n_test, "reliance.perm_samples",
            f"must be <= curve.n_test ({c.n_test}): permutations use the test samples, "
            f"got {r.perm_samples}")
    _count(r.min_switch_n, "reliance.min_switch_n")
    require(sum(n >= r.min_switch_n for n in c.sizes) >= 2, "reliance.min_switch_n",
            f"must leave at least 2 of curve.sizes {tuple(c.sizes)} to find a crossing, "
            f"got {r.min_switch_n}")
    _count(config.model.hidden, "model.hidden")
    _count(config.model.n_layers, "model.n_layers", least=2)
    m = config.mdl
    require(m.abs_delta > 0, "mdl.abs_delta", f"must be > 0, got {m.abs_delta}")
    _count(m.min_points, "mdl.min_points", least=2)
    _count(m.n_models, "mdl.n_models", least=2)
    require(m.horizon >= 1, "mdl.horizon", f"must be >= 1, got {m.horizon}")


def run(config: ml_collections.ConfigDict, session: runner.Session) -> None:
    """Every point's fits, then the tables fits / summary / seeds, table.txt, figure.png."""
    df = study.compute(config, session)
    summary, seeds = study.summarize(df, config)
    results.write_table(session.workdir, "fits", df)
    results.write_table(session.workdir, "summary", summary)
    results.write_table(session.workdir, "seeds", seeds)
    report.write(session.workdir, df, summary, seeds, config)
