"""``jaxlab bench --quick`` runs and writes every documented key. No speed is asserted; what
is asserted holds on any machine: measured rates are physically possible, FLOP fractions
are in (0, 1], every ratio agrees with the two times it is the ratio of (each written
under its own key), step counts lie within the fits' epoch budget, and a re-run that finds
the persistent compilation cache compiles faster than a cold start."""
import json
import math
import os

import pytest

from jaxlab import cli
from jaxlab import config as config_lib
from jaxlab.papers.icl_occam.bench import CONFIG

pytestmark = pytest.mark.e2e

KEYS = {"seed_parallel_speedup", "train_step_flops_fraction", "compile_s", "warm_start_s",
        "sgd_fits_per_s", "sgd_vs_step_loop", "sgd_vs_jitted_fit_loop", "sgd_flops_fraction",
        "mastermind_oracle_episodes_per_s", "ref_config_ms_per_step_1_seed",
        "ref_config_ms_per_seed_step_8_seeds", "matmul_peak_gflops", "cli_overhead",
        "sgd_ref_ms_per_fit_step", "sgd_ref_flops_fraction", "sgd_ref_lane_occupancy"}

# float32 FLOPs per cycle per core: 2 FMA units x 16 lanes (AVX-512) x 2; 6 GHz clock.
MAX_GFLOPS_PER_CORE = 64 * 6.0


def test_bench_quick_writes_bench_json(tmp_path, capsys):
    assert cli.main(["bench", "--workdir", str(tmp_path), "--quick"]) == 0
    r = json.loads((tmp_path / "bench.json").read_text())
    assert KEYS <= set(r)
    assert "seed_parallel_speedup" in capsys.readouterr().out
    approx = lambda x: pytest.approx(x, rel=1e-6)

    # A timing that missed the computation (not blocked until ready) shows as an impossible
    # rate: above the cores' peak, or a fraction of the matmul peak above 1.
    peak = r["matmul_peak_gflops"]
    assert 0 < peak <= os.cpu_count() * MAX_GFLOPS_PER_CORE, r
    for key in ("train_step_flops_fraction", "sgd_flops_fraction", "sgd_ref_flops_fraction"):
        assert 0 < r[key] <= 1, (key, r[key])

    # Ratios against the times they come from (written separately).
    assert r["seed_parallel_speedup"] == approx(r["ms_per_seed_step_loop"]
                                                / r["ms_per_seed_step_one_program"])
    assert r["train_step_gflops"] == approx(r["train_step_flops_fraction"] * peak)
    # FLOP/s = FLOPs of one 8-seed step / (8 x the time of one seed-step).
    assert r["train_step_gflops"] == approx(r["train_step_gflop_8_seeds"] * 1e3
                                            / (8 * r["ms_per_seed_step_one_program"]))
    # (loop time / vectorized time) / (loop time / time at peak) = FLOP/s / peak.
    assert r["sgd_vs_jitted_fit_loop"] / r["sgd_vs_jitted_fit_loop_at_peak"] == approx(
        r["sgd_flops_fraction"])
    assert r["mamba_associative_vs_sequential_scan"] == approx(
        r["ms_per_seed_step_mamba_associative_scan"] / r["ms_per_seed_step_mamba"])
    assert r["ref_config_1_seed_vs_padded_layout"] == approx(
        r["ref_config_ms_per_step_1_seed_padded_layout"] / r["ref_config_ms_per_step_1_seed"])
    assert json.loads(r["ref_config_layout_1_seed"])["padded_runs"] == 0
    # The median chunk is never faster than the fastest (a swapped statistic would be).
    assert r["ref_config_ms_per_step_1_seed_fastest"] <= r["ref_config_ms_per_step_1_seed"]
    assert (r["ref_config_ms_per_seed_step_8_seeds_fastest"]
            <= r["ref_config_ms_per_seed_step_8_seeds"])
    assert r["sgd_ref_ms_per_fit_step"] == approx(r["sgd_ref_s"] / r["sgd_ref_total_steps"] * 1e3)
    assert r["sgd_ref_n_fits"] <= r["sgd_ref_total_steps"]
    assert 0 < r["sgd_ref_lane_occupancy"] <= 1  # steps never exceed the lane-steps run
    assert r["cli_overhead"] == approx(r["cli_ms_per_step_run"] / r["cli_ms_per_step_program"])
    assert r["emergent_prequential_speedup"] == approx(r["emergent_prequential_loop_s"]
                                                       / r["emergent_prequential_one_program_s"])

    # Every SGD fit takes at least one step and at most max_epochs epochs of
    # ceil(n_train / batch_size) steps; the two layouts stop most fits at the same step.
    sgd = config_lib.load(CONFIG + ":smoke").sgd
    steps_per_epoch = math.ceil(max(sgd.sizes) * sgd.train_fraction / sgd.batch_size)
    n_fits = r["sgd_n_fits"]
    assert n_fits <= r["sgd_total_steps"] <= n_fits * sgd.max_epochs * steps_per_epoch
    assert 0.5 <= r["sgd_same_stop_fraction"] <= 1

    # The warm re-run loads its programs from the persistent cache: far less compiling.
    assert r["warm_compile_s"] < r["compile_s"] and r["warm_start_s"] < r["cold_start_s"], r
