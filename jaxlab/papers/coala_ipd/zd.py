"""Zero-determinant (ZD) strategies of the IPD (Press & Dyson 2012) and a fit of a policy
to them.

A memory-one player X with cooperation probabilities p = (p_CC, p_CD, p_DC, p_DD) (own
action first) is ZD with extortion factor chi when

    (p_CC - 1, p_CD - 1, p_DC, p_DD) = phi * [(S_X - P) - chi * (S_Y - P)]

for some phi > 0, with S_X = (R, S, T, P) and S_Y = (R, T, S, P) the two players' payoffs
in the four states. Such a player enforces s_X - P = chi (s_Y - P) on the average payoffs
against any co-player: chi > 1 extorts (X takes chi times the co-player's surplus over
mutual defection), chi = 1 is fair (tit-for-tat is the limit).
"""
from __future__ import annotations

import numpy as np

from jaxlab.papers.coala_ipd import ipd

A = np.array([ipd.R, ipd.S, ipd.T, ipd.P]) - ipd.P   # S_X - P = (1, -1, 2, 0)
B = np.array([ipd.R, ipd.T, ipd.S, ipd.P]) - ipd.P   # S_Y - P = (1, 2, -1, 0)
SHIFT = np.array([1.0, 1.0, 0.0, 0.0])


def zd_policy(chi: float, phi: float) -> np.ndarray:
    """The ZD strategy's (p_CC, p_CD, p_DC, p_DD) (probabilities only for small phi)."""
    return SHIFT + phi * (A - chi * B)


def fit_extortion(p: np.ndarray) -> tuple[float, float, float]:
    """Least-squares ZD fit of cooperation probabilities p (4,) in (CC, CD, DC, DD):
    (chi, phi, rms residual). chi = nan when the fitted phi is ~0 (no ZD structure)."""
    y = np.asarray(p, np.float64) - SHIFT
    design = np.stack([A, -B], axis=1)                  # y = phi * A - psi * B
    (phi, psi), *_ = np.linalg.lstsq(design, y, rcond=None)
    resid = float(np.sqrt(np.mean((design @ np.array([phi, psi]) - y) ** 2)))
    chi = psi / phi if abs(phi) > 1e-6 else float("nan")
    return float(chi), float(phi), resid


def surplus_ratio(r_agent: float, r_other: float) -> float:
    """(r_agent - P) / (r_other - P): the extortion factor realised by the payoffs."""
    return (r_agent - ipd.P) / (r_other - ipd.P) if r_other - ipd.P > 1e-6 else float("nan")
