"""The explicit/implicit study's z-dimension sweep, combined: reads the root of

    jaxlab sweep configs/explicit_implicit.py --workdir ROOT \
        --axis model.z_dim=2,4,16,64,256 --config.model.kinds="('tsf', 'mlp')"

and writes ROOT/zdim.png (ID and wide MSE against z_dim) and ROOT/zdim.txt (the table).

    python scripts/ei_zdim_figure.py ROOT [--partial]

``--partial`` combines the finished jobs only (an unfinished sweep otherwise is an error).
"""
from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from jaxlab import results  # noqa: E402
from jaxlab.papers.explicit_implicit import figures  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", help="the sweep root (holds sweep.json)")
    parser.add_argument("--partial", action="store_true", help="combine the finished jobs only")
    args = parser.parse_args(argv)
    try:
        res = results.load(args.root, partial=args.partial)
        text = figures.write_zdim(res.summary, os.path.join(args.root, "zdim.png"))
    except (FileNotFoundError, ValueError) as e:
        print(f"ei_zdim_figure: {e}", file=sys.stderr)
        return 1
    results.atomic_write_text(os.path.join(args.root, "zdim.txt"), text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
