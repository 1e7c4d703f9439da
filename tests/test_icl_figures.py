"""The multi-run figure study: members run as separate resumable studies, then combine."""
import os

import ml_collections
import pytest

from conftest import ROOT
from jaxlab import papers, results
from jaxlab import config as config_lib
from jaxlab.config import ConfigError


def _get_config(arg: str = "trend,smoke", **fields) -> ml_collections.ConfigDict:
    """configs/icl_figures.py:<arg> with ``fields`` set."""
    module = config_lib._load_module(os.path.join(ROOT, "configs", "icl_figures.py"))
    config = module.get_config(arg)
    config.update(fields)
    return config


def _figure_config(members: dict, figure: str = "architectures") -> ml_collections.ConfigDict:
    """configs/icl_figures.py with only the given members (smoke sized)."""
    config = _get_config(f"{figure},smoke")
    config.members = ml_collections.ConfigDict({
        name: dict(arg="smoke", overrides=tuple(overrides)) for name, overrides in members.items()})
    config.lock()
    return config


TWO_KINDS = {kind: (f"--config.model.kind={kind}", "--config.sweep.axes.objective=('prequential',)",
                    "--config.sgd.enabled=False", "--config.train.steps=10")
             for kind in ("explicit", "implicit")}


@pytest.fixture(scope="module")
def figure_run(tmp_path_factory):
    workdir = str(tmp_path_factory.mktemp("figure"))
    return workdir, papers.run(_figure_config(TWO_KINDS), workdir, progress=False)


@pytest.mark.e2e
def test_members_are_combined_with_their_architecture(figure_run):
    workdir, res = figure_run
    assert set(res.eval.model) == {"explicit", "implicit"}
    assert set(res.eval.family) == {"linear"}
    # the oracle is evaluated in each member; both members saw the same episodes (same seed)
    bayes = res.eval[(res.eval.learner == "bayes") & (res.eval.metric == "gen_error")]
    per_member = bayes.pivot_table(index=["seed", "n_context"], columns="member", values="value")
    assert (per_member["explicit"] - per_member["implicit"]).abs().max() < 1e-6
    trained = res.eval[res.eval.learner == "prequential"]
    assert trained.groupby("model").value.mean().nunique() == 2  # different learners, different curves
    table = open(os.path.join(workdir, "table.txt")).read()
    assert "implicit" in table and "explicit" in table
    assert os.path.getsize(os.path.join(workdir, "figure.png")) > 10_000
    members = sorted(os.listdir(os.path.join(workdir, "members")))  # <family>-<kind>-<hash>
    assert [m.rsplit("-", 1)[0] for m in members] == [f"linear-{k}" for k in sorted(TWO_KINDS)]
    for member in members:  # each member is a finished study of its own
        assert results.load(os.path.join(workdir, "members", member)).eval.shape[0] > 0


@pytest.mark.e2e
def test_rerun_loads_without_training(figure_run):
    workdir, res = figure_run
    again = papers.run(_figure_config(TWO_KINDS), workdir, progress=False)
    assert again.eval.equals(res.eval)


def test_bad_member_is_named_before_anything_is_written(tmp_path):
    config = _figure_config({"broken": ("--config.model.kind=lstm",)})
    with pytest.raises(ConfigError, match=r"config.members.broken: config.model.kind: must be one of"):
        papers.run(config, str(tmp_path / "w"), progress=False)
    assert not (tmp_path / "w").exists()


def test_the_trend_runs_every_member_at_every_budget():
    from jaxlab.papers.icl_occam import figures

    subs = figures.member_configs(_get_config("trend"))  # the CPU default, not run here
    kinds = ("explicit", "implicit", "mamba")
    assert set(subs) == {f"{family}_{kind}@{steps}" for family in ("sinusoid", "mastermind")
                         for kind in kinds for steps in (250, 500, 1000)}
    for name, sub in subs.items():
        assert sub.train.steps == int(name.rsplit("@", 1)[1])
        assert sub.train.steps % sub.train.chunk_steps == 0 and 100 % sub.train.chunk_steps == 0
        assert sub.model.kind == name.split("_")[1].split("@")[0]
        assert tuple(sub.sweep.axes.objective) == ("prequential",) and not sub.sgd.enabled
    # one budget = one resolved config: the members of different budgets never share a workdir
    assert len({figures.member_dirname(s) for s in subs.values()}) == len(subs)
    assert {subs[f"sinusoid_mamba@{s}"].train.chunk_steps for s in (250, 500, 1000)} == {50, 100}


@pytest.mark.parametrize("budgets, message", [((0, 20), "positive step counts"),
                                              ((20,), "at least two budgets")])
def test_a_bad_budget_is_refused_before_anything_is_written(tmp_path, budgets, message):
    config = _get_config(budgets=budgets)
    with pytest.raises(ConfigError, match=f"config.budgets: .*{message}"):
        papers.run(config, str(tmp_path / "w"), progress=False)
    assert not (tmp_path / "w").exists()


def test_the_trend_table_is_the_seed_mean_and_spread_of_the_prequential_code_length(tmp_path):
    import pandas as pd

    from jaxlab.papers.icl_occam import figures

    rows = [dict(family="sinusoid", model=kind, steps=steps, learner=learner, seed=seed,
                 code_length_5=value)
            for kind, base in (("explicit", 1.0), ("mamba", 10.0)) for steps in (10, 20)
            for seed, offset in ((0, 0.0), (1, 2.0))
            for learner, value in (("prequential", base + offset + steps), ("bayes", -1.0))]
    summary = pd.DataFrame(rows)
    table = figures.trend_table(summary)
    assert len(table) == 4  # the oracle rows are not an architecture
    row = table[(table.model == "mamba") & (table.steps == 20)].iloc[0]
    assert (row["mean"], row["std"]) == (31.0, 1.0)  # seeds 30 and 32
    text = figures.report(summary, _get_config())
    assert "mamba" in text and "31.000 ± 1.000" in text and "-1.000" not in text
    figures.plot_trend(summary, str(tmp_path / "trend.png"))
    assert os.path.getsize(tmp_path / "trend.png") > 10_000
