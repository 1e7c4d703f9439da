"""The contract every registered paper meets, checked by being registered.

For each paper of ``jaxlab.papers.REGISTRY``, on ``configs/<name>.py:smoke`` (plus the
paper's optional ``CONTRACT_OVERRIDES``, which only shrink it):
  * a bad engine field is a one-line ConfigError naming it, and nothing is written;
  * a run asked to stop after its first chunk (what SIGTERM does) returns None, and the
    same call resumes it to tables equal to an uninterrupted run's.
And for a multi-phase paper (MetaHMM: lm, decoder, posterior): stopped inside its second
phase on 2 devices, it resumes on 1 device to the same tables.
"""
import os
import subprocess
import sys

import pandas as pd
import pytest

from conftest import ROOT
from scale_helpers import env_with_devices
from jaxlab import config as config_lib
from jaxlab import papers
from jaxlab.config import ConfigError

pytestmark = pytest.mark.e2e


def contract_config(name: str, *extra: str):
    paper = papers.get(name)
    spec = os.path.join(ROOT, "configs", f"{name}.py") + ":smoke"
    return config_lib.load(spec, [*getattr(paper, "CONTRACT_OVERRIDES", ()), *extra])


def reference(name: str, smoke_runs):
    """The paper's contract run, uninterrupted, once per session (shared with the other
    tests that use the paper's smoke run, e.g. its notebook's)."""
    return smoke_runs(name, "smoke", *getattr(papers.get(name), "CONTRACT_OVERRIDES", ()))


def same_tables(got, want, rtol: float = 1e-6, atol: float = 1e-9) -> None:
    assert set(got.tables) == set(want.tables)
    for table in want.tables:
        pd.testing.assert_frame_equal(got.tables[table], want.tables[table], check_exact=False,
                                      rtol=rtol, atol=atol, obj=table)


@pytest.mark.parametrize("name", papers.names())
def test_a_bad_engine_field_is_one_line_and_writes_nothing(name, tmp_path):
    workdir = tmp_path / "w"
    config = contract_config(name, "--config.executor.kind=bogus")
    with pytest.raises(ConfigError) as err:
        papers.run(config, str(workdir), progress=False)
    assert "config.executor.kind" in str(err.value) and "\n" not in str(err.value)
    assert not workdir.exists()


@pytest.mark.parametrize("name", papers.names())
def test_stopped_after_one_chunk_then_resumed_equals_uninterrupted(name, tmp_path, smoke_runs):
    want = reference(name, smoke_runs)
    workdir = str(tmp_path / "w")
    assert papers.run(contract_config(name), workdir, progress=False,
                      should_stop=lambda chunks: chunks >= 1) is None
    same_tables(papers.run(contract_config(name), workdir, progress=False), want)


STOP_IN_SECOND_PHASE = r"""
import sys
import jax
from jaxlab import config as config_lib, papers
assert jax.device_count() == 2
config = config_lib.load(sys.argv[1], sys.argv[3:])
# lm: 2 chunks, then 1 of the decoder's 2 chunks
assert papers.run(config, sys.argv[2], progress=False, should_stop=lambda c: c >= 3) is None
"""


def test_a_multi_phase_paper_stopped_on_two_devices_resumes_on_one(tmp_path):
    spec = os.path.join(ROOT, "configs", "metahmm.py") + ":smoke"
    overrides = ["--config.sweep.n_seeds=3", "--config.mc.decoder_steps=20"]  # 3 runs padded to 4
    config = config_lib.load(spec, overrides)
    want = papers.run(config, str(tmp_path / "one"), progress=False)
    workdir = str(tmp_path / "two")
    out = subprocess.run([sys.executable, "-c", STOP_IN_SECOND_PHASE, spec, workdir, *overrides], cwd=ROOT,
                         env=env_with_devices(2), capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    assert sorted(os.listdir(os.path.join(workdir, "checkpoints"))) == ["decoder", "lm"]
    got = papers.run(config, workdir, progress=False)  # this process: 1 device
    assert got.manifest["devices"] == 1
    # Another device count is another XLA program: float sums round differently (KL
    # values of ~0.02 agree to ~1e-5 relative); a wrong restore differs by far more.
    same_tables(got, want, rtol=1e-4, atol=1e-6)
