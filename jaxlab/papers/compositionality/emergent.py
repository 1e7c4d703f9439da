"""Emergent languages from an iterated-learning referential game, and their compositionality.

Generation (Ren et al. 2020 as used by the reference's ``dataloaders/emergent_languages``,
at CPU scale): objects have ``n_attributes`` attributes of ``n_values`` values; a
speaker maps an object to a message of ``message_length`` tokens over ``vocab_size``
symbols; a listener picks the speaker's object among ``candidates`` (the target and random
distractors). Each generation:
  * game (``game_steps`` rounds; a new listener first if ``resets``): for the first
    ``listener_steps`` rounds only the listener learns, then both; the speaker samples its
    message and learns by REINFORCE (reward: the listener picked the target, baseline the
    batch mean, entropy bonus 0.1), the listener by cross-entropy on the target;
  * record: the speaker's sampled messages for random objects, a message the listener got
    wrong replaced by a random one (the reference's ``rwd_filter``);
  * imitation (``imitation_steps`` rounds; a new speaker first if ``resets``): the speaker
    learns the recorded (object, message) pairs by cross-entropy.
``resets`` re-initialises the agents every generation (iterated learning: only languages
that are easy to learn survive); ``no resets`` keeps them. The final speaker's argmax
message of every object is the language. All (language seed, resets) runs train in one
program (``vmap``; the resets flag is a traced boolean).

Deviations from the reference, on purpose: the speaker is an MLP with one softmax head
per message position (the reference decodes with an LSTM); the listener learns by
cross-entropy instead of REINFORCE; generations, rounds and widths are CPU-sized (config).

Compositionality (the reference's prequential setup for emergent languages): each language
gives ``repeats`` copies of every (object, message) pair; objects are put in a random order
with their copies contiguous (``scramble_data_by=z``), the last ``val_objects`` objects are
the early-stopping set, and every block is one new object. K(Z | W) = K(data) by block-wise
prequential coding of a sentence decoder predicting the attributes (categorical),
K(Z) = N_train · attrs · log(values), C = K(Z) / K(Z | W). All blocks of all (language,
prequential seed) datasets are fitted in one program.
"""
from __future__ import annotations

import math
import os
from typing import NamedTuple

import jax
import jax.numpy as jnp
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import ml_collections  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
import pandas as pd  # noqa: E402

from jaxlab import results as results_lib  # noqa: E402
from jaxlab import runner  # noqa: E402
from jaxlab.papers.compositionality import learned, topsim  # noqa: E402
from jaxlab.config import require  # noqa: E402
from jaxlab.train import Trainer, TrainState  # noqa: E402

# Paper: the reference's emergent_languages_results.csv, mean ± std over 5 languages x 5 seeds.
PAPER = {"resets": {"c": (1.95, 0.33), "k_data": (6161.0, 1110.0), "k_f": 5710.0},
         "no_resets": {"c": (1.017, 0.008), "k_data": (11448.0, 86.0), "k_f": 10702.0}}
KINDS = ("resets", "no_resets", "compositional", "holistic")


def validate(config: ml_collections.ConfigDict) -> None:
    e = config.emergent
    for name in ("n_attributes", "n_values", "message_length", "vocab_size", "language_seeds",
                 "generations", "hidden", "game_batch", "repeats", "prequential_seeds", "embed",
                 "decoder_layers", "decoder_hidden", "batch_size", "patience", "max_epochs"):
        require(e[name] >= 1, f"emergent.{name}", f"must be >= 1, got {e[name]}")
    require(e.candidates >= 2, "emergent.candidates", f"must be >= 2, got {e.candidates}")
    n_obj = e.n_values ** e.n_attributes
    require(1 <= e.val_objects < n_obj - 1, "emergent.val_objects",
            f"must be in [1, {n_obj - 2}] (objects: {n_obj}), got {e.val_objects}")
    require(e.generations_per_chunk >= 1 and e.generations % e.generations_per_chunk == 0,
            "emergent.generations_per_chunk",
            f"must be >= 1 and divide emergent.generations={e.generations}, got {e.generations_per_chunk}")
    require(0 < e.imitation_fraction <= 1, "emergent.imitation_fraction",
            f"must be in (0, 1], got {e.imitation_fraction}")


# ---------------------------------------------------------------- agents (plain pytrees)

def _dense(key, n_in, n_out):
    return {"w": jax.random.normal(key, (n_in, n_out)) * math.sqrt(2.0 / n_in), "b": jnp.zeros(n_out)}


class Game(NamedTuple):
    n_attributes: int
    n_values: int
    message_length: int
    vocab_size: int
    hidden: int
    candidates: int

    @property
    def n_objects(self) -> int:
        return self.n_values ** self.n_attributes

    def attributes(self) -> jax.Array:
        """(O, attrs) attribute values of every object (object i's j-th digit base n_values)."""
        i = jnp.arange(self.n_objects)[:, None]
        return (i // self.n_values ** jnp.arange(self.n_attributes)[None]) % self.n_values

    def object_inputs(self) -> jax.Array:
        """(O, attrs * values) concatenated one-hot attributes."""
        return jax.nn.one_hot(self.attributes(), self.n_values).reshape(self.n_objects, -1)


def speaker_init(g: Game, key):
    k1, k2 = jax.random.split(key)
    return {"h": _dense(k1, g.n_attributes * g.n_values, g.hidden),
            "out": _dense(k2, g.hidden, g.message_length * g.vocab_size)}


def speaker_logits(g: Game, p, x):
    """x (B, attrs*values) -> (B, L, vocab) message logits."""
    h = jax.nn.relu(x @ p["h"]["w"] + p["h"]["b"])
    return (h @ p["out"]["w"] + p["out"]["b"]).reshape(x.shape[0], g.message_length, g.vocab_size)


def listener_init(g: Game, key):
    k1, k2, k3, k4 = jax.random.split(key, 4)
    return {"m1": _dense(k1, g.message_length * g.vocab_size, g.hidden), "m2": _dense(k2, g.hidden, g.hidden),
            "o1": _dense(k3, g.n_attributes * g.n_values, g.hidden), "o2": _dense(k4, g.hidden, g.hidden)}


def listener_scores(p, msg_onehot, objects_x):
    """msg_onehot (B, L*vocab), objects_x (O, attrs*values) -> (B, O) scores of every object
    (objects are encoded once and candidates gathered from the scores)."""
    m = jax.nn.relu(msg_onehot @ p["m1"]["w"] + p["m1"]["b"]) @ p["m2"]["w"] + p["m2"]["b"]
    o = jax.nn.relu(objects_x @ p["o1"]["w"] + p["o1"]["b"]) @ p["o2"]["w"] + p["o2"]["b"]
    return m @ o.T


def candidate_scores(p, msg_onehot, objects_x, cands):
    """(B, C) scores of the candidates cands (B, C) object ids."""
    s = listener_scores(p, msg_onehot, objects_x)
    return jnp.take_along_axis(s, cands, axis=1)


def _select(flag, new, old):
    return jax.tree.map(lambda a, b: jnp.where(flag, a, b), new, old)


def make_iterated_learning(g: Game, e: ml_collections.ConfigDict) -> Trainer:
    """One run of iterated learning as a per-run ``Trainer`` whose steps are generations
    (its metric ``game_accuracy`` is the listener's accuracy over the last fifth of each
    generation's game); ``evaluate`` gives the language."""
    opt = optax.adam(e.learning_rate)
    x_all = g.object_inputs()
    b, n_obj = e.game_batch, g.n_objects
    n_teach = max(1, int(round(e.imitation_fraction * n_obj)))

    def game_round(carry, inp):
        spk, spk_opt, lis, lis_opt = carry
        key, step = inp
        k_obj, k_dis, k_pos, k_msg = jax.random.split(key, 4)
        target = jax.random.randint(k_obj, (b,), 0, n_obj)
        cands = jax.random.randint(k_dis, (b, g.candidates), 0, n_obj)
        pos = jax.random.randint(k_pos, (b,), 0, g.candidates)
        cands = cands.at[jnp.arange(b), pos].set(target)
        logits = speaker_logits(g, spk, x_all[target])
        msg = jax.random.categorical(k_msg, logits)                       # (B, L)
        onehot = jax.nn.one_hot(msg, g.vocab_size).reshape(b, -1)

        def lis_loss(lp):
            s = candidate_scores(lp, onehot, x_all, cands)
            return -jnp.mean(jax.nn.log_softmax(s)[jnp.arange(b), pos]), s

        (_, scores), lg = jax.value_and_grad(lis_loss, has_aux=True)(lis)
        pick = jnp.argmax(scores, axis=1)
        correct = (cands[jnp.arange(b), pick] == target).astype(jnp.float32)
        # Reward: the listener's probability of the target (dense) or its success (binary).
        prob = jax.nn.softmax(scores)[jnp.arange(b), pos]
        reward = prob if e.dense_reward else correct

        def spk_loss(sp):
            lg_ = jax.nn.log_softmax(speaker_logits(g, sp, x_all[target]))
            logp = jnp.sum(jnp.take_along_axis(lg_, msg[..., None], -1)[..., 0], -1)
            ent = -jnp.sum(jnp.exp(lg_) * lg_, axis=(-1, -2))
            return -jnp.mean((reward - reward.mean()) * logp) - e.entropy * jnp.mean(ent)

        sg = jax.grad(spk_loss)(spk)
        up, lis_opt = opt.update(lg, lis_opt, lis)
        lis = optax.apply_updates(lis, up)
        up, new_spk_opt = opt.update(sg, spk_opt, spk)
        both = step >= e.listener_steps
        spk = _select(both, optax.apply_updates(spk, up), spk)
        spk_opt = _select(both, new_spk_opt, spk_opt)
        return (spk, spk_opt, lis, lis_opt), correct.mean()

    def imitation_round(carry, inp):
        spk, spk_opt, teach_obj, teach_msg = carry
        idx = jax.random.randint(inp, (b,), 0, teach_obj.shape[0])

        def loss(sp):
            lg_ = jax.nn.log_softmax(speaker_logits(g, sp, x_all[teach_obj[idx]]))
            return -jnp.mean(jnp.sum(jnp.take_along_axis(lg_, teach_msg[idx][..., None], -1), (-1, -2)))

        up, spk_opt = opt.update(jax.grad(loss)(spk), spk_opt, spk)
        return (optax.apply_updates(spk, up), spk_opt, teach_obj, teach_msg), None

    def generation(carry, inp):
        spk, lis = carry
        key, resets = inp
        k_lis, k_game, k_rec, k_spk, k_imit = jax.random.split(key, 5)
        lis = _select(resets, listener_init(g, k_lis), lis)
        (spk, _, lis, _), acc = jax.lax.scan(
            game_round, (spk, opt.init(spk), lis, opt.init(lis)),
            (jax.random.split(k_game, e.game_steps), jnp.arange(e.game_steps)))
        # Record: sampled messages of a random subset of objects; wrong ones randomised.
        k_sub, k_m, k_c, k_r = jax.random.split(k_rec, 4)
        teach_obj = jax.random.permutation(k_sub, n_obj)[:n_teach]
        msg = jax.random.categorical(k_m, speaker_logits(g, spk, x_all[teach_obj]))
        cands = jax.random.randint(k_c, (n_teach, g.candidates), 0, n_obj).at[:, 0].set(teach_obj)
        scores = candidate_scores(lis, jax.nn.one_hot(msg, g.vocab_size).reshape(n_teach, -1), x_all, cands)
        ok = cands[jnp.arange(n_teach), jnp.argmax(scores, 1)] == teach_obj
        msg = jnp.where(ok[:, None], msg, jax.random.randint(k_r, msg.shape, 0, g.vocab_size))
        spk = _select(resets, speaker_init(g, k_spk), spk)
        (spk, _, _, _), _ = jax.lax.scan(imitation_round, (spk, opt.init(spk), teach_obj, msg),
                                         jax.random.split(k_imit, e.imitation_steps))
        return (spk, lis), jnp.mean(acc[-max(1, e.game_steps // 5):])

    def init(key: jax.Array, hp: dict) -> TrainState:
        """A run: fresh speaker and listener; ``key`` holds the generations' key."""
        k_s, k_l, k_g = jax.random.split(key, 3)
        params = {"speaker": speaker_init(g, k_s), "listener": listener_init(g, k_l)}
        return TrainState(jnp.zeros((), jnp.int32), params, jnp.zeros(()), k_g, jnp.array(True))

    def train_chunk(state: TrainState, hp: dict) -> tuple[TrainState, dict]:
        """``generations_per_chunk`` generations; hp["kind"] 0 = resets, 1 = no resets."""
        resets = hp["kind"] == 0
        gens = jax.random.split(state.key, e.generations)

        def one(s: TrainState, _):
            (spk, lis), acc = generation((s.params["speaker"], s.params["listener"]),
                                         (gens[s.step], resets))
            new = {"speaker": spk, "listener": lis}
            finite = jnp.all(jnp.stack([jnp.all(jnp.isfinite(a)) for a in jax.tree.leaves(new)]))
            healthy = s.healthy & finite
            return s._replace(step=s.step + 1, params=_select(healthy, new, s.params),
                              healthy=healthy), {"loss": 1.0 - acc, "game_accuracy": acc}

        return jax.lax.scan(one, state, None, length=e.generations_per_chunk)

    def messages(state: TrainState, hp: dict, key: jax.Array) -> dict:
        """The language: the final speaker's argmax message of every object, (O, L) int32."""
        return {"messages": jnp.argmax(speaker_logits(g, state.params["speaker"], x_all),
                                       -1).astype(jnp.int32)}

    return Trainer(init, train_chunk, messages, e.generations_per_chunk, e.generations)


# ----------------------------------------------------------------- prequential coding

def make_dataset(attributes: jax.Array, messages: jax.Array, repeats: int, key: jax.Array):
    """Objects in a random order, each repeated ``repeats`` times contiguously:
    (w (O*r, L), z (O*r, attrs), object order (O,))."""
    order = jax.random.permutation(key, attributes.shape[0])
    return (jnp.repeat(messages[order], repeats, axis=0), jnp.repeat(attributes[order], repeats, axis=0),
            order)


def prequential_setup(e: ml_collections.ConfigDict, n_objects: int):
    n_train_obj = n_objects - e.val_objects
    cfg = learned.PrequentialConfig(
        val_size=e.val_objects * e.repeats,
        boundaries=tuple(range(e.repeats, n_train_obj * e.repeats + 1, e.repeats)),
        embed=e.embed, hidden=e.decoder_hidden, layers=e.decoder_layers,
        learning_rate=e.decoder_learning_rate, batch_size=e.batch_size, patience=e.patience,
        min_delta=e.min_delta, max_epochs=e.max_epochs, lanes=(e.lanes or None))
    coder = learned.make_coder(e.vocab_size, e.message_length, e.n_attributes, cfg, e.n_values)
    return cfg, coder


def code_all(e, coder, cfg, w, z, keys):
    """Block-wise codes of many datasets (leading axis D): all their block fits in one
    program, one queue of ``e.lanes`` fits in flight (0: all at once)."""
    return learned.prequential_code_many(coder, cfg, w, z, keys, e.lanes or None)


# ----------------------------------------------------------------------- the study

def game_of(config) -> Game:
    e = config.emergent
    return Game(e.n_attributes, e.n_values, e.message_length, e.vocab_size, e.hidden, e.candidates)


KIND_CHOICES = {"kind": ("resets", "no_resets")}


def phase_config(config: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
    """The run grid of the iterated-learning phase: kind (resets, no resets) x language seeds."""
    c = ml_collections.ConfigDict(config.to_dict())
    c.hp = ml_collections.ConfigDict(dict(kind="resets"))
    c.sweep = ml_collections.ConfigDict(dict(
        axes=ml_collections.ConfigDict(dict(kind=KIND_CHOICES["kind"])),
        n_seeds=config.emergent.language_seeds))
    return c


def generate_languages(config: ml_collections.ConfigDict, session: runner.Session
                       ) -> tuple[pd.DataFrame, np.ndarray, list[dict]]:
    """Every language: the iterated-learning runs (seeds x {resets, no resets}, one program,
    phase ``languages`` of the runner) plus two hand-made anchors (a perfectly
    compositional and a random holistic language)."""
    e, g = config.emergent, game_of(config)
    c = phase_config(config)
    grid = runner.make_grid(c, KIND_CHOICES)
    # Language seed s starts from fold_in(PRNGKey(seed), s) with and without resets.
    keys = jnp.stack([jax.random.fold_in(jax.random.PRNGKey(config.seed), row["seed"])
                      for row in grid.run_table()])
    trainer = make_iterated_learning(g, e)
    phase = runner.train_runs(c, trainer, session, "languages", choices=KIND_CHOICES, keys=keys)
    evaluate = runner.program(c, phase.executor, "languages", lambda: trainer.evaluate)
    messages = phase.gather(evaluate(phase.state, phase.hps, phase.keys))["messages"]
    last_acc = np.asarray(phase.history["game_accuracy"][-1], np.float32)
    # seed-major order: (seed 0, resets), (seed 0, no resets), (seed 1, resets), ...
    rows = grid.run_table()
    order = sorted(range(grid.n_runs), key=lambda r: (rows[r]["seed"], rows[r]["kind"] != "resets"))
    runs = [{"kind": rows[r]["kind"], "language_seed": rows[r]["seed"]} for r in order]
    messages, acc = np.asarray(messages)[order], last_acc[order]
    attrs = np.asarray(g.attributes())
    anchors = []
    if e.message_length == e.n_attributes and e.vocab_size >= e.n_values:
        perm = np.random.RandomState(config.seed).permutation(g.n_objects)
        anchors = [("compositional", attrs), ("holistic", attrs[perm])]
    all_msgs = [np.asarray(m) for m in messages] + [m for _, m in anchors]
    runs += [{"kind": k, "language_seed": 0} for k, _ in anchors]
    accs = list(acc) + [np.nan] * len(anchors)
    rows = []
    onehot_z = np.asarray(g.object_inputs())
    for i, (run, msg) in enumerate(zip(runs, all_msgs)):
        run.update(language=i, game_accuracy=float(accs[i]),
                   distinct_messages=int(len({tuple(m) for m in msg})),
                   topsim=float(topsim.topological_similarity(jnp.asarray(msg), jnp.asarray(onehot_z))))
        for o in range(g.n_objects):
            rows.append({"language": i, "kind": run["kind"], "language_seed": run["language_seed"],
                         "object": o, **{f"attr_{j}": int(attrs[o, j]) for j in range(e.n_attributes)},
                         **{f"token_{j}": int(msg[o, j]) for j in range(e.message_length)}})
    return pd.DataFrame(rows), np.stack(all_msgs), runs


def run(config: ml_collections.ConfigDict, session: runner.Session) -> None:
    """Generates the languages, codes them prequentially, writes the tables and figure."""
    e, g = config.emergent, game_of(config)
    workdir = session.workdir
    session.check_stop()
    languages, messages, runs = generate_languages(config, session)
    results_lib.write_table(workdir, "languages", languages)
    session.unit_done()
    cfg, coder = prequential_setup(e, g.n_objects)
    attrs = g.attributes()
    items = [(i, s) for i in range(len(runs)) for s in range(e.prequential_seeds)]
    data = [make_dataset(attrs, jnp.asarray(messages[i]), e.repeats,
                         jax.random.fold_in(jax.random.PRNGKey(config.seed + 1000 + s), i)) for i, s in items]
    w = jnp.stack([d[0] for d in data])
    z = jnp.stack([d[1] for d in data])
    keys = jnp.stack([jax.random.fold_in(jax.random.PRNGKey(config.seed + 2000 + s), i) for i, s in items])
    code = jax.device_get(jax.jit(lambda w, z, k: code_all(e, coder, cfg, w, z, k))(w, z, keys))
    n_train = g.n_objects * e.repeats - cfg.val_size
    k_z = n_train * e.n_attributes * math.log(e.n_values)
    bounds = cfg.bounds(g.n_objects * e.repeats)
    curve, res = [], []
    for j, (i, s) in enumerate(items):
        meta = {"language": i, "kind": runs[i]["kind"], "language_seed": runs[i]["language_seed"],
                "prequential_seed": s}
        for n_enc, cost in zip(bounds, code.block_costs[j]):
            curve.append({**meta, "data_encoded": int(n_enc), "block_cost": float(cost)})
        res.append({**meta, "k_data": float(code.k_data[j]), "k_data_given_f": float(code.k_data_given_f[j]),
                    "k_f": float(code.k_f[j]), "k_z": k_z, "c": k_z / float(code.k_data[j]),
                    "topsim": runs[i]["topsim"], "game_accuracy": runs[i]["game_accuracy"],
                    "distinct_messages": runs[i]["distinct_messages"]})
    curve, res = pd.DataFrame(curve), pd.DataFrame(res)
    results_lib.write_table(workdir, "curve", curve)
    results_lib.write_table(workdir, "results", res)
    plot(curve, res, os.path.join(workdir, "figure.png"))
    results_lib.atomic_write_text(os.path.join(workdir, "table.txt"), report(res) + "\n")


def report(res: pd.DataFrame) -> str:
    lines = [f"{'language':<14} {'n':>3} {'C ours':>13} {'C paper':>13} {'K(Data) ours':>15} "
             f"{'K(Data) paper':>15} {'topsim':>7} {'game acc':>8}"]
    for kind in KINDS:
        sub = res[res.kind == kind]
        if sub.empty:
            continue
        p = PAPER.get(kind)
        pc = f"{p['c'][0]:.3f}±{p['c'][1]:.3f}" if p else "-"
        pk = f"{p['k_data'][0]:.0f}±{p['k_data'][1]:.0f}" if p else "-"
        one = len(sub) == 1  # a single run has no spread: print its value alone
        c = f"{sub.c.mean():7.3f}" + ("" if one else f"±{sub.c.std(ddof=0):.3f}")
        k = f"{sub.k_data.mean():9.0f}" + ("" if one else f"±{sub.k_data.std(ddof=0):.0f}")
        lines.append(f"{kind:<14} {len(sub):>3} {c:>13} {pc:>13} {k:>15} {pk:>15} "
                     f"{sub.topsim.mean():7.3f} {sub.game_accuracy.mean():8.3f}")
    lines.append("n = runs (languages x prequential seeds); ours: mean±std over them; "
                 "paper: mean±std over 5 languages x 5 seeds, from the reference repository's "
                 "emergent_languages_results.csv (C = K(Z) / K(Data) per run)")
    return "\n".join(lines)


def plot(curve: pd.DataFrame, res: pd.DataFrame, path: str) -> None:
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(8, 2.8))
    for j, kind in enumerate(KINDS):
        sub = curve[curve.kind == kind]
        if sub.empty:
            continue
        m = sub.groupby("data_encoded").block_cost.agg(["mean", "std"]).reset_index()
        a1.plot(m.data_encoded, m["mean"], color=f"C{j}", lw=1, label=kind)
        a1.fill_between(m.data_encoded, m["mean"] - m["std"].fillna(0), m["mean"] + m["std"].fillna(0),
                        color=f"C{j}", alpha=0.2)
    a1.set_xlabel("data encoded (items)")
    a1.set_ylabel("block cost (nats)")
    a1.legend(fontsize=7)
    kinds = [k for k in KINDS if (res.kind == k).any()]
    a2.bar(range(len(kinds)), [res[res.kind == k].c.mean() for k in kinds],
           yerr=[res[res.kind == k].c.std(ddof=0) for k in kinds], color=[f"C{KINDS.index(k)}" for k in kinds])
    for x, k in enumerate(kinds):
        if k in PAPER:
            a2.plot([x], [PAPER[k]["c"][0]], "k*", ms=8)
    a2.set_xticks(range(len(kinds)), kinds, fontsize=7)
    a2.set_ylabel("C = K(Z) / K(Z|W)  (★ paper)")
    fig.tight_layout()
    results_lib.save_figure(fig, path, dpi=130)
    plt.close(fig)
