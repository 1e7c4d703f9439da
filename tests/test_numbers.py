"""Numbers that stay true: every headline number the README, the docs and the config
docstrings state is checked against its one source, ``docs/results/<name>.json``
(written by ``scripts/record_results.py`` from a reproduction run, or, for the times of
first and cached runs, ``run_times.json`` by ``scripts/smoke_times.py``, each with the date and the CPU it was
measured on). A number changed in one place only, or a re-measured source whose numbers
were not carried into the text, fails here; so does a sentence reworded so that its
claim is no longer found (update the pattern with it).

A number in the text agrees with the source when it equals the source rounded to the
digits the text shows ("0.64" for 0.637, "~8 min" for 480 s)."""
import glob
import json
import math
import os
import re

import pytest

from conftest import ROOT

SOURCES = {os.path.basename(p)[:-5]: json.load(open(p))
           for p in glob.glob(os.path.join(ROOT, "docs", "results", "*.json"))}
NUM = r"(-?\d*\.?\d+)"
SCI = r"(-?\d*\.?\d+e[-+]\d+)"  # 1.04e-03 as the explicit/implicit table prints it
CNUM = r"(-?\d{1,3}(?:,\d{3})+|-?\d*\.?\d+)"  # a number that may have thousands commas (1,178)


def value(path) -> float:
    """``"name.key.key..."`` into SOURCES (list indices as integers; ``"|"`` separates the keys
    instead when a key holds a dot); ``(path, d)`` divides by d (seconds to minutes)."""
    path, divisor = path if isinstance(path, tuple) else (path, 1.0)
    node = SOURCES
    for key in path.split("|" if "|" in path else "."):
        node = node[int(key)] if isinstance(node, list) else node[key]
    return float(node) / divisor


def agrees(text: str, source: float) -> bool:
    text = text.replace(",", "")
    digits = len(text.split(".")[1]) if "." in text else 0
    return round(float(text), digits) == round(source + 1e-12, digits)


def read(rel: str) -> str:
    return open(os.path.join(ROOT, rel)).read()


E = "run_times|runs|configs/compositionality.py:emergent"
G = "coala_ipd_gae_pool1|"
H = "coala_ipd_gae_pool05|"
L = "coala_ipd_gae_pool05_long|"
J = "coala_ipd_gae_lam1_pool1|"
SINUSOID_KINDS = ("implicit", "tsf", "mlp", "known_z", "known_f")


def ei_printed_rows(result: str, family: str) -> list:
    """A check per row of a regression family's printed table (ID, far, wide, and the probe
    of the explicit kinds) against docs/results/<result>.json."""
    return [("docs/explicit_implicit.md",
             rf"\n{family:<11} {kind}\s+{SCI} ±\S+\s+{SCI} ±\S+\s+{SCI} ±\S+\s+"
             + (rf"{SCI} ±" if kind != "implicit" else "–"),
             [f"{result}.mse.{family}.{kind}.{m}.0"
              for m in ("iid", "far", "wide") + (("probe",) if kind != "implicit" else ())])
            for kind in SINUSOID_KINDS]
CLS_FAMILIES = ("linear_cls", "lowrank_cls")
# (file, pattern with one group per number, the source of each number)
CLAIMS = [
    # In-context learning and Occam's razor (docs/results/icl_occam.json)
    ("README.md", rf"main study, ~{NUM} min on a busy 2-core CPU", [("icl_occam.rerun.wall_s", 60)]),
    ("configs/icl_occam.py", rf"about {NUM} minutes on a busy 2-core CPU \({NUM} CPU-seconds", [("icl_occam.rerun.wall_s", 60), "icl_occam.rerun.cpu_s"]),
    ("configs/icl_occam.py", rf"2,304 SGD fits \(~{NUM} min wall, busy CPU\)", [("icl_occam.rerun.wall_s", 60)]),
    ("docs/icl_occam.md", rf"CPU default, ~{NUM} min on 2 busy cores", [("icl_occam.rerun.wall_s", 60)]),
    ("docs/icl_occam.md", rf"wall time {NUM} min including", [("icl_occam.measured.wall_s", 60)]),
    ("configs/icl_occam.py", rf"at\s+n = 1 prequential {NUM} vs train-risk {NUM} vs Bayes {NUM}",
     ["icl_occam.gen_error.prequential.1.0", "icl_occam.gen_error.train.1.0",
      "icl_occam.gen_error.bayes.1.0"]),
    ("configs/icl_occam.py", rf"at\s+n = 100 prequential {NUM} vs Bayes {NUM}",
     ["icl_occam.gen_error.prequential.100.0", "icl_occam.gen_error.bayes.100.0"]),
    ("docs/icl_occam.md", rf"Prequential ≤ train-risk at n = 1\*\*: {NUM} vs {NUM}",
     ["icl_occam.gen_error.prequential.1.0", "icl_occam.gen_error.train.1.0"]),
    # Simplicity bias, the default (docs/results/simplicity_bias.json)
    ("docs/simplicity_bias.md", rf"126 fits in one program; {CNUM} s\s+wall / {CNUM} s CPU on this session's",
     ["simplicity_bias.measured.wall_s", "simplicity_bias.measured.cpu_s"]),
    ("configs/simplicity_bias.py", rf"default, measured: {CNUM} s wall / {CNUM} s CPU",
     ["simplicity_bias.measured.wall_s", "simplicity_bias.measured.cpu_s"]),
    ("docs/simplicity_bias.md", rf"empirical switch \| — \| N ≈ {CNUM} \(permutation drops cross; per seed {CNUM}, {CNUM}, {CNUM}\)",
     ["simplicity_bias.points.0.empirical_switch"] + [f"simplicity_bias.points.0.per_seed.empirical_switch.{i}" for i in range(3)]),
    ("docs/simplicity_bias.md", rf"\*\*at the boundary, not robustly: {CNUM}, {CNUM}× the empirical\*\* on the seed-mean curves; per seed {CNUM} / {CNUM} / {CNUM}",
     ["simplicity_bias.points.0.predicted_switch", "simplicity_bias.points.0.ratio"]
     + [f"simplicity_bias.points.0.per_seed.predicted_switch.{i}" for i in range(3)]),
    ("docs/simplicity_bias.md", rf"\(`loss_cross`: {CNUM} on the seed-mean curves, per seed {CNUM}, {CNUM}, {CNUM}\)",
     ["simplicity_bias.points.0.loss_cross"] + [f"simplicity_bias.points.0.per_seed.loss_cross.{i}" for i in range(3)]),
    ("docs/simplicity_bias.md", rf"falls to ℓ_digit = {CNUM} nats at N = 16,384, far below colour's {CNUM}",
     ["simplicity_bias.points.0.l_digit", "simplicity_bias.points.0.l_colour"]),
    ("docs/simplicity_bias.md", rf"\(the final\s+lines cross at {CNUM}; K_digit = {CNUM} nats\)",
     ["simplicity_bias.points.0.final_lines_cross", "simplicity_bias.points.0.K_digit"]),
    ("docs/simplicity_bias.md", rf"\| default \(sizes to 16,384, 3 seeds\) \| {CNUM} \| {CNUM} \| {CNUM} \| {CNUM} \| {CNUM} \| {CNUM} \| {CNUM} s \|",
     ["simplicity_bias.points.0.predicted_switch", "simplicity_bias.points.0.empirical_switch",
      "simplicity_bias.points.0.ratio", "simplicity_bias.points.0.loss_cross", "simplicity_bias.points.0.l_digit",
      "simplicity_bias.points.0.K_digit", "simplicity_bias.measured.wall_s"]),
    # Scenario A at other scales (docs/results/simplicity_bias_6seeds.json, simplicity_bias_4096*.json)
    ("docs/simplicity_bias.md", rf"\| default sizes, 6 seeds \| {CNUM} \| {CNUM} \| {CNUM} \| {CNUM} \| {CNUM} \| {CNUM} \| {CNUM} s \|",
     [f"simplicity_bias_6seeds.points.0.{k}" for k in ("predicted_switch", "empirical_switch", "ratio", "loss_cross", "l_digit", "K_digit")]
     + ["simplicity_bias_6seeds.measured.wall_s"]),
    ("docs/simplicity_bias.md", rf"\(docs/results/simplicity_bias_6seeds.json; {NUM} s CPU, alone\)",
     ["simplicity_bias_6seeds.measured.cpu_s"]),
    ("docs/simplicity_bias.md", rf"curves \(per seed 1.5–7.2×: {NUM}, {NUM}, {NUM}, {NUM}, {NUM}, {NUM} with 6 seeds at the",
     [(f"simplicity_bias_6seeds.points.0.per_seed.predicted_switch.{s}", value(f"simplicity_bias_6seeds.points.0.per_seed.empirical_switch.{s}"))
      for s in range(6)]),
    ("docs/simplicity_bias.md", rf"seeds at the same sizes {NUM}×", ["simplicity_bias_6seeds.points.0.ratio"]),
    ("configs/simplicity_bias.py", rf"; {NUM}x with 6 seeds; {NUM}x with the partial models' curves clipped",
     ["simplicity_bias_6seeds.points.0.ratio",
      ("simplicity_bias.points.0.predicted_capped", value("simplicity_bias.points.0.empirical_switch"))]),
    ("docs/simplicity_bias.md", rf"\| sizes to 4,096, 3 seeds \| {CNUM} \| {CNUM} \| {CNUM} \| {CNUM} \| {CNUM} \| {CNUM} \| {CNUM} s \|",
     [f"simplicity_bias_4096.points.0.{k}" for k in ("predicted_switch", "empirical_switch", "ratio", "loss_cross", "l_digit", "K_digit")]
     + ["simplicity_bias_4096.measured.wall_s"]),
    ("docs/simplicity_bias.md", rf"\| sizes to 4,096, 6 seeds \| {CNUM} \| {CNUM} \| {CNUM} \| {CNUM} \| {CNUM} \| {CNUM} \| {CNUM} s \|",
     [f"simplicity_bias_4096_6seeds.points.0.{k}" for k in ("predicted_switch", "empirical_switch", "ratio", "loss_cross", "l_digit", "K_digit")]
     + ["simplicity_bias_4096_6seeds.measured.wall_s"]),
    ("docs/simplicity_bias.md", rf"\| sizes to 4,096, hidden 256 \(the reference's width\) \| {CNUM} \| {CNUM} \| {CNUM} \| {CNUM} \| {CNUM} \| {CNUM} \| {CNUM} s \|",
     [f"simplicity_bias_4096_h256.points.0.{k}" for k in ("predicted_switch", "empirical_switch", "ratio", "loss_cross", "l_digit", "K_digit")]
     + ["simplicity_bias_4096_h256.measured.wall_s"]),
    # Scenario B with the default protocol (docs/results/simplicity_bias_bank_cpu.json)
    ("docs/simplicity_bias.md", rf"1,188 in all: {CNUM} s wall / {CNUM} s CPU on this",
     ["simplicity_bias_bank_cpu.measured.wall_s", "simplicity_bias_bank_cpu.measured.cpu_s"]),
    ("docs/simplicity_bias.md", rf"\*\*{CNUM} pairing the first\s+switches\*\* over {CNUM} points \(K = 56, 100, 178; per seed –, {CNUM}, {CNUM}\)",
     ["simplicity_bias_bank_cpu.pearson_r", "simplicity_bias_bank_cpu.points_with_both",
      "simplicity_bias_bank_cpu.pearson_r_per_seed.1", "simplicity_bias_bank_cpu.pearson_r_per_seed.2"]),
    ("docs/simplicity_bias.md", rf"\*\*{CNUM} by the\s+reference's closest-pair rule\*\* over 3 points \(per seed –, –, {CNUM}\)",
     ["simplicity_bias_bank_cpu.pearson_r_matched", "simplicity_bias_bank_cpu.pearson_r_matched_per_seed.2"]),
    # every sweep (docs/results/simplicity_bias_full.json)
    ("docs/simplicity_bias.md", rf"14 sizes 2–16,384, 2 seeds, the default protocol: {CNUM} s wall / {CNUM} s CPU",
     ["simplicity_bias_full.measured.wall_s", "simplicity_bias_full.measured.cpu_s"]),
    ("configs/simplicity_bias.py", rf"43 points \(measured: {NUM} s wall / {NUM} s CPU",
     ["simplicity_bias_full.measured.wall_s", "simplicity_bias_full.measured.cpu_s"]),
    ("docs/simplicity_bias.md", rf"\| A over spur_prob \| {NUM} of 16 \| \*\*{CNUM}\*\* \| {CNUM} \|",
     ["simplicity_bias_full.per_sweep.A_spur.n", "simplicity_bias_full.per_sweep.A_spur.r", "simplicity_bias_full.per_sweep.A_spur.r_matched"]),
    ("docs/simplicity_bias.md", rf"\| B over flip_prob \(K = 200\) \| {NUM} of 16 \| {CNUM} \| {CNUM} \|",
     ["simplicity_bias_full.per_sweep.B_flip.n", "simplicity_bias_full.per_sweep.B_flip.r", "simplicity_bias_full.per_sweep.B_flip.r_matched"]),
    ("docs/simplicity_bias.md", rf"\| B over K \| {NUM} of 11 \| {CNUM} \| {CNUM} \|",
     ["simplicity_bias_full.per_sweep.B_bank.n", "simplicity_bias_full.per_sweep.B_bank.r", "simplicity_bias_full.per_sweep.B_bank.r_matched"]),
    ("docs/simplicity_bias.md", rf"\| all 43 points \| {NUM} \| {CNUM} \| {CNUM} \|",
     ["simplicity_bias_full.points_with_both", "simplicity_bias_full.pearson_r", "simplicity_bias_full.pearson_r_matched"]),
    # ... and Scenario A's first protocol (docs/results/simplicity_bias_protocol1.json)
    ("docs/simplicity_bias.md", rf"{CNUM} s wall / {CNUM} s CPU on the\s+2-core AMD EPYC",
     ["simplicity_bias_protocol1.measured.wall_s", "simplicity_bias_protocol1.measured.cpu_s"]),
    ("docs/simplicity_bias.md", rf"empirical switch \| — \| N ≈ {CNUM} \(permutation drops cross\) \|", ["simplicity_bias_protocol1.points.0.empirical_switch"]),
    ("docs/simplicity_bias.md", rf"\*\*no: 6,884, {CNUM}× too late", ["simplicity_bias_protocol1.points.0.ratio"]),
    ("docs/simplicity_bias.md", rf"slope ℓ_digit = {CNUM} at the largest N is no better\s+than the colour line's {CNUM}",
     ["simplicity_bias_protocol1.points.0.l_digit", "simplicity_bias_protocol1.points.0.l_colour"]),
    ("docs/simplicity_bias.md", rf"\| the first protocol \(held-out test images, below\) \| 6,884 \| {CNUM} \| {CNUM} \| – \| {CNUM} \| {CNUM} \| {CNUM} s \(busy\) \|",
     ["simplicity_bias_protocol1.points.0.empirical_switch", "simplicity_bias_protocol1.points.0.ratio",
      "simplicity_bias_protocol1.points.0.l_digit", "simplicity_bias_protocol1.points.0.K_digit",
      "simplicity_bias_protocol1.measured.wall_s"]),
    # Scenario B bank-size sweep at CPU scale, first protocol (docs/results/simplicity_bias_bank_cpu_protocol1.json)
    ("docs/simplicity_bias.md", rf"\*\*Time\*\*: {NUM} s wall \(18 min\) / {NUM} s CPU",
     ["simplicity_bias_bank_cpu_protocol1.measured.wall_s", "simplicity_bias_bank_cpu_protocol1.measured.cpu_s"]),
    ("configs/simplicity_bias.py", rf"bank_cpu.*\(measured: {NUM} s wall / {NUM} s CPU",
     ["simplicity_bias_bank_cpu.measured.wall_s", "simplicity_bias_bank_cpu.measured.cpu_s"]),
    ("docs/simplicity_bias.md", rf"only {NUM} of\s+the 11 points have both switches",
     ["simplicity_bias_bank_cpu_protocol1.points_with_both"]),
    ("configs/simplicity_bias.py", rf"measured: {NUM} of 11 K have both switches, r {NUM} pairing first switches, {NUM} by the\s+reference's closest pairs",
     ["simplicity_bias_bank_cpu.points_with_both", "simplicity_bias_bank_cpu.pearson_r", "simplicity_bias_bank_cpu.pearson_r_matched"]),
    ("docs/simplicity_bias.md", rf"Pearson r over them: \*\*{NUM} by the\s+reference's closest-pair rule\*\* \(per seed {NUM} and {NUM}\)",
     ["simplicity_bias_bank_cpu_1digit.pearson_r_matched", "simplicity_bias_bank_cpu_1digit.pearson_r_matched_per_seed.0",
      "simplicity_bias_bank_cpu_1digit.pearson_r_matched_per_seed.1"]),
    ("docs/simplicity_bias.md", rf"\*\*{NUM} pairing the first\s+switches\*\* \(per seed {NUM} and {NUM}\)",
     ["simplicity_bias_bank_cpu_1digit.pearson_r", "simplicity_bias_bank_cpu_1digit.pearson_r_per_seed.0",
      "simplicity_bias_bank_cpu_1digit.pearson_r_per_seed.1"]),
    ("docs/simplicity_bias.md", rf"Now {NUM} of 6 points have both switches", ["simplicity_bias_bank_cpu_1digit.points_with_both"]),
    ("docs/simplicity_bias.md", rf"load 4.9–5.9; {NUM} s wall / {NUM} s CPU",
     ["simplicity_bias_bank_cpu_1digit.measured.wall_s", "simplicity_bias_bank_cpu_1digit.measured.cpu_s"]),
    ("docs/simplicity_bias.md", rf"K = 178: {NUM} s wall / {NUM} s CPU at a\s+load of 4.2–5.8",
     ["simplicity_bias_bank_cpu_1digit_ext178.measured.wall_s", "simplicity_bias_bank_cpu_1digit_ext178.measured.cpu_s"]),
    ("docs/simplicity_bias.md", rf"overlap check: {NUM} s wall / {NUM} s CPU at a load of 3.9–5.5",
     ["simplicity_bias_bank_cpu_1digit_ext100.measured.wall_s", "simplicity_bias_bank_cpu_1digit_ext100.measured.cpu_s"]),
    ("docs/simplicity_bias.md", rf"K = 56: {NUM} s wall / {NUM} s CPU at a load of 1.4–3.2",
     ["simplicity_bias_bank_cpu_1digit_ext56.measured.wall_s", "simplicity_bias_bank_cpu_1digit_ext56.measured.cpu_s"]),
    ("docs/simplicity_bias.md", rf"K = 32: {NUM} s wall /\s+{NUM} s CPU at a load of 1.1–1.5",
     ["simplicity_bias_bank_cpu_1digit_ext32.measured.wall_s", "simplicity_bias_bank_cpu_1digit_ext32.measured.cpu_s"]),
    ("docs/simplicity_bias.md", rf"job\): {NUM} s wall / {NUM} s CPU at a load of 2.3–3.6",
     ["simplicity_bias_bank_cpu_1digit_ext10.measured.wall_s", "simplicity_bias_bank_cpu_1digit_ext10.measured.cpu_s"]),
    ("docs/simplicity_bias.md", rf"K = 316: {NUM} s wall / {NUM} s CPU at a load of 5.1–5.9",
     ["simplicity_bias_bank_cpu_1digit_ext316.measured.wall_s", "simplicity_bias_bank_cpu_1digit_ext316.measured.cpu_s"]),
    ("docs/simplicity_bias.md", rf"\(432 fits; {NUM} s wall /\s+{NUM} s CPU alone",
     ["simplicity_bias_bank_cpu_dense.measured.wall_s", "simplicity_bias_bank_cpu_dense.measured.cpu_s"]),
    ("docs/simplicity_bias.md", rf"\(120 fits; {NUM} s wall / {NUM} s CPU alone",
     ["simplicity_bias_bank_cpu_k316_32768_cap12k.measured.wall_s",
      "simplicity_bias_bank_cpu_k316_32768_cap12k.measured.cpu_s"]),
    ("docs/simplicity_bias.md", rf"6,000-step cap \({NUM} s wall / {NUM} s CPU; `..._k316_32768.json`\)",
     ["simplicity_bias_bank_cpu_k316_32768.measured.wall_s", "simplicity_bias_bank_cpu_k316_32768.measured.cpu_s"]),
    # Compositionality (docs/results/compositionality*.json)
    ("configs/compositionality.py", rf"every one of the {NUM} sweep points within 1% of the\s+paper's "
                                    rf"mean C \(largest {NUM}%, mean {NUM}%\)",
     ["compositionality.points", "compositionality.max_rel_error_pct",
      "compositionality.mean_rel_error_pct"]),
    ("docs/compositionality.md", rf"Every one of the\s+{NUM} sweep points is within 1% of the paper's "
                                 rf"mean C\*\* \(largest {NUM}% at d = 16, mean\s+{NUM}%\)",
     ["compositionality.points", "compositionality.max_rel_error_pct",
      "compositionality.mean_rel_error_pct"]),
    ("docs/compositionality.md", rf"all: 428 points, max {NUM}%", ["compositionality.max_rel_error_pct"]),
    ("configs/compositionality.py", rf"{NUM} s wall\s+/ {NUM} s CPU from a cold compilation cache, "
                                    rf"{NUM} s / {NUM} s with it",
     ["run_times|runs|configs/compositionality.py|cold|wall_s", "run_times|runs|configs/compositionality.py|cold|cpu_s",
      "run_times|runs|configs/compositionality.py|warm|wall_s", "run_times|runs|configs/compositionality.py|warm|cpu_s"]),
    ("docs/compositionality.md", rf"\*\*{NUM} s wall / {NUM} s of CPU from a cold compilation cache\*\*",
     ["run_times|runs|configs/compositionality.py|cold|wall_s", "run_times|runs|configs/compositionality.py|cold|cpu_s"]),
    ("docs/compositionality.md", rf"\*\*{NUM} s wall / {NUM} s CPU on a re-run\*\*",
     ["run_times|runs|configs/compositionality.py|warm|wall_s", "run_times|runs|configs/compositionality.py|warm|cpu_s"]),
    ("configs/compositionality.py", rf"C {NUM} ± {NUM} with resets \(iterated\s+learning\) vs {NUM} ± {NUM} without",
     ["compositionality_emergent.c.resets.0", "compositionality_emergent.c.resets.1",
      "compositionality_emergent.c.no_resets.0", "compositionality_emergent.c.no_resets.1"]),
    ("docs/compositionality.md", rf"\| iterated learning \(resets\) \| 25 / 6 \| 1.95 ± 0.33 \| \*\*{NUM} ± {NUM}\*\*",
     ["compositionality_emergent.c.resets.0", "compositionality_emergent.c.resets.1"]),
    ("docs/compositionality.md", rf"\| no resets \| 25 / 6 \| 1.017 ± 0.008 \| \*\*{NUM} ± {NUM}\*\*",
     ["compositionality_emergent.c.no_resets.0", "compositionality_emergent.c.no_resets.1"]),
    ("configs/compositionality.py", rf"Emergent \(``:emergent``, {NUM} s wall / {NUM} s CPU at load",
     [f"{E}|cold|wall_s", f"{E}|cold|cpu_s"]),
    ("docs/compositionality.md", rf"The emergent-language experiment takes {NUM} s wall / {NUM} s CPU "
                                 rf"cold and {NUM} s / {NUM} s\s+cached",
     [f"{E}|cold|wall_s", f"{E}|cold|cpu_s", f"{E}|warm|wall_s", f"{E}|warm|cpu_s"]),
    # MetaHMM (docs/results/metahmm.json)
    ("configs/metahmm.py", rf"A\(t\) falls from ln 1024 = {NUM} to\s+{NUM} nats by t = 63",
     ["metahmm.ambiguity.0", "metahmm.ambiguity.63"]),
    ("configs/metahmm.py", rf"smallest at t = 0\s+\({NUM}\) and grows as the posterior sharpens \({NUM} at t = 63\)",
     ["metahmm.gpt_kl.0", "metahmm.gpt_kl.63"]),
    ("configs/metahmm.py", rf"About {NUM} min on a busy 2-core CPU", [("metahmm.measured.wall_s", 60)]),
    ("docs/metahmm.md", rf"about {NUM} min on a busy 2-core CPU", [("metahmm.measured.wall_s", 60)]),
    ("configs/metahmm.py", rf'Monte-Carlo predictor "\s+"\(~{NUM} min wall, busy CPU\)', [("metahmm.measured.wall_s", 60)]),
    ("docs/metahmm.md", rf"\| oracle A\(t\) \(nats\) \| {NUM} \|.*\| {NUM} \|\n",
     ["metahmm.ambiguity.0", "metahmm.ambiguity.63"]),
    ("docs/metahmm.md", rf"\| GPT symmetrised KL \| {NUM} \|.*\| {NUM} \|\n",
     ["metahmm.gpt_kl.0", "metahmm.gpt_kl.63"]),
    # ... the paper's family at CPU scale (docs/results/metahmm_small_hour.json)
    ("configs/metahmm.py", rf'KL at 3 training "\s+"lengths \(~{NUM} min wall, busy CPU\)',
     [("metahmm_small_hour.measured.wall_s", 60)]),
    ("docs/metahmm.md", rf"\| oracle A\(t\), paper family \(nats\) \| {NUM} \|.*\| {NUM} \|\n",
     ["metahmm_small_hour.oracle.ambiguity.0", "metahmm_small_hour.oracle.ambiguity.199"]),
    *[("docs/metahmm.md", rf"\| GPT after {label} steps[^|]*\| {NUM} \|.*\| {NUM} \| {NUM} \|\n",
       [f"metahmm_small_hour.gpt.{name}.kl.0.0", f"metahmm_small_hour.gpt.{name}.kl.128.0",
        f"metahmm_small_hour.gpt.{name}.kl.199.0"])
      for label, name in (("900", "gpt@900"), ("1,800", "gpt@1800"), ("3,600", "gpt"))],
    ("docs/metahmm.md", rf"oracle {NUM};\nGPT {NUM} / {NUM} / {NUM} after 900 / 1,800 / 3,600 steps",
     ["metahmm_small_hour.oracle.code_length", "metahmm_small_hour.gpt.gpt@900.code_length.0",
      "metahmm_small_hour.gpt.gpt@1800.code_length.0", "metahmm_small_hour.gpt.gpt.code_length.0"]),
    # Exact inductive bias (docs/results/inductive_bias.json)
    ("docs/inductive_bias.md", rf"2026-12-01: {NUM} min wall, {NUM} s CPU, at a load",
     [("inductive_bias.measured.wall_s", 60), "inductive_bias.measured.cpu_s"]),
    ("docs/inductive_bias.md", rf"digits: kernel {NUM} \[{NUM}, {NUM}\] bits, MLP \(128 × 2\) {NUM} bits: "
                               rf"the MLP class encodes",
     ["inductive_bias.ib.classes.digits_kernel.bits", "inductive_bias.ib.classes.digits_kernel.low", "inductive_bias.ib.classes.digits_kernel.high",
      "inductive_bias.ib.classes.digits_mlp_w128_d2.bits"]),
    ("docs/inductive_bias.md", rf"w32_d1 {NUM} \[{NUM}, {NUM}\], w32_d2 {NUM} \[{NUM}, {NUM}\], "
                               rf"w128_d1 {NUM} \[{NUM}, {NUM}\], w128_d2 {NUM} \|",
     [f"inductive_bias.ib.architecture.digits_mlp_{a}.{k}" for a in ("w32_d1", "w32_d2", "w128_d1")
      for k in ("bits", "low", "high")] + ["inductive_bias.ib.architecture.digits_mlp_w128_d2.bits"]),
    ("docs/inductive_bias.md", rf"d = 8: {NUM} \[{NUM}, {NUM}\], d = 16: {NUM} \[{NUM}, {NUM}\], "
                               rf"d = 32: {NUM} \[{NUM}, {NUM}\] bits",
     [f"inductive_bias.ib.dimension.teacher{d}_mlp_w128_d2.{k}" for d in (8, 16, 32) for k in ("bits", "low", "high")]),
    ("docs/inductive_bias.md", rf"\n  digits_kernel\s+4000\s+{NUM}\s+{NUM}\s+\S+\s*\[[^\]]*\]\s+{NUM} \[\s*{NUM},\s*{NUM}\]",
     ["inductive_bias.ib.classes.digits_kernel.mean_error", "inductive_bias.ib.classes.digits_kernel.ks", "inductive_bias.ib.classes.digits_kernel.bits",
      "inductive_bias.ib.classes.digits_kernel.low", "inductive_bias.ib.classes.digits_kernel.high"]),
    # ... the dimension comparison at n = 100 and 400 (docs/results/inductive_bias_dim_n*.json)
    *[("docs/inductive_bias.md",
       rf"\| {d} \| {NUM}\*? \[{NUM}, {NUM}\] \| [^|]* \| {NUM}\*? \[{NUM}, {NUM}\] \| "
       rf"{NUM}\*? \[{NUM}, {NUM}\] \| [^|]* \| {NUM}\*? \[{NUM}, {NUM}\] \|\n",
       [f"inductive_bias_dim_n{n}.ib.dimension.teacher{d}_{m}.{k}"
        for n, m in ((100, "kernel"), (400, "kernel"), (100, "mlp_w128_d2"), (400, "mlp_w128_d2"))
        for k in ("bits", "low", "high")]) for d in (8, 16, 32)],
    # ... and the kernel class at the fixed absolute eps (docs/results/inductive_bias_dim_abs_n*.json)
    *[("docs/inductive_bias.md",
       rf"n = {n}: {NUM}, {NUM},? ?\n?{NUM} \[{NUM}, {NUM}\],\s+{NUM} \[{NUM}, {NUM}\],\s+{NUM} \[{NUM},\s+{NUM}\]",
       [f"inductive_bias_dim_abs_n{n}.ib.dimension.teacher2_kernel.bits",
        f"inductive_bias_dim_abs_n{n}.ib.dimension.teacher4_kernel.bits"] +
       [f"inductive_bias_dim_abs_n{n}.ib.dimension.teacher{d}_kernel.{k}" for d in (8, 16, 32)
        for k in ("bits", "low", "high")]) for n in (100, 200, 400)],
    # ... the convnet in the architecture comparison (docs/results/inductive_bias_arch_cnn.json)
    ("docs/inductive_bias.md", rf"\n  digits_cnn_c8_d2\s+256\s+{NUM}\s+{NUM}\s+\S+\s*\[[^\]]*\]\s+{NUM} \[\s*{NUM},\s*{NUM}\]",
     ["inductive_bias_arch_cnn.ib.architecture.digits_cnn_c8_d2.mean_error", "inductive_bias_arch_cnn.ib.architecture.digits_cnn_c8_d2.ks",
      "inductive_bias_arch_cnn.ib.architecture.digits_cnn_c8_d2.bits", "inductive_bias_arch_cnn.ib.architecture.digits_cnn_c8_d2.low",
      "inductive_bias_arch_cnn.ib.architecture.digits_cnn_c8_d2.high"]),
    ("docs/inductive_bias.md", rf"at 0.2× it needs {NUM}\s+\[{NUM}, {NUM}\] bits",
     ["inductive_bias_arch_cnn.ib.architecture.digits_cnn_c8_d2.bits", "inductive_bias_arch_cnn.ib.architecture.digits_cnn_c8_d2.low",
      "inductive_bias_arch_cnn.ib.architecture.digits_cnn_c8_d2.high"]),
    ("docs/inductive_bias.md", rf"load 3.6 -> 5.1, {NUM} s wall, {NUM} s CPU; `docs/results/inductive_bias_arch_cnn.json`",
     ["inductive_bias_arch_cnn.measured.wall_s", "inductive_bias_arch_cnn.measured.cpu_s"]),
    *[("docs/inductive_bias.md", rf"\n  {cell}\s+256\s+{NUM}\s+{NUM}\s+\S+\s*\[[^\]]*\]\s+{NUM} \[\s*{NUM},\s*{NUM}\]",
       [f"inductive_bias_arch_cnn2.ib.architecture.{cell}.{k}" for k in ("mean_error", "ks", "bits", "low", "high")])
      for cell in ("digits_cnn_c4_d2", "digits_cnn_c16_d2")],
    ("docs/inductive_bias.md", rf"between\), {NUM} s wall, {NUM} s CPU \(`docs/results/inductive_bias_arch_cnn2.json`",
     ["inductive_bias_arch_cnn2.measured.wall_s", "inductive_bias_arch_cnn2.measured.cpu_s"]),
    # Explicit vs implicit ICL (docs/results/explicit_implicit.json)
    ("docs/explicit_implicit.md", rf"linear      implicit   {SCI} ±\S+\s+{SCI} ±\S+\s+{SCI} ±",
     ["explicit_implicit.mse.linear.implicit.iid.0", "explicit_implicit.mse.linear.implicit.far.0",
      "explicit_implicit.mse.linear.implicit.wide.0"]),
    ("docs/explicit_implicit.md", rf"linear      known_f    {SCI} ±\S+\s+{SCI} ±\S+\s+{SCI} ±",
     ["explicit_implicit.mse.linear.known_f.iid.0", "explicit_implicit.mse.linear.known_f.far.0",
      "explicit_implicit.mse.linear.known_f.wide.0"]),
    ("docs/explicit_implicit.md", rf"raw-context linear probe of the latent: {SCI} ±",
     ["explicit_implicit.raw_context_probe.linear.0"]),
    # Sinusoid regression (docs/results/explicit_implicit_sinusoid.json): every row of the
    # printed table (ID, far, wide, and the probe of the explicit kinds) and the raw-context probe
    *ei_printed_rows("explicit_implicit_sinusoid", "sinusoid"),
    ("docs/explicit_implicit.md", rf"sinusoid    raw-context linear probe of the latent: {SCI} ±",
     ["explicit_implicit_sinusoid.raw_context_probe.sinusoid.0"]),
    # the two 4,000-step sinusoid runs' times (wall from the manifest, CPU from /usr/bin/time)
    ("docs/explicit_implicit.md", rf"{NUM} min wall \({NUM} s\), {NUM} s of CPU from\s+`/usr/bin/time`, load average [^;]*;"
     rf" source `docs/results/explicit_implicit_sinusoid_4000.json`",
     [("explicit_implicit_sinusoid_4000.measured.wall_s", 60), "explicit_implicit_sinusoid_4000.measured.wall_s",
      "explicit_implicit_sinusoid_4000.measured.cpu_s"]),
    ("docs/explicit_implicit.md", rf"{NUM} min wall \({NUM} s\), {NUM} s of CPU from\s+`/usr/bin/time`, load average [^;]*;"
     rf" source `docs/results/explicit_implicit_sinusoid_4000_tsf_mlp.json`",
     [("explicit_implicit_sinusoid_4000_tsf_mlp.measured.wall_s", 60),
      "explicit_implicit_sinusoid_4000_tsf_mlp.measured.wall_s", "explicit_implicit_sinusoid_4000_tsf_mlp.measured.cpu_s"]),
    # Low-rank MLP regression (docs/results/explicit_implicit_lowrank_mlp.json): every row of the
    # printed table, the raw-context probe and the run's times
    *ei_printed_rows("explicit_implicit_lowrank_mlp", "lowrank_mlp"),
    ("docs/explicit_implicit.md", rf"lowrank_mlp raw-context linear probe of the latent: {SCI} ±",
     ["explicit_implicit_lowrank_mlp.raw_context_probe.lowrank_mlp.0"]),
    ("docs/explicit_implicit.md", rf"2-core Intel Xeon: {NUM} min wall \({NUM} s\),\s+{NUM} s of CPU \(`/usr/bin/time`\), "
                                  rf"load average {NUM}-{NUM} with two other agents running; source\s+"
                                  rf"`docs/results/explicit_implicit_lowrank_mlp.json`",
     [("explicit_implicit_lowrank_mlp.measured.wall_s", 60), "explicit_implicit_lowrank_mlp.measured.wall_s",
      "explicit_implicit_lowrank_mlp.measured.cpu_s"]),
    # GP regression (docs/results/explicit_implicit_gp.json): every row, the run's times
    *[("docs/explicit_implicit.md", rf"\ngp          {kind}\s+{SCI} ±\S+\s+{SCI} ±\S+\s+{SCI} ±\S+\s+–",
       [f"explicit_implicit_gp.mse.gp.{kind}.{m}.0" for m in ("iid", "far", "wide")])
      for kind in ("implicit", "tsf", "mlp")],
    ("docs/explicit_implicit.md", rf"2-core Intel Xeon: {NUM} min wall \({NUM} s\), {NUM} s of CPU\s+\(`/usr/bin/time`\), "
                                  rf"load average {NUM}-{NUM} with two other agents running; source\s+"
                                  rf"`docs/results/explicit_implicit_gp.json`",
     [("explicit_implicit_gp.measured.wall_s", 60), "explicit_implicit_gp.measured.wall_s",
      "explicit_implicit_gp.measured.cpu_s"]),
    # Linear and low-rank classification (docs/results/explicit_implicit_{linear,lowrank}_cls.json):
    # every row of both printed tables (ID / far / wide accuracy, ID and wide cross-entropy, the
    # probe of the explicit kinds, the paper's ID / far / wide accuracy), the raw-context probe,
    # the run times and the Bayes-optimal reference
    *[("docs/explicit_implicit.md",
       rf"\n{fam:<12}{kind}\s+{NUM} ±\S+\s+{NUM} ±\S+\s+{NUM} ±\S+\s+{SCI} ±\S+\s+{SCI} ±\S+\s+"
       + (rf"{SCI} ±\S+" if kind != "implicit" else "–") + rf"\s+{NUM} / {NUM} / {NUM}\s",
       [f"explicit_implicit_{fam}.mse.{fam}.{kind}.{m}.0"
        for m in ("acc_iid", "acc_far", "acc_wide", "iid", "wide") + (("probe",) if kind != "implicit" else ())]
       + [f"explicit_implicit_{fam}.paper.mse.{fam}.{kind}.{m}.0" for m in ("acc_iid", "acc_far", "acc_wide")])
      for fam in CLS_FAMILIES for kind in SINUSOID_KINDS],
    *[("docs/explicit_implicit.md", rf"{fam:<12}raw-context linear probe of the latent: {SCI} ±",
       [f"explicit_implicit_{fam}.raw_context_probe.{fam}.0"]) for fam in CLS_FAMILIES],
    ("docs/explicit_implicit.md", rf"linear {NUM} min wall \({NUM} s\), {NUM} s of CPU; low-rank {NUM} min wall "
                                  rf"\({NUM} s\), {NUM} s of\s+CPU",
     [("explicit_implicit_linear_cls.measured.wall_s", 60), "explicit_implicit_linear_cls.measured.wall_s",
      "explicit_implicit_linear_cls.measured.cpu_s", ("explicit_implicit_lowrank_cls.measured.wall_s", 60),
      "explicit_implicit_lowrank_cls.measured.wall_s", "explicit_implicit_lowrank_cls.measured.cpu_s"]),
    *[("docs/explicit_implicit.md", rf"\| {n} context points \([^)]*\) \| {NUM} \| {NUM} \| {NUM} \|",
       [f"explicit_implicit_linear_cls.bayes.n{n}.{m}" for m in ("iid", "far", "wide")]) for n in (16, 72)],
    # The supervised ablation (docs/results/explicit_implicit_ablation*.json): every row of
    # both printed tables (the predictor fed the true w, x_q . z, |z - w|^2)
    *[("docs/explicit_implicit.md",
       rf"sampler '{sampler}'\)[\s\S]*?\n{row}\s+\S+\s+\S+\s+{SCI} ±\S+\s+\S+\s+{SCI} ±\S+\s+\S+\s+{SCI} ±",
       [f"{source}.mse.ablation.supervised.{m}.0" for m in (row, f"z_{row}", f"latent_{row}")])
      for sampler, source in (("set", "explicit_implicit_ablation"), ("negate", "explicit_implicit_ablation_negate"))
      for row in ("iid", "range_w", "quad_w", "range_x", "quad_x")],
    # The Raven runs (docs/results/explicit_implicit_raven.json, the CPU default, and
    # explicit_implicit_raven_1000.json, the check run): every row of each printed table
    # (ID and OOD accuracy, the rule probe's) and each run's time
    *[("docs/explicit_implicit.md",
       rf"{anchor}[\s\S]*?Raven \(rule-RAVEN[\s\S]*?\n{kind}\s+{NUM} ±\S+\s+{NUM} ±\S+\s+"
       + (rf"{NUM} ±\S+\s+{NUM} ±" if kind != "implicit" else "–"),
       [f"{source}.mse.raven.{kind}.{m}.0"
        for m in ("acc_iid", "acc_ood") + (("rule_acc_iid", "rule_acc_ood") if kind != "implicit" else ())])
      for source, anchor in (("explicit_implicit_raven", r"--workdir runs/ei_raven` \(ours"),
                             ("explicit_implicit_raven_1000", r"--workdir runs/ei_raven_1000 "))
      for kind in ("implicit", "tsf", "mlp", "known_z", "known_f")],
    *[("docs/explicit_implicit.md", rf"{anchor}[\s\S]*?measured 2026-12-07 on this 2-core Intel Xeon: {NUM} s wall,\s+{NUM} s\s+of CPU",
       [f"{source}.measured.time_wall_s", f"{source}.measured.cpu_s"])
      for source, anchor in (("explicit_implicit_raven", r"--workdir runs/ei_raven` \(ours"),
                             ("explicit_implicit_raven_1000", r"--workdir runs/ei_raven_1000 "))],
    # The worked example (docs/results/example_sine.json)
    ("docs/new_paper.md", rf"\n0\.003\s+{NUM}\s+{NUM}\n",
     ["example_sine.mse.0.bayes_mse", "example_sine.mse.0.test_mse"]),
    ("docs/new_paper.md", rf"\n0\.010\s+{NUM}\s+{NUM}\n",
     ["example_sine.mse.1.bayes_mse", "example_sine.mse.1.test_mse"]),
    # COALA-PG on the IPD (docs/results/coala_ipd.json)
    ("docs/coala_ipd.md", rf"wall time {NUM} min \({NUM} s\)",
     [("coala_ipd.measured.wall_s", 60), "coala_ipd.measured.wall_s"]),
    ("docs/coala_ipd.md", rf"COALA vs naive: agent {NUM} \[{NUM}, {NUM}\], naive {NUM} \[{NUM}, {NUM}\]; {NUM}% of seeds",
     ["coala_ipd|pairings|coala_vs_naive_1.0|reward1|1", "coala_ipd|pairings|coala_vs_naive_1.0|reward1|0",
      "coala_ipd|pairings|coala_vs_naive_1.0|reward1|2", "coala_ipd|pairings|coala_vs_naive_1.0|reward2|1",
      "coala_ipd|pairings|coala_vs_naive_1.0|reward2|0", "coala_ipd|pairings|coala_vs_naive_1.0|reward2|2",
      ("coala_ipd|pairings|coala_vs_naive_1.0|above_R", 0.01)]),
    ("docs/coala_ipd.md", rf"ZD extortioner with χ = {NUM} \[{NUM}, {NUM}\]",
     ["coala_ipd|pairings|coala_vs_naive_1.0|chi_fit|1", "coala_ipd|pairings|coala_vs_naive_1.0|chi_fit|0",
      "coala_ipd|pairings|coala_vs_naive_1.0|chi_fit|2"]),
    ("docs/coala_ipd.md", rf"naive vs naive: {NUM} \[{NUM}, {NUM}\] each",
     ["coala_ipd|pairings|naive_naive|reward1|1", "coala_ipd|pairings|naive_naive|reward1|0",
      "coala_ipd|pairings|naive_naive|reward1|2"]),
    # COALA-PG vs its GAE variant (docs/results/coala_ipd_gae_pool1.json)
    ("docs/coala_ipd.md", rf"Pool 1 took a wall time of {NUM} min \({NUM} s\)",
     [("coala_ipd_gae_pool1.measured.wall_s", 60), "coala_ipd_gae_pool1.measured.wall_s"]),
    ("docs/coala_ipd.md", rf"wider spread: {NUM} \[{NUM}, {NUM}\] against {NUM} \[{NUM}, {NUM}\] for COALA-PG,\s+"
     rf"above R = -1 in {NUM}% of seeds against {NUM}%",
     [f"{G}pairings|coala_gae_vs_naive_1.0|reward1|{i}" for i in (1, 0, 2)]
     + [f"{G}pairings|coala_vs_naive_1.0|reward1|{i}" for i in (1, 0, 2)]
     + [(f"{G}pairings|coala_gae_vs_naive_1.0|above_R", 0.01), (f"{G}pairings|coala_vs_naive_1.0|above_R", 0.01)]),
    ("docs/coala_ipd.md", rf"harder on the naive learner: {NUM} against\s+{NUM}",
     [f"{G}pairings|coala_gae_vs_naive_1.0|reward2|1", f"{G}pairings|coala_vs_naive_1.0|reward2|1"]),
    ("docs/coala_ipd.md", rf"201-400 it gets\s+{NUM} \[{NUM}, {NUM}\] against {NUM} \[{NUM}, {NUM}\]",
     [f"{G}training|coala_gae_1.0|early|agent_vs_naive|{i}" for i in (1, 0, 2)]
     + [f"{G}training|coala_1.0|early|agent_vs_naive|{i}" for i in (1, 0, 2)]),
    ("docs/coala_ipd.md", rf"Over the last 200 it gets\s+{NUM} \[{NUM}, {NUM}\] against {NUM} \[{NUM}, {NUM}\]",
     [f"{G}training|coala_gae_1.0|late|agent_vs_naive|{i}" for i in (1, 0, 2)]
     + [f"{G}training|coala_1.0|late|agent_vs_naive|{i}" for i in (1, 0, 2)]),
    ("docs/coala_ipd.md", rf"co-players get {NUM} \[{NUM}, {NUM}\] against {NUM} \[{NUM}, {NUM}\]",
     [f"{G}training|coala_gae_1.0|late|naive_vs_agent|{i}" for i in (1, 0, 2)]
     + [f"{G}training|coala_1.0|late|naive_vs_agent|{i}" for i in (1, 0, 2)]),
    # ... in the mixed pool (docs/results/coala_ipd_gae_pool05.json)
    ("docs/coala_ipd.md", rf"Pool 0.5 took a wall time of {NUM} min \({NUM} s\)",
     [("coala_ipd_gae_pool05.measured.wall_s", 60), "coala_ipd_gae_pool05.measured.wall_s"]),
    ("docs/coala_ipd.md", rf"GAE agent\s+gets {NUM} \[{NUM}, {NUM}\] against {NUM} \[{NUM}, {NUM}\] for COALA-PG, and its naive\s+"
     rf"co-players get {NUM} against {NUM}",
     [f"{H}pairings|coala_gae_vs_naive_0.5|reward1|{i}" for i in (1, 0, 2)]
     + [f"{H}pairings|coala_vs_naive_0.5|reward1|{i}" for i in (1, 0, 2)]
     + [f"{H}pairings|coala_gae_vs_naive_0.5|reward2|1", f"{H}pairings|coala_vs_naive_0.5|reward2|1"]),
    ("docs/coala_ipd.md", rf"episodes 1, 2, 3 has median {NUM}, {NUM}, {NUM} \(COALA: {NUM},\s+{NUM}, {NUM}\)",
     [f"{H}vs_agent_by_episode|coala_gae_0.5|{i}" for i in range(3)]
     + [f"{H}vs_agent_by_episode|coala_0.5|{i}" for i in range(3)]),
    ("docs/coala_ipd.md", rf"{NUM} \[{NUM}, {NUM}\] over the last 200 meta-steps, against\s+{NUM} \[{NUM}, {NUM}\] for COALA-PG",
     [f"{H}training|coala_gae_0.5|late|agent_vs_agent|{i}" for i in (1, 0, 2)]
     + [f"{H}training|coala_0.5|late|agent_vs_agent|{i}" for i in (1, 0, 2)]),
    # ... with twice the meta-training (docs/results/coala_ipd_gae_pool05_long.json)
    ("docs/coala_ipd.md", rf"It took a wall time of {NUM} min \({NUM} s\), load average {NUM} at the start\s+"
     rf"\(docs/results/coala_ipd_gae_pool05_long.json\)",
     [("coala_ipd_gae_pool05_long.measured.wall_s", 60), "coala_ipd_gae_pool05_long.measured.wall_s",
      "coala_ipd_gae_pool05_long.load_average_at_start"]),
    ("docs/coala_ipd.md", rf"with twice the training it is {NUM} \[{NUM}, {NUM}\] over the last 200 meta-steps,\s+against {NUM} \[{NUM}, {NUM}\]",
     [f"{L}training|coala_gae_0.5|late|agent_vs_agent|{i}" for i in (1, 0, 2)]
     + [f"{L}training|coala_0.5|late|agent_vs_agent|{i}" for i in (1, 0, 2)]),
    ("docs/coala_ipd.md", rf"the evaluation have medians {NUM}, {NUM}, {NUM}",
     [f"{L}vs_agent_by_episode|coala_gae_0.5|{i}" for i in range(3)]),
    ("docs/coala_ipd.md", rf"GAE {NUM} \[{NUM}, {NUM}\] \(naive {NUM}\), COALA-PG {NUM} \[{NUM}, {NUM}\] \(naive\s+{NUM}\)",
     [f"{L}pairings|coala_gae_vs_naive_0.5|reward1|{i}" for i in (1, 0, 2)] + [f"{L}pairings|coala_gae_vs_naive_0.5|reward2|1"]
     + [f"{L}pairings|coala_vs_naive_0.5|reward1|{i}" for i in (1, 0, 2)] + [f"{L}pairings|coala_vs_naive_0.5|reward2|1"]),
    # ... at lambda = 1 (docs/results/coala_ipd_gae_lam1_pool1.json)
    ("docs/coala_ipd.md", rf"It took a wall time of {NUM} min \({NUM} s\), load average {NUM} at the start\s+"
     rf"\(docs/results/coala_ipd_gae_lam1_pool1.json\)",
     [("coala_ipd_gae_lam1_pool1.measured.wall_s", 60), "coala_ipd_gae_lam1_pool1.measured.wall_s",
      "coala_ipd_gae_lam1_pool1.load_average_at_start"]),
    ("docs/coala_ipd.md", rf"λ=1 vs naive \(pool 1\) 32\s+{NUM} \[{NUM}, {NUM}\]\s+{NUM} \[{NUM}, {NUM}\]",
     [f"{J}pairings|coala_gae_vs_naive_1.0|reward1|{i}" for i in (1, 0, 2)]
     + [f"{J}pairings|coala_gae_vs_naive_1.0|reward2|{i}" for i in (1, 0, 2)]),
    ("docs/coala_ipd.md", rf"χ = {NUM} \[{NUM}, {NUM}\], and\s+{NUM}% of seeds end above R. Per seed, its reward minus "
     rf"COALA-PG's has median {NUM}\s+\[{NUM}, {NUM}\] and is positive in {NUM}% of seeds",
     [f"{J}pairings|coala_gae_vs_naive_1.0|chi_fit|{i}" for i in (1, 0, 2)]
     + [(f"{J}pairings|coala_gae_vs_naive_1.0|above_R", 0.01)]
     + [f"{J}paired_vs_coala|diff|{i}" for i in (1, 0, 2)] + [(f"{J}paired_vs_coala|positive", 0.01)]),
    ("docs/coala_ipd.md", rf"last 200 steps is {NUM} \[{NUM}, {NUM}\] \(COALA-PG: {NUM}\)",
     [f"{J}training|coala_gae_1.0|late|agent_vs_naive|{i}" for i in (1, 0, 2)]
     + [f"{G}training|coala_1.0|late|agent_vs_naive|1"]),
]


def check(rel: str, pattern: str, paths: list[str]) -> None:
    match = re.search(pattern, read(rel))
    assert match, f"{rel}: the claim {pattern!r} is gone (reworded? update tests/test_numbers.py)"
    for text, path in zip(match.groups(), paths):
        assert agrees(text, value(path)), f"{rel}: {text} disagrees with {path} = {value(path)}"


@pytest.mark.parametrize("rel,pattern,paths", CLAIMS, ids=[f"{c[0]}:{c[2][0]}" for c in CLAIMS])
def test_a_stated_number_agrees_with_its_source(rel, pattern, paths):
    check(rel, pattern, paths)


def test_every_source_says_when_and_on_what_it_was_measured():
    assert SOURCES
    for name, src in SOURCES.items():
        assert src["measured"]["date"] and src["measured"]["cpu"], name


def cells(row: str) -> list[str]:
    """'0.804 ±0.039    0.606 ±0.058  –' -> ['0.804 ±0.039', '0.606 ±0.058', '–']."""
    return re.findall(r"-?\d*\.\d+ ±\s*\d*\.\d+|–", row)


def test_the_readme_table_is_the_icl_source():
    text = read("README.md")
    block = text[text.index("learner                    n=1"):]
    block = block[:block.index("```")]
    src = SOURCES["icl_occam"]
    for learner, curve in src["gen_error"].items():
        row = re.search(rf"^{learner}\s+(.*)$", block, re.M)
        assert row, f"README: no {learner} row"
        got = cells(row.group(1))
        want = [curve.get(str(n)) for n in (1, 2, 5, 10, 20, 100)] + [
            src["code_length"].get(learner), src["code_length_5"].get(learner)]
        assert len(got) == len(want), (learner, got)
        for text, ms in zip(got, want):
            if ms is None:
                assert text == "–", (learner, text)
                continue
            mean, std = (t.strip() for t in text.split("±"))
            assert agrees(mean, ms[0]) and agrees(std, ms[1]), f"README {learner}: {text} vs {ms}"


def test_the_docs_reproduction_table_is_the_icl_source():
    src = SOURCES["icl_occam"]["gen_error"]
    text = read("docs/icl_occam.md")
    for n in (1, 2, 5, 10, 20, 100):
        row = re.search(rf"^\| {n} \|(.*)\|$", text, re.M)
        assert row, f"docs/icl_occam.md: no row for n = {n}"
        cols = [c.strip() for c in row.group(1).split("|")]
        for learner, ours in zip(("bayes", "prequential", "train", "sgd"), cols[1::2]):
            ms = src[learner].get(str(n))
            if ms is None:
                assert ours == "–", (n, learner, ours)
                continue
            mean, std = (t.strip() for t in ours.split("±"))
            assert agrees(mean, ms[0]) and agrees(std, ms[1]), f"n={n} {learner}: {ours} vs {ms}"


RUN_TIMES = re.compile(r"~(\d+) s CPU first run / ~(\d+) s cached")


def test_variant_times_and_the_readme_run_times_table_are_the_measured_ones():
    """``jaxlab list``'s "~N s CPU first run / ~M s cached" and the README's table of first
    and cached runs are docs/results/run_times.json (scripts/smoke_times.py)."""
    from jaxlab import papers

    runs = SOURCES["run_times"]["runs"]
    stated = 0
    for name in papers.names():
        variants = papers.config_info(os.path.join(ROOT, "configs", f"{name}.py"))["variants"]
        for token, what in variants.items():
            m = RUN_TIMES.search(what)
            if not m:
                continue
            spec = f"configs/{name}.py" + (f":{token}" if token else "")
            assert spec in runs, f"{spec}: states a time that run_times.json does not hold"
            assert agrees(m.group(1), runs[spec]["cold"]["cpu_s"]), (spec, m.group(0), runs[spec])
            assert agrees(m.group(2), runs[spec]["warm"]["cpu_s"]), (spec, m.group(0), runs[spec])
            stated += 1
    assert stated >= 6
    readme = read("README.md")
    for spec, row in runs.items():
        m = re.search(rf"^\| `{re.escape(spec)}` \| {NUM} / {NUM} \| {NUM} / {NUM} \|", readme, re.M)
        assert m, f"README: no run-time row for {spec}"
        want = (row["cold"]["cpu_s"], row["warm"]["cpu_s"], row["cold"]["wall_s"], row["warm"]["wall_s"])
        for text, v in zip(m.groups(), want):
            assert agrees(text, v), f"README {spec}: {text} vs {v}"


# The sinusoid run at 4,000 steps is two runs of the same config and command shape: implicit,
# known z and known f in one, tsf and mlp in the other; their kinds must not overlap.
SINUSOID_4000 = ("explicit_implicit_sinusoid_4000", "explicit_implicit_sinusoid_4000_tsf_mlp")


def merged_mse(names: tuple[str, ...], family: str = "sinusoid") -> dict:
    """kind -> metric -> [mean, std] over the runs ``names`` (one run per kind)."""
    out: dict = {}
    for name in names:
        mse = SOURCES[name]["mse"][family]
        assert not set(mse) & set(out), (name, set(mse) & set(out))
        out.update(mse)
    return out


# The sinusoid table of docs/explicit_implicit.md: per model kind, ID / far / wide MSE of the
# 2,000-step run, the 4,000-step runs and the paper (the reference's CSV), in this column
# order; "–" where a source has no such number.
SINUSOID_COLUMNS = [(names, mse, metric)
                    for names, mse in ((("explicit_implicit_sinusoid",), "mse"),
                                       (SINUSOID_4000, "mse"),
                                       (("explicit_implicit_sinusoid",), "paper|mse"))
                    for metric in ("iid", "far", "wide")]


def source_or_none(path: str) -> float | None:
    try:
        return value(path)
    except KeyError:
        return None


def first_source_or_none(names: tuple[str, ...], rest: str) -> float | None:
    """The number at ``name|rest`` in the first of ``names`` that has it."""
    for name in names:
        v = source_or_none(f"{name}|{rest}")
        if v is not None:
            return v
    return None


def test_the_sinusoid_table_is_its_sources():
    text = read("docs/explicit_implicit.md")
    block = text[text.index("| model | ours 2,000 steps: ID |"):]
    block = block[:block.index("\n\n")]
    merged_mse(SINUSOID_4000)  # the two 4,000-step runs hold different kinds
    for kind in SINUSOID_KINDS:
        row = re.search(rf"^\| {kind} \|(.*)\|$", block, re.M)
        assert row, f"docs/explicit_implicit.md: no {kind} row in the sinusoid table"
        cols = [c.strip() for c in row.group(1).split("|")]
        assert len(cols) == len(SINUSOID_COLUMNS), (kind, cols)
        for text_, (names, prefix, metric) in zip(cols, SINUSOID_COLUMNS):
            want = first_source_or_none(names, f"{prefix}|sinusoid|{kind}|{metric}|0")
            if want is None:
                assert text_ == "–", (kind, prefix, metric, text_)
            else:
                assert agrees(text_, want), f"sinusoid {kind} {prefix} {metric}: {text_} vs {want}"


def test_the_sinusoid_paper_numbers_are_the_printed_tables():
    """The paper block of explicit_implicit_sinusoid.json (the reference CSV's seed means, 3
    significant digits) is what the study prints in its "paper ID / far / wide" column
    (study.PAPER, 2 digits): equal up to the two roundings (1.15e-3 is 1.2e-3 rounded from
    1.1526e-3)."""
    from jaxlab.papers.explicit_implicit import study

    paper = SOURCES["explicit_implicit_sinusoid"]["paper"]["mse"]["sinusoid"]
    assert set(paper) == set(SINUSOID_KINDS)
    for kind, triple in study.PAPER["sinusoid"].items():
        for metric, two_digits in zip(("iid", "far", "wide"), triple):
            unit = 10.0 ** (math.floor(math.log10(two_digits)) - 1)  # the last digit of 2 shown
            assert abs(paper[kind][metric][0] - two_digits) <= 0.55 * unit, (kind, metric, two_digits)


def test_the_sinusoid_known_f_ratios_are_the_sources():
    """"known f ... vs best learned (K) ...: Nx" in the sinusoid claims table, per run: K is
    the learned kind with the lowest wide MSE and N the ratio of the two means."""
    text = read("docs/explicit_implicit.md")
    found = 0
    for steps, srcs in (("2,000", ("explicit_implicit_sinusoid",)), ("4,000", SINUSOID_4000)):
        m = re.search(rf"{steps} steps: known f {SCI} vs best learned \((\w+)\) {SCI}, {NUM}x", text)
        assert m, f"the sinusoid claim at {steps} steps is gone"
        mse = merged_mse(srcs)
        learned = [k for k in ("implicit", "tsf", "mlp", "known_z") if k in mse]
        assert len(learned) == 4, (steps, learned)  # every learned predictor was run
        best = min(learned, key=lambda k: mse[k]["wide"][0])
        assert m.group(2) == best, (steps, m.group(2), best)
        assert agrees(m.group(1), mse["known_f"]["wide"][0]) and agrees(m.group(3), mse[best]["wide"][0])
        assert agrees(m.group(4), mse[best]["wide"][0] / mse["known_f"]["wide"][0]), (steps, m.group(4))
        found += 1
    assert found == 2


def sinusoid_claim_row(start: str) -> str:
    """The row of the sinusoid claims table that starts with ``start``."""
    text = read("docs/explicit_implicit.md")
    text = text[text.index("| model | ours 2,000 steps: ID |"):]  # the sinusoid section's
    block = text[text.index("| claim (paper) | ours | holds? |"):]
    block = block[:block.index("\n\n")]
    rows = [r for r in block.splitlines() if r.startswith(f"| {start}")]
    assert len(rows) == 1, (start, rows)
    return rows[0]


def test_the_sinusoid_probe_claim_is_the_sources():
    """"N steps: probes A..B vs raw context R: Kx" per run: A and B the lowest and highest
    probe MSE of the explicit kinds, R the raw-context probe, K = R / B rounded."""
    row = sinusoid_claim_row("a linear probe of z decodes the latent")
    for steps, srcs in (("2,000", ("explicit_implicit_sinusoid",)), ("4,000", SINUSOID_4000)):
        m = re.search(rf"{steps} steps: probes {SCI}\.\.{SCI} vs raw context {NUM}[^:]*: {NUM}x", row)
        assert m, f"the sinusoid probe claim at {steps} steps is gone"
        mse = merged_mse(srcs)
        probes = [mse[k]["probe"][0] for k in ("tsf", "mlp", "known_z", "known_f")]
        raw = SOURCES[srcs[0]]["raw_context_probe"]["sinusoid"][0]
        for src in srcs:  # the raw-context probe does not depend on the model kinds run
            assert SOURCES[src]["raw_context_probe"]["sinusoid"][0] == raw, src
        assert agrees(m.group(1), min(probes)) and agrees(m.group(2), max(probes)), (steps, m.groups())
        assert agrees(m.group(3), raw) and agrees(m.group(4), raw / max(probes)), (steps, m.groups())


def test_the_sinusoid_bottleneck_claim_is_the_sources():
    """"N steps: none" (or the kinds) for learned bottlenecks better than implicit on both
    ID and wide MSE, per run."""
    row = sinusoid_claim_row("no learned bottleneck")
    for steps, srcs in (("2,000", ("explicit_implicit_sinusoid",)), ("4,000", SINUSOID_4000)):
        m = re.search(rf"{steps} steps: ([a-z_, ]+?)(?: \(|;| \|)", row)
        assert m, f"the sinusoid bottleneck claim at {steps} steps is gone"
        mse = merged_mse(srcs)
        better = [k for k in ("tsf", "mlp", "known_z")
                  if mse[k]["iid"][0] < mse["implicit"]["iid"][0] and mse[k]["wide"][0] < mse["implicit"]["wide"][0]]
        assert m.group(1) == (", ".join(better) or "none"), (steps, m.group(1), better)


# The low-rank MLP table of docs/explicit_implicit.md: per model kind, ours (ID, far, wide,
# probe) then the paper's (the reference's CSVs), "–" where a source has no such number; the
# last row is the raw-context probe.
LOWRANK_COLUMNS = [(f"explicit_implicit_lowrank_mlp|{mse}", metric) for mse in ("mse|lowrank_mlp", "paper|mse|lowrank_mlp")
                   for metric in ("iid", "far", "wide", "probe")]


def test_the_lowrank_mlp_table_is_its_sources():
    text = read("docs/explicit_implicit.md")
    block = text[text.index("| model | ours: ID | far | wide | probe | paper: ID |"):]
    block = block[:block.index("\n\n")]
    src = SOURCES["explicit_implicit_lowrank_mlp"]
    for kind in SINUSOID_KINDS:
        row = re.search(rf"^\| {kind} \|(.*)\|$", block, re.M)
        assert row, f"docs/explicit_implicit.md: no {kind} row in the low-rank MLP table"
        cols = [c.strip() for c in row.group(1).split("|")]
        assert len(cols) == len(LOWRANK_COLUMNS), (kind, cols)
        for text_, (prefix, metric) in zip(cols, LOWRANK_COLUMNS):
            if prefix.endswith("paper|mse|lowrank_mlp") and metric == "probe":
                want = src["paper"]["probe"]["lowrank_mlp"].get(kind, [None])[0]
            else:
                want = source_or_none(f"{prefix}|{kind}|{metric}|0")
            if want is None:
                assert text_ == "–", (kind, prefix, metric, text_)
            else:
                assert agrees(text_, want), f"lowrank_mlp {kind} {prefix} {metric}: {text_} vs {want}"
    raw = re.search(rf"^\| raw-context probe \|\s*\|\s*\|\s*\| {NUM} \|\s*\|\s*\|\s*\| {NUM} \|$", block, re.M)
    assert raw, "no raw-context probe row in the low-rank MLP table"
    assert agrees(raw.group(1), src["raw_context_probe"]["lowrank_mlp"][0])
    assert agrees(raw.group(2), src["paper"]["raw_context_probe"]["lowrank_mlp"][0])


def test_the_lowrank_mlp_paper_numbers_are_the_printed_tables():
    """The paper block of explicit_implicit_lowrank_mlp.json (3 significant digits) is the
    study's printed paper column (study.PAPER, 2 digits) and its probe range (PAPER_PROBE)."""
    from jaxlab.papers.explicit_implicit import study

    paper = SOURCES["explicit_implicit_lowrank_mlp"]["paper"]
    assert set(paper["mse"]["lowrank_mlp"]) == set(SINUSOID_KINDS)
    for kind, triple in study.PAPER["lowrank_mlp"].items():
        for metric, two_digits in zip(("iid", "far", "wide"), triple):
            unit = 10.0 ** (math.floor(math.log10(two_digits)) - 1)
            assert abs(paper["mse"]["lowrank_mlp"][kind][metric][0] - two_digits) <= 0.55 * unit, (kind, metric)
    probes = [v[0] for v in paper["probe"]["lowrank_mlp"].values()]
    lo, hi = study.PAPER_PROBE["lowrank_mlp"][0].split("..")
    assert agrees(lo, min(probes)) and agrees(hi, max(probes))
    assert agrees(str(study.PAPER_PROBE["lowrank_mlp"][1]), paper["raw_context_probe"]["lowrank_mlp"][0])


def test_the_gp_table_is_its_sources():
    """The GP side-by-side table: ours (ID, far, wide) then the paper's (gp_regression.csv),
    and the paper block is the study's printed paper column (study.PAPER, 2 digits)."""
    from jaxlab.papers.explicit_implicit import study

    text = read("docs/explicit_implicit.md")
    block = text[text.index("| model | ours: ID | far | wide | paper: ID | far | wide |"):]
    block = block[:block.index("\n\n")]
    src = SOURCES["explicit_implicit_gp"]
    for kind in ("implicit", "tsf", "mlp"):
        row = re.search(rf"^\| {kind} \|(.*)\|$", block, re.M)
        assert row, f"docs/explicit_implicit.md: no {kind} row in the GP table"
        cols = [c.strip() for c in row.group(1).split("|")]
        want = [src["mse"]["gp"][kind][m][0] for m in ("iid", "far", "wide")]
        want += [src["paper"]["mse"]["gp"][kind][m][0] for m in ("iid", "far", "wide")]
        assert len(cols) == len(want) and all(agrees(t, w) for t, w in zip(cols, want)), (kind, cols, want)
        for metric, two_digits in zip(("iid", "far", "wide"), study.PAPER["gp"][kind]):
            unit = 10.0 ** (math.floor(math.log10(two_digits)) - 1)
            assert abs(src["paper"]["mse"]["gp"][kind][metric][0] - two_digits) <= 0.55 * unit, (kind, metric)


# The bank-size table of docs/simplicity_bias.md (docs/results/simplicity_bias_bank_cpu.json):
# per K, the envelope's first switch, the first drop crossing, and the reference's matched
# pair; "–" where the run found none.
BANK_COLUMNS = ("predicted_switch", "empirical_switch", "matched_predicted", "matched_empirical",
                "final_lines_cross", "K_cue", "K_digit", "l_digit")


BANK_TABLES = [("simplicity_bias_bank_cpu", "| K | predicted switch (first) |", 11),
               ("simplicity_bias_bank_cpu_protocol1", "| K (first protocol) | predicted switch (first) |", 11),
               ("simplicity_bias_bank_cpu_1digit", "| K (one digit per class) | predicted switch (first) |", 6),
               ("+".join(f"simplicity_bias_bank_cpu_1digit_ext{k}" for k in (10, 32, 56, 100, 178, 316)),
                "| K (one digit, N to 65,536) | predicted switch (first) |", 6),
               ("simplicity_bias_bank_cpu_dense+simplicity_bias_bank_cpu_k316_32768_cap12k",
                "| K (added runs) | predicted switch (first) |", 5)]


@pytest.mark.parametrize("name,header,n_points", BANK_TABLES)
def test_the_bank_sweep_table_is_its_source(name, header, n_points):
    text = read("docs/simplicity_bias.md")
    block = text[text.index(header):]
    block = block[:block.index("\n\n")]
    points = [p for n in name.split("+") for p in SOURCES[n]["points"]]
    assert len(points) == n_points
    if name == "simplicity_bias_bank_cpu_protocol1":  # the doc says r is "not defined" for this run
        assert SOURCES[name]["pearson_r"] is None and SOURCES[name]["pearson_r_matched"] is None
    for p in points:
        row = re.search(rf"^\| {p['value']:g} \|(.*)\|$", block, re.M)
        assert row, f"docs/simplicity_bias.md: no row for K = {p['value']:g}"
        cols = [c.strip() for c in row.group(1).split("|")]
        assert len(cols) == len(BANK_COLUMNS), cols
        for text_, key in zip(cols, BANK_COLUMNS):
            if p[key] is None:
                assert text_ == "–", (p["value"], key, text_)
            else:
                assert agrees(text_, p[key]), f"K = {p['value']:g} {key}: {text_} vs {p[key]}"


@pytest.mark.parametrize("prefix,ks", [("combined: ", (178, 316)),
                                        ("with K = 100 also from the scaled-cap run: ", (100, 178, 316)),
                                        ("all from the scaled-cap runs: ", (10, 32, 56, 100, 178, 316))])
def test_the_one_digit_r_with_the_extended_points_is_its_sources(prefix, ks):
    """The doc's r over the one-digit sweep with the K in ``ks`` taken from the extended runs
    (sizes to 65,536, cap 6,000) and the other K from the recorded run: recomputed here from
    the sources' per-point switches with the study's own correlation."""
    import pandas as pd

    from jaxlab.papers.simplicity_bias import study

    ext = [p for k in ks for p in SOURCES[f"simplicity_bias_bank_cpu_1digit_ext{k}"]["points"]]
    new_k = {p["value"] for p in ext}
    old = [p for p in SOURCES["simplicity_bias_bank_cpu_1digit"]["points"] if p["value"] not in new_k]
    pts = pd.DataFrame(old + ext).astype({c: float for c in BANK_COLUMNS[:4]})
    both = lambda a, b, lo=0.0: int((pts[a].notna() & pts[b].notna() & (pts[a] >= lo) & (pts[b] >= lo)).sum())  # noqa: E731
    first, matched = study.correlation(pts), study.correlation(pts, **study.MATCHED)
    text = read("docs/simplicity_bias.md")
    m = re.search(r"\s+".join(map(re.escape, prefix.split())) + rf"\s+\*\*r = {NUM} pairing the first switches\*\* over {NUM} points, "
                  rf"\*\*{NUM} by the closest-pair rule\*\* over {NUM} points", text)
    assert m, f"docs/simplicity_bias.md: the r sentence {prefix!r} is missing"
    for text_, v in zip(m.groups(), (first, both("predicted_switch", "empirical_switch"), matched,
                                     both("matched_predicted", "matched_empirical", 20.0))):
        assert agrees(text_, v), (m.group(0), text_, v)
    src = {p["value"]: p for p in ext}  # the prose's switch N, with thousands separators
    if 178 in ks:
        for phrase in (f"The drops cross at\n  **{src[178.0]['empirical_switch']:,.0f}**; the envelope's digit → cue "
                       f"switch is at {src[178.0]['matched_predicted']:,.0f}",
                       f"The envelope predicts digit → cue at **{src[316.0]['predicted_switch']:,.0f}**"):
            assert phrase in text, phrase
    if 10 in ks:  # the doc says the envelope has no switch at K = 10 and gives the network's
        assert src[10.0]["predicted_switch"] is None and src[10.0]["final_lines_cross"] is None
        assert src[10.0]["K_cue"] < src[10.0]["K_digit"] and src[10.0]["l_cue"] < src[10.0]["l_digit"]
        assert f"its drops cross at\n  **{src[10.0]['empirical_switch']:,.0f}**" in text


def every_k_points(extended: bool = True) -> list[dict]:
    """The bank sweep's points over every K with the default protocol: the 11 paper K of
    :bank_cpu and the 4 added K, with K = 316 from the run extended to 32,768 in place of
    its :bank_cpu point (``extended``) or left out."""
    pts = [p for n in ("simplicity_bias_bank_cpu", "simplicity_bias_bank_cpu_dense")
           for p in SOURCES[n]["points"] if p["value"] != 316]
    return pts + (SOURCES["simplicity_bias_bank_cpu_k316_32768_cap12k"]["points"] if extended else [])


def switch_frame(pts: list[dict], cols: list[str], seed: int | None = None):
    """One row per point, the columns ``cols`` (seed means, or one seed's), None as NaN."""
    import pandas as pd

    get = (lambda p, c: p[c]) if seed is None else (lambda p, c: p["per_seed"][c][seed])
    return pd.DataFrame([[math.nan if get(p, c) is None else get(p, c) for c in cols] for p in pts],
                        columns=cols).astype(float)


@pytest.mark.parametrize("extended", [True, False])
def test_the_bank_r_over_every_k_is_its_sources(extended):
    """The default protocol's r over all bank sizes (the 11 paper K, the 4 added K, and K = 316
    from the run extended to 32,768 in place of its :bank_cpu point, or left out):
    recomputed from the sources' per-point and per-seed switches with the study's own
    correlation, and the verdict's r is this one."""
    from jaxlab.papers.simplicity_bias import study

    pts = every_k_points(extended)
    cols = list(BANK_COLUMNS[:4])
    mean = switch_frame(pts, cols)
    count = lambda f, a, b, lo: int((f[a].notna() & f[b].notna() & (f[a] >= lo) & (f[b] >= lo)).sum())  # noqa: E731
    first, matched = study.correlation(mean), study.correlation(mean, **study.MATCHED)
    n_first = count(mean, *cols[:2], 0.0)
    n_matched = count(mean, *cols[2:], 20.0)
    text = read("docs/simplicity_bias.md")
    m = re.search(rf"\*\*r = {NUM} by the closest-pair rule\*\* over {NUM} points"
                  + (r" \(K = 56, 100, 133, 178, 237,\s+316; per seed " + rf"{NUM}, {NUM}, {NUM} over {NUM} points each\)"
                     if extended else "")
                  + rf" and \*\*r = {NUM}\s+pairing the first\s+switches\*\* over {NUM} points", text)
    assert m, f"docs/simplicity_bias.md: the bank r sentence (extended={extended}) is missing"
    want = [matched, n_matched]
    if extended:
        seeds = [switch_frame(pts, cols, s) for s in range(3)]
        want += [study.correlation(f, **study.MATCHED) for f in seeds]
        n_seed = {count(f, *cols[2:], 20.0) for f in seeds}
        assert len(n_seed) == 1, n_seed  # the doc says "over N points each"
        want += [n_seed.pop()]
    want += [first, n_first]
    assert len(m.groups()) == len(want)
    for text_, v in zip(m.groups(), want):
        assert agrees(text_, v), (m.group(0), text_, v)
    verdict = re.search(rf"r = {NUM} over {NUM} points, every seed ≥ {NUM}; {NUM} over {NUM}\s+without", text)
    assert verdict, "docs/simplicity_bias.md: the verdict's r is missing"
    if not extended:
        assert agrees(verdict.group(4), matched) and agrees(verdict.group(5), n_matched)
    if extended:
        firsts = re.search(r"\(per seed (\S+), (\S+), (\S+)\)\. With K = 316 left out", text)
        assert firsts, "docs/simplicity_bias.md: the per-seed first-switch r is missing"
        for text_, f in zip(firsts.groups(), seeds):
            assert agrees(text_, study.correlation(f)), (text_, study.correlation(f))
        assert agrees(verdict.group(1), matched) and agrees(verdict.group(2), n_matched)
        assert min(want[2:5]) >= float(verdict.group(3))
        conf = re.search(rf"N = 32,768,\s+{NUM} by closest pairs over {NUM} points", read("configs/simplicity_bias.py"))
        assert conf and agrees(conf.group(1), matched) and agrees(conf.group(2), n_matched)


@pytest.mark.parametrize("family", CLS_FAMILIES)
def test_the_classification_paper_numbers_are_the_printed_tables(family):
    """The paper block of explicit_implicit_<family>.json (the reference CSVs' seed means, 4
    decimals) is study.PAPER_ACC, which the study prints beside its accuracies."""
    from jaxlab.papers.explicit_implicit import study

    paper = SOURCES[f"explicit_implicit_{family}"]["paper"]["mse"][family]
    assert set(paper) == set(study.PAPER_ACC[family]) == set(SINUSOID_KINDS)
    for kind, triple in study.PAPER_ACC[family].items():
        assert [paper[kind][m][0] for m in ("acc_iid", "acc_far", "acc_wide")] == list(triple), kind


def test_the_sinusoid_ablation_table_is_its_sources():
    """docs/icl_occam.md's sinusoid ablation: every cell of each row against
    docs/results/icl_occam_sinusoid_abl_<run>.json, the ratio recomputed from the two
    errors it divides, the wall time from the run's manifest."""
    doc = read("docs/icl_occam.md")
    for run in ("base", "pool10k", "refopt", "steps3000", "d128"):
        row = re.search(rf"\n\| {run} \| [^|]* \| {NUM} \| {NUM} \| {NUM} \| {NUM} \| {NUM} \| "
                        rf"{NUM} / {NUM} \| {NUM} min \|", doc)
        assert row, run
        src = f"icl_occam_sinusoid_abl_{run}"
        g = lambda learner, n: value(f"{src}.gen_error.{learner}.{n}.0")
        expected = [g("prequential", 1), g("train", 1), g("train", 1) / g("prequential", 1),
                    g("prequential", 100), g("train", 100),
                    value(f"{src}.code_length_5.prequential.0"), value(f"{src}.code_length_5.train.0"),
                    value((f"{src}.measured.wall_s", 60))]
        for text, source in zip(row.groups(), expected):
            assert agrees(text, source), (run, text, source)


def test_the_c3_trend_table_is_its_source():
    """docs/icl_occam.md's C3-against-budget table: each cell of the 250 / 500 / 1,000-step
    columns (mean ± std) against docs/results/icl_occam_trend.json, the bold cell of each
    budget the lowest mean of its task, and the wall time the run's manifest."""
    doc = read("docs/icl_occam.md").split("**C3 against the training budget**")[1]
    members = SOURCES["icl_occam_trend"]["members"]
    cell = rf"\*?\*?{NUM} ± {NUM}\*?\*?"
    loose = r"\*?\*?[\d.]+ ± [\d.]+\*?\*?"
    rows = re.findall(rf"\n\| (Mastermind|sinusoid) \| (explicit|implicit|mamba) \| ({loose}) \| ({loose}) \| ({loose}) \|", doc)
    assert len(rows) == 6
    for task, kind, *cells in rows:
        for steps, text in zip((250, 500, 1000), cells):
            mean, std = members[f"{task.lower()}_{kind}@{steps}"]["code_length_5"]["prequential"]
            got = re.fullmatch(cell, text).groups()
            assert agrees(got[0], mean) and agrees(got[1], std), (task, kind, steps, text)
            best = min(m["code_length_5"]["prequential"][0] for m in members.values()
                       if m["family"] == task.lower() and m["steps"] == steps)
            assert text.startswith("**") == (mean == best), (task, kind, steps, text)
    assert "94 min wall" in doc and round(SOURCES["icl_occam_trend"]["measured"]["wall_s"] / 60) == 94


def test_the_zdim_table_is_its_source():
    """docs/explicit_implicit.md's z-dimension table: our ID and wide cells against
    docs/results/explicit_implicit_zdim.json, the paper's against the CSV means kept there."""
    doc = read("docs/explicit_implicit.md")
    src = SOURCES["explicit_implicit_zdim"]
    rows = re.findall(rf"\n\| (\d+) \| {SCI} \| {NUM} ± {NUM} \| {SCI} / {NUM} \| {SCI} \| {NUM} ± {NUM} \| "
                      rf"{SCI} / {NUM} \|", doc)
    assert [r[0] for r in rows] == ["2", "4", "16", "64", "256"]
    for z, *cells in rows:
        for kind, (iid, wide, wide_std, p_iid, p_wide) in (("tsf", cells[:5]), ("mlp", cells[5:])):
            ours = src["table"][kind][z]
            digits = len(iid.split("e")[0].split(".")[1])
            assert f"{ours['iid'][0]:.{digits}e}" == iid and agrees(wide, ours["wide"][0]), (z, kind)
            assert agrees(wide_std, ours["wide"][1]), (z, kind)
            assert float(p_iid) == src["paper"][kind][z][0] and agrees(p_wide, src["paper"][kind][z][1])


def test_the_metahmm_width_trend_table_is_its_sources():
    """docs/metahmm.md's model-size table: each width's KL cells, ratio and excess code length
    against its run's file (width 64: the 900-step stage of the small,hour run)."""
    doc = read("docs/metahmm.md")
    rows = re.findall(rf"\n  \| (\d+) \(([\d,]+)\) \| {NUM} \| {NUM} \| {NUM} \| {NUM} \| {NUM} \| {NUM} \| {NUM} \|", doc)
    assert [r[0] for r in rows] == ["16", "32", "64"]
    for width, params, *cells in rows:
        src = SOURCES["metahmm_small_hour" if width == "64" else f"metahmm_small_hour_w{width}"]
        gpt = src["gpt"]["gpt@900" if width == "64" else "gpt"]
        assert gpt["steps"] == 900
        kl = [gpt["kl"][t][0] for t in ("0", "5", "8", "16", "199")]
        expected = [*kl, kl[4] / kl[1], gpt["excess_code_length"][0]]
        assert int(params.replace(",", "")) == src["n_params"]
        for text, source in zip(cells, expected):
            assert agrees(text, source), (width, text, source)


def test_the_spur_prob_sweep_table_is_its_source():
    """docs/simplicity_bias.md's Scenario A rows of the `:full` run: each point's predicted
    and empirical switch, their ratio and the per-sample crossing against
    docs/results/simplicity_bias_full.json ("–" where the run found none)."""
    text = read("docs/simplicity_bias.md")
    block = text[text.index("| spur_prob | predicted (envelope) |"):]
    block = block[:block.index("\n\n")]
    points = [p for p in SOURCES["simplicity_bias_full"]["points"] if p["field"] == "spur_prob"]
    assert len(points) == 16
    for p in points:
        row = re.search(rf"^\| {p['value']:g} \|(.*)\|$", block, re.M)
        assert row, p["value"]
        cells = [c.strip() for c in row.group(1).split("|")]
        for text_, want in zip(cells, (p["predicted_switch"], p["empirical_switch"], p["ratio"], p["loss_cross"])):
            if want is None:
                assert text_ == "–", (p["value"], text_)
            else:
                assert agrees(text_, want), (p["value"], text_, want)


def test_the_clipped_envelope_section_is_its_sources():
    """docs/simplicity_bias.md's section on the envelope with the curves clipped at chance:
    Scenario A's ratios per run, the Scenario B table and r over every K (the same sources
    and K = 316 choice as the reference-rule r above), and the `:full` run's r per sweep,
    all recomputed from docs/results/*.json with the study's own correlation."""
    import pandas as pd

    from jaxlab.papers.simplicity_bias import study

    text = read("docs/simplicity_bias.md")
    block = text[text.index("### The envelope with the curves clipped at chance"):]
    block = block[:block.index("\n### ")]
    ratio = lambda name, col: SOURCES[name]["points"][0][col] / SOURCES[name]["points"][0]["empirical_switch"]  # noqa: E731
    runs = ("simplicity_bias", "simplicity_bias_6seeds", "simplicity_bias_4096", "simplicity_bias_4096_6seeds",
            "simplicity_bias_4096_h256")
    m = re.search(rf"\*\*{NUM}\*\* for the default \({NUM} against {NUM}\), {NUM} with 6 seeds, {NUM} and {NUM} for\s+"
                  rf"the 4,096 grids with 3 and 6 seeds, {NUM} at width 256. The reference's rule gives {NUM},\s+"
                  rf"{NUM}, {NUM}, {NUM} and {NUM} for the same runs", block)
    assert m, "the Scenario A ratios are missing"
    default = SOURCES["simplicity_bias"]["points"][0]
    want = ([ratio(runs[0], "predicted_capped"), default["predicted_capped"], default["empirical_switch"]]
            + [ratio(r, "predicted_capped") for r in runs[1:]] + [ratio(r, "predicted_switch") for r in runs])
    for text_, v in zip(m.groups(), want):
        assert agrees(text_, v), (text_, v)
    assert sum(ratio(r, "predicted_capped") <= 3 for r in runs) == 4  # "four of the five runs"

    pts = every_k_points()
    rows = 0
    for p in pts:
        row = re.search(rf"^\| {p['value']:g} \| (\S+) \| (\S+) \| (\S+) \|$", block, re.M)
        if p["empirical_switch"] is None:
            assert row is None, p["value"]
            continue
        rows += 1
        assert row, f"no clipped-envelope row for K = {p['value']:g}"
        assert agrees(row.group(1), p["empirical_switch"])
        if p["matched_predicted_capped"] is None:
            assert row.group(2) == row.group(3) == "–"
        else:
            assert p["matched_empirical_capped"] == p["empirical_switch"]  # the table's one network column
            assert agrees(row.group(2), p["matched_predicted_capped"])
            assert agrees(row.group(3), p["matched_predicted_capped"] / p["empirical_switch"])
    assert rows == 11
    cols = ["predicted_capped", "empirical_switch", "matched_predicted_capped", "matched_empirical_capped"]
    mean = switch_frame(pts, cols)
    seeds = [switch_frame(pts, cols, s) for s in range(3)]
    n_of = lambda f: int(((f.matched_predicted_capped >= 20) & (f.matched_empirical_capped >= 20)).sum())  # noqa: E731
    m = re.search(rf"\*\*r = {NUM} by the closest-pair rule over {NUM} points\*\*\s+\(per seed {NUM}, {NUM}, {NUM} "
                  rf"over {NUM} points each\)", block)
    assert m, "the clipped r over K is missing"
    assert {n_of(f) for f in seeds} == {int(m.group(6))}
    want = [study.correlation(mean, **study.MATCHED_CAPPED), n_of(mean)] + [
        study.correlation(f, **study.MATCHED_CAPPED) for f in seeds]
    for text_, v in zip(m.groups(), want):
        assert agrees(text_, v), (text_, v)
    first = re.search(rf"\*\*Pairing the first switches it is {NUM}\*\*", block)
    assert first and agrees(first.group(1), study.correlation(mean, predicted="predicted_capped"))

    full = SOURCES["simplicity_bias_full"]
    sweep = full["per_sweep"]
    m = re.search(rf"A over spur_prob {NUM} → {NUM} \({NUM} points each\), \*\*B over flip_prob {NUM}\s+→ {NUM}\*\* "
                  rf"\({NUM} → {NUM} points\), B over K {NUM} → {NUM} \({NUM} points each\), all 43 points "
                  rf"\*\*{NUM}\s+→ {NUM}\*\* \({NUM} → {NUM} points; per seed {NUM} and {NUM}\)", block)
    assert m, "the :full per-sweep clipped r is missing"
    allp = pd.DataFrame(full["points"]).astype({c: float for c in ("matched_predicted", "matched_empirical", *cols[2:])})
    n_all = lambda p, e: int(((allp[p] >= 20) & (allp[e] >= 20)).sum())  # noqa: E731
    want = [sweep["A_spur"]["r_matched"], sweep["A_spur"]["r_matched_capped"], sweep["A_spur"]["n_matched_capped"],
            sweep["B_flip"]["r_matched"], sweep["B_flip"]["r_matched_capped"], sweep["B_flip"]["n_matched"],
            sweep["B_flip"]["n_matched_capped"], sweep["B_bank"]["r_matched"], sweep["B_bank"]["r_matched_capped"],
            sweep["B_bank"]["n_matched_capped"], full["pearson_r_matched"], full["pearson_r_matched_capped"],
            n_all("matched_predicted", "matched_empirical"), n_all(*cols[2:])] + full["pearson_r_matched_capped_per_seed"]
    for text_, v in zip(m.groups(), want):
        assert agrees(text_, v), (text_, v)
    assert sweep["A_spur"]["n_matched"] == sweep["A_spur"]["n_matched_capped"]
    assert sweep["B_bank"]["n_matched"] == sweep["B_bank"]["n_matched_capped"]
    spur = [p for p in full["points"] if p["field"] == "spur_prob" and p["empirical_switch"] is not None
            and p["predicted_switch"] is not None]
    m = re.search(rf"the ratios fall from {NUM}–{NUM}× to {NUM}–{NUM}×", block)
    raw = [p["predicted_switch"] / p["empirical_switch"] for p in spur]
    clipped = [p["predicted_capped"] / p["empirical_switch"] for p in spur]
    assert m and all(agrees(t_, v) for t_, v in zip(m.groups(), (min(raw), max(raw), min(clipped), max(clipped))))
