"""In-context learning and Occam's razor: the paper's multi-run figures, one command each.

Each figure is a set of member runs of configs/icl_occam.py (different task families or
learner architectures change array shapes, so each member is its own compiled program and
its own resumable workdir under WORKDIR/members/); the combined tables, figure.png and
table.txt go to WORKDIR.

    jaxlab run configs/icl_figures.py:panels --workdir runs/icl_panels
        Prequential vs train-risk ICL (and SGD on the regression tasks) on linear
        regression, sinusoid regression and Mastermind: claims C1/C2 of docs/icl_occam.md
        (paper Fig. 2).
    jaxlab run configs/icl_figures.py:architectures --workdir runs/icl_architectures
        Explicit transformer vs implicit transformer vs Mamba aggregator, prequential
        objective, on the same three tasks: claim C3 of docs/icl_occam.md (paper
        Fig. 3).
    jaxlab run configs/icl_figures.py:trend --workdir runs/icl_trend
        The same three architectures on the sinusoid and Mastermind, each trained at every
        budget of ``config.budgets`` (training steps; default 250 / 500 / 1,000): their code
        lengths against the budget, to see whether C3's ordering moves with scale.

Add ``,smoke`` (tiny members without the SGD learner, as the tests run it) or ``,paper``
(accelerators) to pick the members' size;
``--config.member_overrides="('--config.train.steps=500',)"`` applies to every member.
``--config.members_root=runs/icl_members`` on both commands lets the architectures figure
reuse the panels figure's explicit-learner runs instead of training them again.
Expected results (CPU default): docs/icl_occam.md, "Figures".
"""
from __future__ import annotations

import ml_collections

from jaxlab.config import base_config, one_of, variant_tokens

FIGURES = ("panels", "architectures", "trend")
SIZES = ("smoke", "default", "paper")
FAMILIES = ("linear", "sinusoid", "mastermind")
TREND_FAMILIES = ("sinusoid", "mastermind")  # the tasks where C3 did not hold at one scale
TREND_ORACLE = {"sinusoid": ("--config.task.oracle_tasks=8",),
                "mastermind": ("--config.eval.bayes_tasks=4",)}
KINDS = ("explicit", "implicit", "mamba")
# an architecture member trains the prequential objective only, without the SGD learner
PREQUENTIAL_ONLY = ("--config.sweep.axes.objective=('prequential',)", "--config.sgd.enabled=False")
# What `jaxlab list` prints: variant -> what it runs and its wall time on the 2-core CPU.
VARIANTS = {
    "panels": "(the default) prequential vs train-risk vs SGD on linear, sinusoid, Mastermind "
              "(~25 min wall)",
    "architectures": "explicit vs implicit transformer vs Mamba aggregator (~65 min loaded)",
    "panels,smoke": "the panels figure with smoke-sized members, as the tests run it "
                    "(~38 s CPU first run / ~14 s cached)",
    "architectures,smoke": "the architectures figure with smoke-sized members",
    "trend": "the architectures on sinusoid and Mastermind at 250 / 500 / 1,000 steps, 3 seeds "
             "(18 members; 94 min wall beside a niced sweep)",
    "trend,smoke": "the trend figure with smoke-sized members at 10 / 20 steps",
    "panels,paper": "the panels figure at the paper's sizes: for a GPU/TPU",
}


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    tokens = variant_tokens(arg, FIGURES, SIZES)
    figure = one_of(tokens, FIGURES, "panels")
    size = one_of(tokens, SIZES, "default")
    c = base_config(training=False)
    c.study = "icl_figures"
    c.figure = figure
    c.base_config = "configs/icl_occam.py"  # a path, or a name found on the config search path
    c.member_overrides = ()
    # Where member runs live, each in <name>-<hash of its resolved config>; "" = WORKDIR/members.
    # Give both figures the same root to share identical members (the explicit learner's runs).
    c.members_root = ""
    # trend: every member is run once per training budget (train.steps; its chunk_steps
    # becomes the largest divisor of the budget that divides the member's own); () = as is
    c.budgets = ()
    members = {}
    for family in (TREND_FAMILIES if figure == "trend" else FAMILIES):
        spec = ",".join(t for t in (size, family) if t != "default")
        if figure == "panels":
            members[family] = ml_collections.ConfigDict(dict(arg=spec, overrides=()))
        elif figure == "trend":  # every architecture trains the prequential objective only;
            # the trend compares learners, so each member evaluates the oracle (identical in
            # every member: same seeds, same episodes) on a few episodes only, where its
            # enumeration / Monte Carlo would otherwise cost more than the training
            oracle = TREND_ORACLE[family] if size != "smoke" else ()
            for kind in KINDS:
                members[f"{family}_{kind}"] = ml_collections.ConfigDict(dict(arg=spec, overrides=(
                    f"--config.model.kind={kind}", *PREQUENTIAL_ONLY, *oracle)))
        else:
            # the explicit member is the panels figure's run of that family (so a shared
            # members_root reuses it); the others train the prequential objective only
            members[f"{family}_explicit"] = ml_collections.ConfigDict(dict(arg=spec, overrides=()))
            for kind in KINDS[1:]:
                members[f"{family}_{kind}"] = ml_collections.ConfigDict(dict(arg=spec, overrides=(
                    f"--config.model.kind={kind}", *PREQUENTIAL_ONLY)))
    c.members = ml_collections.ConfigDict(members)
    if figure == "trend":
        c.budgets = dict(smoke=(10, 20), default=(250, 500, 1000), paper=(500, 2000, 8000))[size]
    if size == "smoke":  # a quick check of the pipeline: members without the SGD learner
        c.member_overrides = ("--config.sgd.enabled=False",)
    return c
