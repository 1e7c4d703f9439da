"""Re-runs the simplicity-bias analysis of a finished workdir from its ``fits`` table, so a
run recorded before the analysis gained a column (``loss_cross``, the clipped envelope's
``*_capped``) gets it without training again.

    python scripts/simplicity_bias_reanalyse.py WORKDIR [WORKDIR ...]

Rewrites ``summary``, ``seeds``, ``table.txt`` and ``figure.png`` in place with the
current ``study.summarize`` (the fits, the config and the manifest are left as they are);
then ``scripts/record_results.py WORKDIR`` records them. A workdir that has not finished
is refused with its status.
"""
from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from jaxlab import results  # noqa: E402
from jaxlab.papers.simplicity_bias import report, study  # noqa: E402


def reanalyse(workdir: str) -> None:
    res = results.load(workdir)
    if res.config.get("study") != "simplicity_bias" or "fits" not in res.tables:
        raise SystemExit(f"{workdir}: not a simplicity_bias workdir (no fits table)")
    df = res.tables["fits"]
    summary, seeds = study.summarize(df, res.config)
    results.write_table(workdir, "summary", summary)
    results.write_table(workdir, "seeds", seeds)
    report.write(workdir, df, summary, seeds, res.config)
    print(f"{workdir}: summary, seeds, table.txt, figure.png rewritten")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    for wd in sys.argv[1:]:
        try:
            reanalyse(wd)
        except FileNotFoundError as e:
            raise SystemExit(f"{wd}: {e}")
