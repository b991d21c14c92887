"""Tests for warmup_lib.models: MLP, TinyTransformerLM and FraudClassifier."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from warmup_lib.models import MLP, BigramLM, FraudClassifier, TinyTransformerLM

torch.set_num_threads(1)


def same_weights(a: nn.Module, b: nn.Module) -> bool:
    return all(
        torch.equal(p, q)
        for p, q in zip(a.state_dict().values(), b.state_dict().values(), strict=True)
    )


# ---------------------------------------------------------------------------------------- MLP


def test_mlp_layout_and_shape():
    mlp = MLP(64, 10, hidden=(256, 256), seed=0)
    assert [type(m) for m in mlp] == [nn.Linear, nn.ReLU, nn.Linear, nn.ReLU, nn.Linear]
    assert mlp(torch.randn(5, 64)).shape == (5, 10)
    assert (
        sum(p.numel() for p in mlp.parameters()) == 64 * 256 + 256 + 256 * 256 + 256 + 256 * 10 + 10
    )


@settings(max_examples=15, deadline=None)
@given(
    hidden=st.lists(st.integers(1, 16), max_size=3),
    in_features=st.integers(1, 8),
    out_features=st.integers(1, 5),
)
def test_mlp_output_shape_any_widths(hidden, in_features, out_features):
    mlp = MLP(in_features, out_features, hidden=hidden, seed=1)
    assert mlp(torch.randn(3, in_features)).shape == (3, out_features)


def test_mlp_seed_reproducible_and_leaves_global_rng_alone():
    state = torch.get_rng_state()
    a, b, c = MLP(8, 3, seed=7), MLP(8, 3, seed=7), MLP(8, 3, seed=8)
    assert torch.equal(state, torch.get_rng_state())
    assert same_weights(a, b)
    assert not same_weights(a, c)


def test_mlp_init_scale_multiplies_weights_only():
    base, scaled = MLP(8, 3, hidden=(16,), seed=3), MLP(8, 3, hidden=(16,), init_scale=2.5, seed=3)
    for layer, layer_scaled in zip(base, scaled, strict=True):
        if isinstance(layer, nn.Linear):
            torch.testing.assert_close(layer_scaled.weight, 2.5 * layer.weight)
            torch.testing.assert_close(layer_scaled.bias, layer.bias)


@pytest.mark.parametrize(
    ("norm", "layer_type"), [("layer", nn.LayerNorm), ("batch", nn.BatchNorm1d)]
)
def test_mlp_norms(norm, layer_type):
    mlp = MLP(4, 2, hidden=(8, 8), norm=norm, activation="tanh", seed=0)
    assert sum(isinstance(m, layer_type) for m in mlp) == 2
    assert sum(isinstance(m, nn.Tanh) for m in mlp) == 2
    assert mlp(torch.randn(6, 4)).shape == (6, 2)


def test_mlp_without_hidden_layers_is_linear():
    mlp = MLP(5, 1, hidden=(), seed=0)
    assert len(mlp) == 1 and isinstance(mlp[0], nn.Linear)


@pytest.mark.parametrize(
    ("kwargs", "error", "name"),
    [
        ({"in_features": 0}, ValueError, "in_features"),
        ({"out_features": 2.5}, ValueError, "out_features"),
        ({"hidden": 256}, TypeError, "hidden"),
        ({"hidden": (256, 0)}, ValueError, r"hidden\[1\]"),
        ({"activation": "sigmoidish"}, ValueError, "activation"),
        ({"norm": "group"}, ValueError, "norm"),
        ({"init_scale": 0.0}, ValueError, "init_scale"),
        ({"seed": -1}, ValueError, "seed"),
        ({"seed": "0"}, TypeError, "seed"),
    ],
)
def test_mlp_bad_arguments(kwargs, error, name):
    args = {"in_features": 4, "out_features": 2, **kwargs}
    with pytest.raises(error, match=name):
        MLP(**args)


# -------------------------------------------------------------------------------- transformer


def small_lm(**kwargs) -> TinyTransformerLM:
    settings_ = {
        "vocab_size": 11,
        "seq_len": 8,
        "d_model": 16,
        "n_heads": 2,
        "n_layers": 2,
        "d_ff": 32,
        "seed": 0,
    }
    return TinyTransformerLM(**{**settings_, **kwargs})


def test_transformer_forward_shape_and_shorter_sequences():
    model = small_lm()
    tokens = torch.randint(0, 11, (3, 8))
    assert model(tokens).shape == (3, 8, 11)
    assert model(tokens[:, :5]).shape == (3, 5, 11)


@pytest.mark.parametrize("norm_first", [False, True])
def test_transformer_is_causal(norm_first):
    model = small_lm(norm_first=norm_first).eval()
    tokens = torch.randint(0, 11, (2, 8), generator=torch.Generator().manual_seed(0))
    changed = tokens.clone()
    changed[:, 5] = (changed[:, 5] + 1) % 11  # change a "future" token
    with torch.no_grad():
        before, after = model(tokens), model(changed)
    torch.testing.assert_close(before[:, :5], after[:, :5], rtol=0, atol=1e-6)
    assert not torch.allclose(before[:, 5:], after[:, 5:])


def test_pre_ln_and_post_ln_switch():
    post, pre = small_lm(norm_first=False), small_lm(norm_first=True)
    assert all(not layer.norm_first for layer in post.encoder.layers)
    assert all(layer.norm_first for layer in pre.encoder.layers)
    assert post.encoder.norm is None
    assert isinstance(pre.encoder.norm, nn.LayerNorm)
    assert "post-LN" in repr(post) and "pre-LN" in repr(pre)
    tokens = torch.randint(0, 11, (2, 8))
    assert not torch.allclose(post(tokens), pre(tokens))


def test_transformer_seed_reproducible_and_default_size():
    assert same_weights(small_lm(seed=4), small_lm(seed=4))
    model = TinyTransformerLM(32, 24, seed=0)  # the size the notebooks train
    assert (model.d_model, model.n_heads, model.n_layers, model.d_ff) == (64, 4, 6, 256)
    assert len(model.encoder.layers) == 6


def test_transformer_learns_a_deterministic_sequence():
    # Next token = current + 1 (mod 11): a few Adam steps must drive the loss well below chance.
    model = small_lm(norm_first=True)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    start = torch.randint(0, 11, (16, 1), generator=torch.Generator().manual_seed(0))
    sequence = (start + torch.arange(9)) % 11
    tokens, targets = sequence[:, :-1], sequence[:, 1:]
    for _ in range(40):
        optimizer.zero_grad()
        loss = F.cross_entropy(model(tokens).reshape(-1, 11), targets.reshape(-1))
        loss.backward()
        optimizer.step()
    assert loss.item() < 0.5 * math.log(11)


@pytest.mark.parametrize(
    ("kwargs", "error", "name"),
    [
        ({"vocab_size": 1}, ValueError, "vocab_size"),
        ({"seq_len": 0}, ValueError, "seq_len"),
        ({"d_model": 10, "n_heads": 4}, ValueError, "n_heads must divide d_model"),
        ({"n_layers": 0}, ValueError, "n_layers"),
        ({"d_ff": -3}, ValueError, "d_ff"),
        ({"dropout": 1.0}, ValueError, "dropout"),
        ({"norm_first": 1}, TypeError, "norm_first"),
    ],
)
def test_transformer_bad_arguments(kwargs, error, name):
    with pytest.raises(error, match=name):
        small_lm(**kwargs)


def test_transformer_bad_tokens():
    model = small_lm()
    with pytest.raises(ValueError, match="length 9"):
        model(torch.zeros(2, 9, dtype=torch.int64))
    with pytest.raises(ValueError, match="2-D"):
        model(torch.zeros(8, dtype=torch.int64))
    with pytest.raises(TypeError, match="int64"):
        model(torch.zeros(2, 8))


# --------------------------------------------------------------------------- fraud classifier


def test_fraud_classifier_bias_is_base_rate_log_odds():
    model = FraudClassifier(6, hidden=(8,), base_rate=0.005, seed=0)
    assert model.output_layer.bias.item() == pytest.approx(math.log(0.005 / 0.995), rel=1e-6)
    logits = model(torch.randn(100, 6, generator=torch.Generator().manual_seed(1)))
    assert logits.shape == (100,)
    # The untrained model already predicts roughly the base rate rather than 50 %.
    assert torch.sigmoid(logits).mean().item() < 0.05


def test_fraud_classifier_default_bias_and_logistic_regression():
    assert FraudClassifier(6, seed=0).output_layer.bias.abs().item() < 1.0
    logistic = FraudClassifier(6, hidden=(), base_rate=0.5, seed=0)
    assert logistic.output_layer.bias.item() == 0.0
    assert sum(isinstance(m, nn.Linear) for m in logistic.modules()) == 1


@pytest.mark.parametrize(
    ("kwargs", "error", "name"),
    [
        ({"base_rate": 0.0}, ValueError, "base_rate"),
        ({"base_rate": 1.0}, ValueError, "base_rate"),
        ({"base_rate": "1%"}, TypeError, "base_rate"),
        ({"in_features": 0}, ValueError, "in_features"),
        ({"hidden": (0,)}, ValueError, "hidden"),
    ],
)
def test_fraud_classifier_bad_arguments(kwargs, error, name):
    with pytest.raises(error, match=name):
        FraudClassifier(**{"in_features": 4, **kwargs})


def test_fraud_classifier_predict_proba_is_the_sigmoid_of_the_logit():
    model = FraudClassifier(5, base_rate=0.01, seed=0)
    x = torch.randn(7, 5, generator=torch.Generator().manual_seed(0))
    probs = model.predict_proba(x)
    assert isinstance(probs, np.ndarray) and probs.shape == (7,)
    np.testing.assert_allclose(probs, torch.sigmoid(model(x)).detach().numpy(), rtol=1e-6)
    assert model.training, "predict_proba must restore training mode"
    with pytest.raises(ValueError, match="x must be"):
        model.predict_proba(torch.randn(3, 4))


def test_bigram_lm_is_seeded_without_touching_global_state_and_learns_the_floor():
    from warmup_lib.data import make_bigram_language
    from warmup_lib.training import train

    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    a, b = BigramLM(32, seed=4), BigramLM(32, seed=4)
    assert torch.equal(torch.random.get_rng_state(), before)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))
    lang = make_bigram_language(n_train=1024, n_val=256, n_test=256)
    assert a(lang.X_val[:2]).shape == (2, lang.X_val.shape[1], 32)
    history = train(a, torch.optim.Adam(a.parameters(), lr=0.05), None, lang, steps=150, batch_size=32)
    assert history.final_val_loss < lang.info["best_loss"] + 0.1
    with pytest.raises(ValueError, match="vocab_size"):
        BigramLM(1)
