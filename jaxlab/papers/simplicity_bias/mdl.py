"""Two-part code lengths from learning curves: K(p), the lines J_f(N) = K_f + N l_f, the
lower envelope and its switch points (numpy; a curve is a few dozen points).

Conventions (the reference's ``source/utils/notebook_helpers.py`` and ``eval_helper.py``):
  * K(p) = trapezoid area under the test-loss-vs-N curve minus (asymptotic loss x width),
    the curve truncated at the first index i >= min_points - 1 where |loss[i] - loss[i-1]|
    < abs_delta (at least ``min_points`` points kept), the asymptote being the loss at the
    cut; clipped at 0. Units: those of the loss (nats) x samples = nats.
  * a partially learned model at size n (between grid points by linear interpolation in n)
    costs K(n) = area up to n - loss(n) (n - n_0), and codes each sample of the original
    distribution at slope l(n).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np


class KResult(NamedTuple):
    k: float  # nats, >= 0
    cut: int  # index of the last point integrated
    area: float
    asymptote: float
    width: float


def k_of_curve(n: np.ndarray, loss: np.ndarray, abs_delta: float = 5e-5,
               min_points: int = 5) -> KResult:
    """K(p) of the learning curve ``loss`` (nats) at sizes ``n`` (ascending), truncated."""
    n, loss = np.asarray(n, float), np.asarray(loss, float)
    if len(n) < 2:
        return KResult(0.0, 0, 0.0, float(loss[-1]), 0.0)
    cut = len(loss) - 1
    for i in range(max(1, min_points - 1), len(loss)):
        if abs(loss[i] - loss[i - 1]) < abs_delta:
            cut = i
            break
    cut = max(cut, min(min_points - 1, len(loss) - 1))
    x, y = n[:cut + 1], loss[:cut + 1]
    area = float(np.sum(0.5 * (y[1:] + y[:-1]) * np.diff(x)))
    width = float(x[-1] - x[0])
    return KResult(max(area - y[-1] * width, 0.0), cut, area, float(y[-1]), width)


def partial_costs(n: np.ndarray, loss: np.ndarray, at: np.ndarray,
                  cap: float = np.inf) -> np.ndarray:
    """K of the model reached at each size in ``at`` (within [n_0, n_-1]), untruncated:
    area under the interpolated curve from n_0 to a, minus loss(a) (a - n_0), >= 0. With a
    finite ``cap`` the curve is first clipped to it (a code that never pays more per sample
    than the uniform code, ``cap`` = ln(classes))."""
    n, at = np.asarray(n, float), np.asarray(at, float)
    loss = np.minimum(np.asarray(loss, float), cap)
    seg = 0.5 * (loss[1:] + loss[:-1]) * np.diff(n)
    cum = np.concatenate([[0.0], np.cumsum(seg)])
    j = np.clip(np.searchsorted(n, at, side="right") - 1, 0, len(n) - 2)
    la = np.interp(at, n, loss)
    area = cum[j] + 0.5 * (loss[j] + la) * (at - n[j])
    return np.maximum(area - la * (at - n[0]), 0.0)


class Lines(NamedTuple):
    """Candidate two-part codes: line i is K[i] + N slope[i], for feature feature[i]."""

    k: np.ndarray
    slope: np.ndarray
    feature: np.ndarray  # (L,) str


def feature_lines(name: str, n: np.ndarray, test_losses: list[np.ndarray],
                  mixed_loss: np.ndarray, k_final: float, n_models: int = 64,
                  cap: float = np.inf) -> Lines:
    """The partially learned models along a feature's curve (``n_models`` sizes, geometric
    between the first and last size) and its final model. A composite feature has several
    sub-task curves (``test_losses``): its K is the sum of theirs at the same size. The
    slope is the loss on the mixed data (interpolated in n); the final model's K is
    ``k_final`` (the truncated K(p), summed over sub-tasks) with the last slope. ``cap``
    clips the curves for the partial models' K (``partial_costs``)."""
    at = np.geomspace(n[0], n[-1], n_models)
    k = np.append(sum(partial_costs(n, c, at, cap) for c in test_losses), k_final)
    slope = np.append(np.interp(at, n, mixed_loss), mixed_loss[-1])
    return Lines(k, slope, np.full(len(k), name, dtype=object))


def join(*lines: Lines) -> Lines:
    return Lines(*(np.concatenate(parts) for parts in zip(*lines)))


def envelope(lines: Lines, sizes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The lower envelope min_i K_i + N s_i at each N of ``sizes``, and the winning line."""
    j = lines.k[None, :] + np.asarray(sizes, float)[:, None] * lines.slope[None, :]
    best = np.argmin(j, axis=1)
    return j[np.arange(len(sizes)), best], best


def switch_points(lines: Lines, lo: float, hi: float, grid: int = 4000) -> list[tuple[float, str, str]]:
    """Where the envelope's winning feature changes within [lo, hi]: (N, from, to), with N
    the exact crossing of the two winning lines around each change on a geometric grid."""
    sizes = np.geomspace(lo, hi, grid)
    _, best = envelope(lines, sizes)
    feats = lines.feature[best]
    out = []
    for i in np.flatnonzero(feats[1:] != feats[:-1]):
        a, b = best[i], best[i + 1]
        ds = lines.slope[a] - lines.slope[b]
        n = (lines.k[b] - lines.k[a]) / ds if ds != 0 else sizes[i + 1]
        out.append((float(np.clip(n, sizes[i], sizes[i + 1])), str(feats[i]), str(feats[i + 1])))
    return out


def crossing(n: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    """The first N where a - b changes sign from its sign at the first size (interpolated
    linearly in log N); NaN if it never does."""
    n, d = np.asarray(n, float), np.asarray(a, float) - np.asarray(b, float)
    s0 = np.sign(d[0])
    if s0 == 0:
        return float(n[0])
    for i in range(1, len(d)):
        if np.sign(d[i]) != s0:
            t = d[i - 1] / (d[i - 1] - d[i]) if d[i - 1] != d[i] else 1.0
            return float(np.exp(np.log(n[i - 1]) + t * (np.log(n[i]) - np.log(n[i - 1]))))
    return float("nan")


def crossings(n: np.ndarray, a: np.ndarray, b: np.ndarray) -> list[float]:
    """Every N where a - b changes sign between successive sizes (interpolated linearly in
    log N), the reference's rule for all empirical switches."""
    n, d = np.asarray(n, float), np.asarray(a, float) - np.asarray(b, float)
    out = []
    for i in np.flatnonzero(np.sign(d[1:]) != np.sign(d[:-1])):
        if d[i] != d[i + 1]:
            t = d[i] / (d[i] - d[i + 1])
            out.append(float(np.exp(np.log(n[i]) + t * (np.log(n[i + 1]) - np.log(n[i])))))
    return out


def closest_pair(predicted: list[float], empirical: list[float]) -> tuple[float, float]:
    """(predicted, empirical) switch N closest in log N over all pairs (the reference's
    ``match_closest_pairs``); (NaN, NaN) if either list is empty."""
    if not len(predicted) or not len(empirical):
        return float("nan"), float("nan")
    p, e = np.asarray(predicted, float), np.asarray(empirical, float)
    i, j = np.unravel_index(np.argmin(np.abs(np.log(p)[:, None] - np.log(e)[None, :])), (len(p), len(e)))
    return float(p[i]), float(e[j])
