#!/usr/bin/env bash
# Reproduces every number of docs/icl_occam.md and the README's performance table on a
# 2-core CPU (about 30 minutes); writes docs/results/icl_occam.json: linear regression, sinusoid, Mastermind, the benchmark.
set -euo pipefail
out=${1:-runs}
jaxlab run configs/icl_occam.py --workdir "$out/icl_occam"
# the README's, the docs' and the docstring's numbers come from this file (tests/test_numbers.py)
python "$(dirname "$0")/record_results.py" "$out/icl_occam"
jaxlab run configs/icl_occam.py:sinusoid --workdir "$out/icl_occam_sinusoid"
jaxlab run configs/icl_occam.py:mastermind --workdir "$out/icl_occam_mastermind"
jaxlab bench --workdir "$out/bench"
