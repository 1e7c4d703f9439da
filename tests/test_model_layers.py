"""The shared model pieces (jaxlab.models.attention, jaxlab.models.layers) against direct
numpy computations, at tiny shapes."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxlab.models.attention import (MultiHeadAttention, causal_mask, dot_product_attention,
                                     merge_heads, split_heads)
from jaxlab.models.layers import sinusoidal_encoding

B, H, TQ, TK, DH = 2, 2, 3, 5, 4
D = H * DH


def _np_attention(q, k, v, mask):
    """Loop over batch, head and query: softmax over the visible keys only."""
    out = np.zeros(q.shape[:-1] + (v.shape[-1],))
    for b, h, i in np.ndindex(*q.shape[:-1]):
        keys = np.flatnonzero(mask[b, h, i])
        s = np.array([q[b, h, i] @ k[b, h, j] for j in keys]) / np.sqrt(q.shape[-1])
        w = np.exp(s - s.max())
        out[b, h, i] = (w / w.sum()) @ v[b, h, keys]
    return out


def _rand(seed, *shape):
    return np.random.default_rng(seed).normal(size=shape).astype(np.float32)


def test_dot_product_attention_matches_numpy_with_a_mask():
    q, k, v = _rand(0, B, H, TQ, DH), _rand(1, B, H, TK, DH), _rand(2, B, H, TK, DH)
    mask = np.random.default_rng(3).random((B, 1, TQ, TK)) < 0.6
    mask[..., 0] = True  # every query sees at least one key
    got = jax.jit(dot_product_attention)(*map(jnp.asarray, (q, k, v, mask)))
    want = _np_attention(q, k, v, np.broadcast_to(mask, (B, H, TQ, TK)))
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-5, atol=1e-6)


def test_self_key_is_one_extra_key_per_query():
    """self_kv = attention over [k, k_self[i]] for query i, computed key by key."""
    q, k, v = _rand(0, B, H, TQ, DH), _rand(1, B, H, TK, DH), _rand(2, B, H, TK, DH)
    ks, vs = _rand(4, B, H, TQ, DH), _rand(5, B, H, TQ, DH)
    mask = np.arange(TK)[None, :] < np.arange(TQ)[:, None] + 1                # (TQ, TK)
    got = jax.jit(dot_product_attention)(*map(jnp.asarray, (q, k, v, mask)),
                                         self_kv=(jnp.asarray(ks), jnp.asarray(vs)))
    want = np.zeros_like(q)
    for i in range(TQ):
        k_i = np.concatenate([k, ks[:, :, i : i + 1]], axis=2)
        v_i = np.concatenate([v, vs[:, :, i : i + 1]], axis=2)
        m_i = np.broadcast_to(np.append(mask[i], True), (B, H, 1, TK + 1))
        want[:, :, i] = _np_attention(q[:, :, i : i + 1], k_i, v_i, m_i)[:, :, 0]
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-5, atol=1e-6)


def test_heads_split_and_merge_are_inverse():
    a = jnp.asarray(_rand(0, B, TQ, D))
    heads = split_heads(a, H)
    assert heads.shape == (B, H, TQ, DH)
    np.testing.assert_array_equal(np.asarray(heads[:, 1, :, :]), np.asarray(a[..., DH:]))
    np.testing.assert_array_equal(np.asarray(merge_heads(heads)), np.asarray(a))


@pytest.mark.parametrize("fused,head_dim,bias", [(True, None, True), (False, None, True),
                                                   (True, 3, False), (False, 7, False)])
def test_module_is_projections_around_the_attention(fused, head_dim, bias):
    """MultiHeadAttention = Dense projections + dot_product_attention + output Dense; with
    ``head_dim`` set, H heads of that width (inner width H * head_dim != D)."""
    dh = DH if head_dim is None else head_dim
    h, memory = _rand(0, B, TQ, D), _rand(1, B, TK, D)
    mask = causal_mask(TQ) if fused else jnp.ones((TQ, TK), bool).at[0, 2:].set(False)
    mod = MultiHeadAttention(H, fused_qkv=fused, head_dim=head_dim, use_bias=bias)
    args = (h,) if fused else (h, memory)
    params = jax.jit(mod.init)(jax.random.PRNGKey(0), *args, mask=mask)
    got = jax.jit(mod.apply)(params, *args, mask=mask)
    p = jax.tree.map(np.asarray, params["params"])
    assert all(("bias" in p[name]) == bias for name in p)
    lin = lambda a, name: a @ p[name]["kernel"] + (p[name]["bias"] if bias else 0.0)
    if fused:
        q, k, v = np.split(lin(h, "qkv"), 3, axis=-1)
    else:
        q, (k, v) = lin(h, "q"), np.split(lin(memory, "kv"), 2, axis=-1)
    assert q.shape[-1] == H * dh and p["out"]["kernel"].shape == (H * dh, D)
    heads = lambda a: a.reshape(B, a.shape[1], H, dh).transpose(0, 2, 1, 3)
    att = _np_attention(heads(q), heads(k), heads(v),
                        np.broadcast_to(np.asarray(mask), (B, H) + mask.shape))
    want = lin(att.transpose(0, 2, 1, 3).reshape(B, TQ, H * dh), "out")
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-4, atol=1e-5)


def test_causal_attention_ignores_later_tokens():
    t = 6
    mod = MultiHeadAttention(H)
    h = jnp.asarray(_rand(0, B, t, D))
    apply = jax.jit(lambda params, h: mod.apply(params, h, mask=causal_mask(t)))
    params = jax.jit(mod.init)(jax.random.PRNGKey(0), h, mask=causal_mask(t))
    base, changed = apply(params, h), apply(params, h.at[:, 4].add(3.0))
    np.testing.assert_array_equal(np.asarray(changed[:, :4]), np.asarray(base[:, :4]))
    assert not np.allclose(np.asarray(changed[:, 4]), np.asarray(base[:, 4]))


def test_fused_qkv_refuses_a_memory():
    h = jnp.zeros((1, 2, D))
    with pytest.raises(ValueError, match="self-attention only"):
        MultiHeadAttention(H).init(jax.random.PRNGKey(0), h, h)


@pytest.mark.parametrize("interleave", [False, True])
def test_sinusoidal_encoding_matches_the_formula(interleave):
    d, pos = 6, np.array([[0, 1, 7], [3, 20, 100]])
    encode = jax.jit(sinusoidal_encoding, static_argnums=(1, 2))
    got = np.asarray(encode(jnp.asarray(pos), d, interleave))
    assert got.shape == (2, 3, d)
    for idx in np.ndindex(*pos.shape):
        for i in range(d // 2):
            angle = pos[idx] / 10000.0 ** (2 * i / d)
            s, c = (2 * i, 2 * i + 1) if interleave else (i, d // 2 + i)
            np.testing.assert_allclose(got[idx][[s, c]], [np.sin(angle), np.cos(angle)],
                                       atol=2e-5)


def test_sinusoidal_encoding_needs_an_even_width():
    with pytest.raises(ValueError, match="even"):
        sinusoidal_encoding(jnp.arange(3), 5)
