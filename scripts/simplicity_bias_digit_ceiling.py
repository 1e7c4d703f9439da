"""How well can the synthetic digit be learned? An independent check with scikit-learn.

Trains scikit-learn's MLPClassifier (64, 64) on digit-only draws of the benchmark
(jaxlab.papers.simplicity_bias.data) and prints its log-loss and accuracy for y on test
draws from held-out source images and from the training images (new offsets and
contrasts): the ceiling behind ``task.test_images`` (docs/simplicity_bias.md).

    python scripts/simplicity_bias_digit_ceiling.py [--sizes 1024 4096 16384]
"""
from __future__ import annotations

import argparse

import jax
import jax.numpy as jnp
import numpy as np

from jaxlab.papers.simplicity_bias import data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1024, 4096, 16384])
    parser.add_argument("--n-test", type=int, default=2048)
    args = parser.parse_args()
    from sklearn.metrics import accuracy_score, log_loss
    from sklearn.neural_network import MLPClassifier

    static = data.Static(image_size=16, digit_size=15, watermark=False, watermark_bits=16, max_bank=1)
    params = data.Params(jnp.float32(0.1), jnp.float32(0.0), jnp.float32(0.0), jnp.int32(1),
                         jnp.zeros((2, 1, 16)))
    digits = data.load_digits(15, 5, 0, "held_out")  # pool 0: training images, pool 1: held out
    draw = lambda seed, n, split: data.sample(jax.random.PRNGKey(seed), n, params, static, digits,
                                              split, "digit")
    images = lambda b: np.asarray(data.render(b.rows, static, digits))
    tests = {"held-out images": draw(1, args.n_test, 1), "training images": draw(2, args.n_test, 0)}
    print(f"{'N':>6}  {'test draws':<16} {'log-loss':>8} {'accuracy':>8}")
    for n in args.sizes:
        train = draw(0, n, 0)
        model = MLPClassifier((64, 64), max_iter=300, early_stopping=True, random_state=0)
        model.fit(images(train), np.asarray(train.y))
        for name, test in tests.items():
            prob = model.predict_proba(images(test))
            y = np.asarray(test.y)
            print(f"{n:>6}  {name:<16} {log_loss(y, prob):8.3f} {accuracy_score(y, prob.argmax(1)):8.3f}")


if __name__ == "__main__":
    main()
