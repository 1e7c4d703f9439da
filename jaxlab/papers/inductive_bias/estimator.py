"""The inductive-bias estimator: a scaled non-central chi-squared fitted to test errors.

Given the test errors e_1..e_S of S hypotheses sampled from a model class (all fitting the
same training set), the inductive bias needed to reach error eps is

    IB(eps) = -log2 P[e <= eps],   e ~ s * ncx2(df, nc)  (location 0),

with (df, nc, s) fitted by maximum likelihood. Where the fitted log-CDF underflows (far
below the sampled errors) the CDF is replaced by Sankaran's normal approximation of the
non-central chi-squared, evaluated with an underflow-free log normal CDF. Host code
(numpy / scipy): the errors are a few thousand floats, the sampling that makes them is
where JAX is used.
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np
from scipy import optimize, special, stats

LN2 = math.log(2.0)
MIN_NC = 1e-8  # the non-centrality is fitted on a log scale, floored here (0 = central)
SMALL_NC = 1.0  # below it scipy's ncx2.logpdf can return -inf at large df: a Poisson mixture
MIXTURE_TERMS = 16


def ncx2_logpdf(x: np.ndarray, df: float, nc: float, scale: float) -> np.ndarray:
    """log density of scale * ncx2(df, nc) at x. For nc < SMALL_NC it is the Poisson
    mixture sum_j Pois(j; nc/2) chi2_{df+2j}(x/scale)/scale in log space (scipy's
    ncx2.logpdf returns -inf there at large df, e.g. df=500, nc=0.5); scipy's otherwise."""
    x = np.asarray(x, np.float64)
    if nc >= SMALL_NC:
        return stats.ncx2.logpdf(x, df, nc, scale=scale)
    if nc <= 0:
        return stats.chi2.logpdf(x, df, scale=scale)
    j = np.arange(MIXTURE_TERMS)
    log_w = -nc / 2 + j * math.log(nc / 2) - special.gammaln(j + 1)  # (J,)
    terms = log_w + stats.chi2.logpdf(x[..., None], df + 2 * j, scale=scale)
    return special.logsumexp(terms, axis=-1)


@dataclasses.dataclass(frozen=True)
class Ncx2Fit:
    """A fitted scaled non-central chi-squared: errors ~ scale * ncx2(df, nc)."""

    df: float
    nc: float
    scale: float

    def logcdf(self, x: np.ndarray | float) -> np.ndarray:
        return stats.ncx2.logcdf(x, self.df, self.nc, scale=self.scale)

    def cdf(self, x: np.ndarray | float) -> np.ndarray:
        return stats.ncx2.cdf(x, self.df, self.nc, scale=self.scale)

    @property
    def mean(self) -> float:
        return self.scale * (self.df + self.nc)

    @property
    def var(self) -> float:
        return 2 * self.scale ** 2 * (self.df + 2 * self.nc)


def moment_start(errors: np.ndarray) -> tuple[float, float, float]:
    """(df, nc, scale) matching the sample's mean, variance and third central moment
    (s(k+l) = m, 2s^2(k+2l) = v, 8s^3(k+3l) = mu3); a central chi-squared matching mean
    and variance when no non-negative non-centrality matches the skew."""
    m, v = float(np.mean(errors)), float(np.var(errors))
    mu3 = float(np.mean((errors - m) ** 3))
    disc = 64 * v * v - 32 * m * mu3  # 8m s^2 - 8v s + mu3 = 0
    for root in ((8 * v + math.sqrt(disc)) / (16 * m), (8 * v - math.sqrt(disc)) / (16 * m)) \
            if disc > 0 else ():
        if root > 0:
            nc = v / (2 * root ** 2) - m / root
            df = m / root - nc
            if nc >= 0 and df > 0:
                return df, max(nc, MIN_NC), root
    scale = v / (2 * m)
    return m / scale, MIN_NC, scale


def from_moments(mean: float, var: float, rho: float) -> tuple[float, float, float]:
    """(df, nc, scale) with the given mean, variance and non-central share
    rho = nc / (df + nc) in [0, 1): df + nc = 2(1+rho) mean^2 / var, scale = mean / (df + nc)."""
    a = 2 * (1 + rho) * mean ** 2 / var
    return (1 - rho) * a, rho * a, mean / a


def fit_ncx2(errors: np.ndarray, start: Ncx2Fit | None = None,
             shares: tuple[float, ...] = (0.02, 0.3, 0.8)) -> Ncx2Fit:
    """Maximum-likelihood (df, nc, scale) of ``errors`` (S,) > 0, location fixed at 0.

    The likelihood is flat along df <-> nc trades that keep the first two moments, so it
    is optimised (L-BFGS-B) over (log mean, log variance, logit of nc / (df + nc)), from
    the moment match and from the sample's mean and variance with each non-central share
    in ``shares`` (the ridge has shallow local optima), keeping the best; or from
    ``start`` alone (e.g. the full-sample fit when refitting a bootstrap resample). The
    errors are divided by their mean so the numbers are of order one.
    """
    errors = np.asarray(errors, np.float64)
    if errors.ndim != 1 or len(errors) < 3 or not np.all(np.isfinite(errors)) or errors.min() <= 0:
        raise ValueError("fit_ncx2 needs at least 3 finite, positive errors")
    unit = float(np.mean(errors))
    x = errors / unit
    m, v = float(np.mean(x)), float(np.var(x))
    starts = [(start.df, start.nc, start.scale / unit)] if start is not None else [
        moment_start(x), *(from_moments(m, v, rho) for rho in shares)]

    def theta_of(df, nc, s):
        rho = min(max(nc / (df + nc), 1e-6), 1 - 1e-6)
        return np.array([math.log(s * (df + nc)), math.log(2 * s ** 2 * (df + 2 * nc)),
                         math.log(rho / (1 - rho))])

    def params(theta):
        rho = 1 / (1 + math.exp(-theta[2]))
        return from_moments(math.exp(theta[0]), math.exp(theta[1]), rho)

    def nll(theta):
        df, nc, s = params(theta)
        value = -np.sum(ncx2_logpdf(x, df, nc, s))
        return value if np.isfinite(value) else 1e300

    result = min((optimize.minimize(nll, theta_of(*p), method="L-BFGS-B",
                                    bounds=[(-5, 5), (-30, 5), (-18, 18)]) for p in starts),
                 key=lambda r: r.fun)
    df, nc, s = params(result.x)
    return Ncx2Fit(float(df), float(nc), float(s * unit))


def sankaran_log_cdf(x: np.ndarray, fit: Ncx2Fit) -> np.ndarray:
    """log P[e <= x] from Sankaran's normal approximation of (e / scale / (df+nc))^h,
    through ``scipy.special.log_ndtr`` (finite however far in the tail)."""
    k, lam = fit.df, fit.nc
    h = 1 - 2 / 3 * (k + lam) * (k + 3 * lam) / (k + 2 * lam) ** 2
    p = (k + 2 * lam) / (k + lam) ** 2
    m = (h - 1) * (1 - 3 * h)
    centre = 1 + h * p * (h - 1 - 0.5 * (2 - h) * m * p)
    spread = h * math.sqrt(2 * p) * (1 + 0.5 * m * p)
    z = ((np.asarray(x, np.float64) / fit.scale / (k + lam)) ** h - centre) / spread
    return special.log_ndtr(z)


def inductive_bias_bits(eps: np.ndarray | float, fit: Ncx2Fit) -> np.ndarray:
    """IB(eps) = -log2 P[e <= eps] under ``fit``, (eps.shape); the far-tail approximation
    where the exact log-CDF underflows (is -inf or not finite)."""
    eps = np.asarray(eps, np.float64)
    exact = np.asarray(fit.logcdf(eps), np.float64)
    tail = sankaran_log_cdf(eps, fit)
    use = np.where(np.isfinite(exact), exact, tail)
    return np.maximum(-use / LN2, 0.0)


def ks_statistic(errors: np.ndarray, fit: Ncx2Fit) -> float:
    """Kolmogorov-Smirnov distance between the errors' empirical CDF and the fit's."""
    return float(stats.kstest(np.asarray(errors, np.float64), fit.cdf).statistic)


def bootstrap_bits(errors: np.ndarray, eps: np.ndarray, fit: Ncx2Fit, n_boot: int,
                   seed: int, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Percentile bootstrap interval of IB(eps) over hypotheses: ``n_boot`` resamples of
    the errors with replacement, each refitted from ``fit``. Returns (low, high), each
    (len(eps),)."""
    rng = np.random.default_rng(seed)
    errors = np.asarray(errors, np.float64)
    draws = np.stack([inductive_bias_bits(eps, fit_ncx2(rng.choice(errors, len(errors)), fit))
                      for _ in range(n_boot)])
    tail = (1 - level) / 2
    return np.quantile(draws, tail, axis=0), np.quantile(draws, 1 - tail, axis=0)
