"""The analysis notebook runs top to bottom on the smoke results."""
import os

import nbformat
from nbclient import NotebookClient
import pytest

from conftest import ROOT

pytestmark = pytest.mark.e2e


def test_notebook_redraws_the_figure(smoke_results, monkeypatch):
    monkeypatch.setenv("JAXLAB_WORKDIR", smoke_results.workdir)
    nb = nbformat.read(os.path.join(ROOT, "notebooks", "icl_occam.ipynb"), as_version=4)
    NotebookClient(nb, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": os.path.join(ROOT, "notebooks")}}).execute()
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]
    errors = [f"{o.ename}: {o.evalue}" for o in outputs if o.output_type == "error"]
    assert not errors, errors
    assert any("image/png" in o.get("data", {}) for o in outputs)
