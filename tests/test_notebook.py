"""Every paper's notebook runs top to bottom on that paper's smoke results and draws its
figures; the workdir comes from JAXLAB_WORKDIR, as a user sets it."""
import os

import nbformat
import pytest
from nbclient import NotebookClient

from conftest import ROOT

pytestmark = pytest.mark.e2e

# notebook -> (config, variant, figures it must draw at least)
CASES = {
    "icl_occam": [("icl_occam", "smoke", 2)],
    "compositionality": [("compositionality", "smoke", 2), ("compositionality", "emergent,smoke", 2)],
    "metahmm": [("metahmm", "smoke", 3)],
    "example_sine": [("example_sine", "smoke", 1)],
    "inductive_bias": [("inductive_bias", "smoke", 4)],
    "coala_ipd": [("coala_ipd", "smoke", 3)],
    "explicit_implicit": [("explicit_implicit", "smoke", 4)],
    "simplicity_bias": [("simplicity_bias", "smoke", 4)],
}


def execute(notebook: str, workdir: str, monkeypatch) -> list:
    monkeypatch.setenv("JAXLAB_WORKDIR", workdir)
    nb = nbformat.read(os.path.join(ROOT, "notebooks", f"{notebook}.ipynb"), as_version=4)
    NotebookClient(nb, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": os.path.join(ROOT, "notebooks")}}).execute()
    return [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]


def test_every_paper_has_a_notebook():
    packages = sorted(d for d in os.listdir(os.path.join(ROOT, "jaxlab", "papers"))
                      if os.path.isfile(os.path.join(ROOT, "jaxlab", "papers", d, "__init__.py")))
    assert sorted(CASES) == packages
    for name in packages:
        assert os.path.exists(os.path.join(ROOT, "notebooks", f"{name}.ipynb")), name


@pytest.mark.parametrize("notebook,config,variant,figures",
                         [(nb, *case) for nb, cases in CASES.items() for case in cases])
def test_notebook_redraws_the_figures(notebook, config, variant, figures, smoke_runs, monkeypatch):
    outputs = execute(notebook, smoke_runs(config, variant).workdir, monkeypatch)
    errors = [f"{o.ename}: {o.evalue}" for o in outputs if o.output_type == "error"]
    assert not errors, errors
    images = sum("image/png" in o.get("data", {}) for o in outputs)
    assert images >= figures, f"{notebook} on {variant}: {images} figures"
