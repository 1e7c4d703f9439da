"""The worked example of docs/coding.md runs and says what the page says."""
import os
import re

import numpy as np
import pytest

from conftest import ROOT

pytestmark = pytest.mark.e2e


def test_coding_worked_example():
    text = open(os.path.join(ROOT, "docs", "coding.md")).read()
    code = re.search(r"```python\n(.*?)```", text, re.S).group(1)
    scope: dict = {}
    exec(compile(code.replace("print(", "(lambda *a: None)("), "coding.md", "exec"), scope)
    c = scope["code"]
    np.testing.assert_array_equal(scope["bounds"], [10, 19, 37, 71, 136, 261, 500])
    naive = float(scope["lattice"].naive_lattice_code(scope["y"][:500], 0.01))
    assert float(c.k_data) < 0.7 * naive
    assert np.all(np.asarray(c.block_costs[1:]) <= np.asarray(c.block_naive[1:]) + 1e-3)
