"""``jaxlab bench --quick`` runs and writes every documented key (no speed is asserted)."""
import json

from jaxlab import cli

KEYS = {"seed_parallel_speedup", "train_step_flops_fraction", "compile_s", "warm_start_s",
        "sgd_fits_per_s", "sgd_vs_step_loop", "sgd_vs_jitted_fit_loop", "sgd_flops_fraction",
        "mastermind_oracle_episodes_per_s",
        "matmul_peak_gflops"}


def test_bench_quick_writes_bench_json(tmp_path, capsys):
    assert cli.main(["bench", "--workdir", str(tmp_path), "--quick"]) == 0
    result = json.loads((tmp_path / "bench.json").read_text())
    assert KEYS <= set(result)
    assert all(result[k] > 0 for k in KEYS)
    assert "seed_parallel_speedup" in capsys.readouterr().out
