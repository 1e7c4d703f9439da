"""The z-dimension sweep's combination (scripts/ei_zdim_figure.py): the table and figure
from a sweep's summary, and a clear refusal of a root that is not a z_dim sweep."""
import os

import pandas as pd
import pytest

from jaxlab.papers.explicit_implicit import figures


def _summary() -> pd.DataFrame:
    """Two z values x 2 seeds of tsf; ID MSE = z/1000 + seed/1000, wide = 10x ID."""
    rows = []
    for z in (2, 8):
        for seed in (0, 1):
            iid = (z + seed) / 1000
            for metric, value in (("iid", iid), ("wide", 10 * iid), ("far", 99.0)):
                rows.append({"job": f"j{z}", figures.Z_FIELD: z, "family": "linear", "kind": "tsf",
                             "seed": seed, "step": 100, "metric": metric, "value": value})
    return pd.DataFrame(rows)


def test_the_table_holds_each_z_dims_seed_mean_and_spread():
    table = figures.zdim_table(_summary())
    assert list(table.z_dim) == [2, 8]
    row = table[table.z_dim == 8].iloc[0]
    assert row.iid == pytest.approx(0.0085) and row.iid_std == pytest.approx(0.0005)
    assert row.wide == pytest.approx(0.085) and row.wide_std == pytest.approx(0.005)


def test_the_figure_and_text_are_written(tmp_path):
    text = figures.write_zdim(_summary(), str(tmp_path / "zdim.png"))
    assert os.path.getsize(tmp_path / "zdim.png") > 10_000
    assert "8.500e-03" in text and "8.500e-02" in text and "99" not in text


def test_a_summary_without_the_swept_column_is_refused_by_name():
    with pytest.raises(ValueError, match="model.z_dim"):
        figures.zdim_table(_summary().drop(columns=figures.Z_FIELD))
