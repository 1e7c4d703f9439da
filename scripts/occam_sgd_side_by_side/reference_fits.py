"""Run the reference's own SGD learner (tasks/sgd_optimizer.py StandardOptimizer +
CustomEarlyStopping, models/utils.py MLP, datasets/interfaces.py AtomicICLDataModule, a
Lightning Trainer configured as train.py does with sgd_vs_prequential/linear_regression.sh's
overrides) on fits whose data come from an npz (make_data.py), fit by fit.

The reference's classes are used unchanged; only these are patched around them:
prepare_to_fit_new_task takes the next n from the npz (instead of log-uniform draws), and
on_atomic_fit_end first records the fit (epochs, steps, per-epoch val loss, test MSE of the
final = last parameters on the fit's test points) then calls the original.
usage (from the reference checkout, WANDB_MODE=offline): python reference_fits.py data.npz out.json seed [stop_rule]
Deviation from train.py's Trainer: num_sanity_val_steps=0 (Lightning's pre-training
sanity check would feed CustomEarlyStopping an initial-weights val loss before fit 0).
stop_rule "tolerant" (the reference as is) or "lightning" (CustomEarlyStopping patched to
Lightning's EarlyStopping comparison val < best - min_delta).
"""
import json
import os
import sys
import time

sys.path.insert(0, os.getcwd())
import numpy as np
import torch
from lightning import Trainer, seed_everything
from lightning.pytorch.callbacks import Callback

from datasets.interfaces import AtomicICLDataModule
from datasets.regression import LinearRegression
from models.utils import MLP
from tasks import sgd_optimizer as so

data_path, out_path, seed = sys.argv[1], sys.argv[2], int(sys.argv[3])
rule = sys.argv[4] if len(sys.argv) > 4 else "tolerant"
D = np.load(data_path)
ns = [int(v) for v in D["n"]]
F = len(ns)

if rule == "lightning":
    def on_validation_end(self, trainer, pl_module):
        if trainer.callback_metrics.get(self.monitor):
            current = trainer.callback_metrics.get(self.monitor).clone().detach()
            if current < self.best_score - self.min_delta:  # Lightning: min_delta negated in "min" mode
                self.best_score, self.wait_count = current, 0
            else:
                self.wait_count += 1
                if self.wait_count >= self.patience:
                    trainer.should_stop = True
    so.CustomEarlyStopping.on_validation_end = on_validation_end

seed_everything(seed)
n_max = D["x_train"].shape[1] + D["x_val"].shape[1]
n_all = n_max + D["x_test"].shape[1]
dataset = LinearRegression(x_dim=3, y_dim=1, n_tasks=F, n_samples=n_all, noise=0.2,
                           has_ood=False, shuffle_samples=True)
dm = AtomicICLDataModule(dataset, batch_size=64, max_train_samples=n_max, val_prop=0.2)
assert dm.train_dataset.n_samples == D["x_train"].shape[1], (dm.train_dataset.n_samples, D["x_train"].shape)
for ds, key in ((dm.train_dataset, "train"), (dm.val_dataset, "val"), (dm.test_dataset, "test")):
    ds.multi_dataset.data = {"x": torch.from_numpy(D[f"x_{key}"]), "y": torch.from_numpy(D[f"y_{key}"])}
predictor = MLP(in_features=3, h_dim=64, n_layers=5, out_features=1, dropout_rate=0.0)
task = so.StandardOptimizer(inner_epochs=2000, predictor=predictor, lr=1e-4, min_train_samples=5,
                            n_fit_total=F - 1, loss_fn=torch.nn.MSELoss())
INIT = {f"dense_{i}": {"kernel": l.weight.detach().numpy().T.tolist(), "bias": l.bias.detach().numpy().tolist()}
        for i, l in enumerate(predictor.layers)}
json.dump({"init": INIT}, open(out_path + ".init", "w"))

FITS, STATE = [], {"k": 0, "steps": 0, "val": [], "test": [], "t0": None}
_orig_end = so.StandardOptimizer.on_atomic_fit_end


def prep(self, trainer):
    k = min(STATE["k"], F - 1)
    trainer.datamodule.switch_task(task=k, n_samples=ns[k])
    STATE.update(steps=0, val=[], test=[], t0=time.perf_counter())


@torch.no_grad()
def end(self):
    k = STATE["k"]
    x, y = torch.from_numpy(D["x_test"][k]), torch.from_numpy(D["y_test"][k])
    test = float(torch.mean((self.predictor(x) - y) ** 2))
    es = [c for c in self.trainer.callbacks if isinstance(c, so.CustomEarlyStopping)][0]
    FITS.append({"fit": k, "n": ns[k], "n_train": int(self.trainer.datamodule.train_dataset.n_samples),
                 "n_val": int(self.trainer.datamodule.val_dataset.n_samples),
                 "epochs": int(self.current_inner_epochs), "steps": STATE["steps"],
                 "stopped_early": bool(self.trainer.should_stop), "test_mse": test,
                 "best_score": float(es.best_score), "val_curve": STATE["val"], "test_curve": STATE["test"],
                 "wall_s": time.perf_counter() - STATE["t0"]})
    print(f"fit {k} n={ns[k]} epochs={FITS[-1]['epochs']} steps={STATE['steps']} test={test:.4f} "
          f"({FITS[-1]['wall_s']:.1f}s)", flush=True)
    STATE["k"] += 1
    _orig_end(self)


so.StandardOptimizer.prepare_to_fit_new_task = prep
so.StandardOptimizer.on_atomic_fit_end = end


class Record(Callback):
    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        STATE["steps"] += 1

    def on_validation_end(self, trainer, pl_module):
        if not trainer.sanity_checking and "val_loss" in trainer.callback_metrics:
            STATE["val"].append(float(trainer.callback_metrics["val_loss"]))
            k = min(STATE["k"], F - 1)  # test MSE of the current parameters, every epoch
            with torch.no_grad():
                x, y = torch.from_numpy(D["x_test"][k]), torch.from_numpy(D["y_test"][k])
                STATE["test"].append(float(torch.mean((pl_module.predictor(x) - y) ** 2)))


trainer = Trainer(logger=False, enable_checkpointing=False, max_epochs=2000000, log_every_n_steps=5,
                  reload_dataloaders_every_n_epochs=1, enable_progress_bar=False, gradient_clip_val=0.05,
                  callbacks=[so.CustomEarlyStopping(monitor="val_loss", min_delta=1e-3, patience=10), Record()],
                  enable_model_summary=False, num_sanity_val_steps=0)
trainer.fit(model=task, datamodule=dm)
json.dump({"rule": rule, "seed": seed, "init": INIT, "fits": FITS}, open(out_path, "w"))
