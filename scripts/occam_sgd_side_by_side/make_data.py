"""Linear-regression fits data shared by both sides (the reference's task: x ~ N(0, I_3),
w ~ N(0, I_4)/2 on [x, 1], y = [x, 1] w + 0.2 eps). One permutation-free split: slots
0..n_tr-1 are train slots, the next n_va validation slots, then test points.
usage: python make_data.py out.npz n_max test_points seed n1,n2,... tasks_per_size [dummy]"""
import sys
import numpy as np

out, n_max, n_test, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
sizes = [int(s) for s in sys.argv[5].split(",")]
reps = int(sys.argv[6])
ns = np.repeat(sizes, reps)
if len(sys.argv) > 7 and sys.argv[7] == "dummy":
    ns = np.concatenate([[sizes[0]], ns])  # fit 0: a throwaway
rng = np.random.default_rng(seed)
F, N = len(ns), n_max + n_test
x = rng.standard_normal((F, N, 3)).astype(np.float32)
w = (rng.standard_normal((F, 4, 1)) / 2.0).astype(np.float32)
y = (np.concatenate([x, np.ones_like(x[..., :1])], -1) @ w + 0.2 * rng.standard_normal((F, N, 1))).astype(np.float32)
n_tr = int(n_max * 0.8)
np.savez(out, n=ns, x_train=x[:, :n_tr], y_train=y[:, :n_tr], x_val=x[:, n_tr:n_max],
         y_val=y[:, n_tr:n_max], x_test=x[:, n_max:], y_test=y[:, n_max:])
print(out, "fits", F, "sizes", ns.tolist())
