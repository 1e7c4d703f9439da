"""The synthetic coloured-digits benchmark (Scenario A: colour vs digit; B: digit vs
watermark + colour), a pure function of a key.

EMNIST cannot be downloaded here, so the digit is one of scikit-learn's bundled 8x8 digits
(1,797 images), upscaled once to ``digit_size`` pixels and placed at a random offset in an
``image_size`` square canvas with a random contrast: deformation noise that makes every
draw a new image. Complexity knobs: ``digits_per_class`` (digits {0..k-1} and {5..5+k-1},
as the reference), ``prototypes`` (how many source images per digit; 1 = class
prototypes) and the offset range (``image_size - digit_size``). The first 80% of each
digit's source images feed the train and validation draws; the test draws take the same
images (``test_images="shared"``, i.i.d. with the training draws) or the rest
(``"held_out"``: unseen images).

Generative process of one sample (the reference's, ``source/datasets.py``):
  y = 1[digit >= 5], flipped with probability ``flip_prob``;
  e ~ Bernoulli(spur_prob); colour = 1 - y in env 0, y in env 1 (0 = red, 1 = green:
  the channel the digit is drawn in);
  Scenario B: a pattern drawn uniformly from environment e's bank of ``bank_size`` random
  ``watermark_bits``-bit patterns (the two banks disjoint), written into the bottom of the
  rightmost pixel column of every channel; a fraction ``env_noisiness`` of the samples
  gets uniformly random bits instead.

A sample is first a *latent row* (source image index, offset, contrast, colour code,
watermark bits); ``render`` turns rows into images. Fits store rows, not images (a few
floats instead of image_size^2 x 3), and render each minibatch inside the model.

Modes (``sample(..., mode)``), all with the label y of the generative process:
  mixed      the benchmark itself;
  colour     colour-isolated: the digit image is drawn independently of y, bits random;
  digit      digit-isolated: colour and bits random;
  watermark  watermark-isolated: digit image and colour random;
  grayscale  mixed, but the digit drawn in all three channels (no colour).
"""
from __future__ import annotations

import functools
from typing import NamedTuple

import chex
import jax
import jax.numpy as jnp
import numpy as np

MODES = ("mixed", "colour", "digit", "watermark", "grayscale")
RED, GREEN, GRAY = 0, 1, 2
META = 5  # row columns before the watermark bits: source index, dy, dx, contrast, colour
TEST_FRACTION = 0.2
TEST_IMAGES = ("held_out", "shared")  # where test draws take their source images


class Static(NamedTuple):
    """What fixes shapes (hashable, closed over at trace time)."""

    image_size: int
    digit_size: int
    watermark: bool
    watermark_bits: int
    max_bank: int  # banks are built at this size; bank_size <= max_bank picks a prefix


class Params(NamedTuple):
    """Numeric knobs (arrays: may be traced, vmapped). banks: (2, max_bank, bits) {0, 1}."""

    spur_prob: jax.Array
    flip_prob: jax.Array
    env_noisiness: jax.Array
    bank_size: jax.Array
    banks: jax.Array


class Batch(NamedTuple):
    """rows (n, META + bits) float32; y (label), colour (the channel the digit is drawn in;
    the generative colour for grayscale), env, digit (the digit shown) (n,) int32."""

    rows: jax.Array
    y: jax.Array
    colour: jax.Array
    env: jax.Array
    digit: jax.Array


class Digits(NamedTuple):
    """Upscaled source digits (n, s, s) in [0, 1], their labels (n,), and for each split
    (0 train, 1 test) the indices it may draw from (padded with -1) and their count."""

    images: jax.Array
    labels: jax.Array
    pools: jax.Array  # (2, max_pool) int32
    pool_sizes: jax.Array  # (2,) int32


@functools.lru_cache(maxsize=8)
def load_digits(digit_size: int, digits_per_class: int, prototypes: int,
                test_images: str = "held_out") -> Digits:
    """scikit-learn's 8x8 digits, upscaled bilinearly to ``digit_size``, split 80/20 per
    digit into train and test pools; only the digits {0..k-1, 5..5+k-1} and the first
    ``prototypes`` images of each digit in each split (0 = all). ``test_images``
    "held_out": the test pool is the 20%; "shared": the test pool is the train pool, so
    test draws are i.i.d. with the training draws (new offsets and contrasts of the same
    source images)."""
    if test_images not in TEST_IMAGES:
        raise ValueError(f"test_images must be one of {TEST_IMAGES}, got {test_images!r}")
    from sklearn.datasets import load_digits as sk_digits

    raw = sk_digits()
    images = jax.image.resize(jnp.asarray(raw.images / 16.0, jnp.float32),
                              (len(raw.images), digit_size, digit_size), "bilinear")
    allowed = set(range(digits_per_class)) | set(range(5, 5 + digits_per_class))
    pools = [[], []]
    for d in sorted(allowed):
        idx = np.flatnonzero(raw.target == d)
        cut = int(round(len(idx) * (1 - TEST_FRACTION)))
        for split, part in enumerate((idx[:cut], idx[cut:])):
            pools[split].extend(part[:prototypes] if prototypes > 0 else part)
    if test_images == "shared":
        pools[1] = list(pools[0])
    width = max(len(p) for p in pools)
    padded = np.full((2, width), -1, np.int32)
    for s, p in enumerate(pools):
        padded[s, :len(p)] = p
    return Digits(jnp.clip(images, 0.0, 1.0), jnp.asarray(raw.target, jnp.int32),
                  jnp.asarray(padded), jnp.asarray([len(p) for p in pools], jnp.int32))


def _mix(x: jax.Array, a: jax.Array, c: jax.Array, bits: int) -> jax.Array:
    """A bijection of the integers mod 2^bits (odd multipliers, xor-shifts)."""
    mask = jnp.uint32((1 << bits) - 1) if bits < 32 else jnp.uint32(0xFFFFFFFF)
    x = (x * a) & mask
    x = x ^ (x >> max(1, bits // 2))
    x = (x * c) & mask
    return x ^ (x >> max(1, bits // 3))


def watermark_banks(key: jax.Array, max_bank: int, bits: int) -> jax.Array:
    """Two disjoint banks of ``max_bank`` distinct random ``bits``-bit patterns:
    (2, max_bank, bits) in {0, 1}. Distinct by construction: pattern i is a random
    bijection of i, for i < 2 max_bank."""
    ka, kc, kx = jax.random.split(key, 3)
    odd = lambda k: jax.random.bits(k, (), jnp.uint32) | jnp.uint32(1)
    offset = jax.random.bits(kx, (), jnp.uint32) & jnp.uint32((1 << min(bits, 31)) - 1)
    ids = (jnp.arange(2 * max_bank, dtype=jnp.uint32) + offset) & jnp.uint32(
        ((1 << bits) - 1) if bits < 32 else 0xFFFFFFFF)
    codes = _mix(ids, odd(ka), odd(kc), bits)
    out = (codes[:, None] >> jnp.arange(bits, dtype=jnp.uint32)[None, :]) & jnp.uint32(1)
    return out.astype(jnp.float32).reshape(2, max_bank, bits)


def _bernoulli(key: jax.Array, p: jax.Array, n: int) -> jax.Array:
    return (jax.random.uniform(key, (n,)) < p).astype(jnp.int32)


def sample(key: jax.Array, n: int, params: Params, static: Static, digits: Digits,
           split: int, mode: str | jax.Array = "mixed") -> Batch:
    """n samples of the benchmark (``split`` 0: train/validation pool, 1: test pool);
    ``mode`` a name of ``MODES`` or its index (an array: vmappable)."""
    k = jax.random.split(key, 12)
    pool, size = digits.pools[split], digits.pool_sizes[split]
    src = pool[jax.random.randint(k[0], (n,), 0, size)]
    digit = digits.labels[src]
    y = (digit >= 5).astype(jnp.int32) ^ _bernoulli(k[1], params.flip_prob, n)
    env = _bernoulli(k[2], params.spur_prob, n)
    colour = jnp.where(env == 0, 1 - y, y)
    slack = static.image_size - static.digit_size
    dy = jax.random.randint(k[3], (n,), 0, slack + 1)
    dx = jax.random.randint(k[4], (n,), 0, slack + 1)
    contrast = jax.random.uniform(k[5], (n,), minval=0.6, maxval=1.0)
    bits = static.watermark_bits if static.watermark else 0
    pick = jax.random.randint(k[6], (n,), 0, jnp.maximum(params.bank_size, 1))
    random_bits = jax.random.bernoulli(k[7], 0.5, (n, bits)).astype(jnp.float32)
    if static.watermark:
        marks = params.banks[env, pick]
        marks = jnp.where(_bernoulli(k[8], params.env_noisiness, n)[:, None] == 1, random_bits, marks)
    else:
        marks = jnp.zeros((n, 0), jnp.float32)
    m = jnp.asarray(MODES.index(mode) if isinstance(mode, str) else mode)
    is_ = lambda *names: functools.reduce(jnp.logical_or, [m == MODES.index(x) for x in names])
    # the digit image says nothing about y in the colour- and watermark-isolated modes
    shown_src = jnp.where(is_("colour", "watermark"), pool[jax.random.randint(k[9], (n,), 0, size)], src)
    shown_colour = jnp.where(is_("digit", "watermark"), _bernoulli(k[10], 0.5, n), colour)
    shown_colour = jnp.where(is_("grayscale"), GRAY, shown_colour)
    shown_marks = jnp.where(is_("colour", "digit"), random_bits, marks)
    rows = jnp.concatenate([jnp.stack([shown_src, dy, dx], 1).astype(jnp.float32),
                            contrast[:, None], shown_colour[:, None].astype(jnp.float32),
                            shown_marks], axis=1)
    return Batch(rows, y, jnp.where(shown_colour == GRAY, colour, shown_colour), env,
                 digits.labels[shown_src])


def render(rows: jax.Array, static: Static, digits: Digits) -> jax.Array:
    """Latent rows (n, META + bits) -> flattened RGB images (n, image_size^2 * 3)."""
    chex.assert_rank(rows, 2)
    s, d = static.image_size, static.digit_size

    def one(row):
        img = digits.images[row[0].astype(jnp.int32)] * row[3]
        canvas = jax.lax.dynamic_update_slice(jnp.zeros((s, s)), img,
                                              (row[1].astype(jnp.int32), row[2].astype(jnp.int32)))
        c = row[4]
        rgb = jnp.stack([canvas * (c != GREEN), canvas * (c != RED), canvas * (c == GRAY)], -1)
        if static.watermark:
            b = static.watermark_bits
            rgb = rgb.at[s - b:, s - 1, :].set(jnp.broadcast_to(row[META:META + b, None], (b, 3)))
        return rgb.reshape(-1)

    del d
    return jax.vmap(one)(rows)


def shuffle(rows: jax.Array, key: jax.Array, attribute: str) -> jax.Array:
    """Rows with one attribute permuted across the samples: 'colour', 'digit' (source image,
    offset and contrast) or 'watermark' (the bits)."""
    perm = jax.random.permutation(key, rows.shape[0])
    cols = {"digit": slice(0, 4), "colour": slice(4, 5), "watermark": slice(META, None)}[attribute]
    return rows.at[:, cols].set(rows[perm][:, cols])
