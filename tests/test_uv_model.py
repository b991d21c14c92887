"""Tests for warmup_lib.uv_model: the u·v model's loss, exact sharpness and gradient descent."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from warmup_lib import uv_model

finite = st.floats(-3, 3, allow_nan=False)


@settings(max_examples=60, deadline=None)
@given(finite, finite, st.floats(-2, 2, allow_nan=False))
def test_sharpness_is_the_top_eigenvalue_of_the_autograd_hessian(u, v, target):
    point = torch.tensor([u, v], dtype=torch.float64)
    hessian = torch.autograd.functional.hessian(lambda w: 0.5 * (w[0] * w[1] - target) ** 2, point)
    top = torch.linalg.eigvalsh(hessian).max().item()
    assert uv_model.sharpness(u, v, target) == pytest.approx(top, rel=1e-9, abs=1e-9)


def test_on_the_valley_floor_the_loss_is_zero_and_the_sharpness_is_u2_plus_v2():
    u = np.linspace(0.3, 3, 7)
    v = 1 / u
    assert np.allclose(uv_model.loss(u, v), 0)
    assert np.allclose(uv_model.sharpness(u, v), u**2 + v**2)
    assert uv_model.sharpness(1.0, 1.0) == pytest.approx(2.0)  # the flattest minimum
    grid_u, grid_v = np.meshgrid(np.linspace(-1, 1, 4), np.linspace(-1, 1, 3))
    assert uv_model.loss(grid_u, grid_v).shape == (3, 4)


def test_a_descent_step_follows_the_autograd_gradient():
    lrs = np.array([0.1, 0.2])
    run = uv_model.descend((2.0, 0.5), lrs)
    w = torch.tensor([2.0, 0.5], dtype=torch.float64, requires_grad=True)
    for lr in lrs:
        loss = 0.5 * (w[0] * w[1] - 1) ** 2
        (gradient,) = torch.autograd.grad(loss, w)
        w = (w - lr * gradient).detach().requires_grad_(True)
    assert (run["u"].iloc[-1], run["v"].iloc[-1]) == pytest.approx(tuple(w.tolist()))
    assert list(run["step"]) == [0, 1, 2]
    assert list(run["lr"][:2]) == [0.1, 0.2] and np.isnan(run["lr"].iloc[-1])
    assert not run["diverged"].any()


def test_a_small_learning_rate_lands_on_the_floor_and_a_large_first_step_overshoots():
    start = (2.8, -0.1)
    lam = uv_model.sharpness(*start)
    settled = uv_model.descend(start, np.full(400, 0.5 / lam))
    assert settled["loss"].iloc[-1] < 1e-8 and not settled["diverged"].iloc[0]
    blown = uv_model.descend(start, np.full(50, 5.0 / lam))
    assert blown["diverged"].all() and len(blown) < 51
    assert blown["loss"].iloc[1] > blown["loss"].iloc[0]  # the first step lands higher
    assert (np.abs(blown[["u", "v"]]).sum(axis=1) <= 100).all()  # stopped before leaving


def test_threshold_is_two_over_lr_and_infinite_at_lr_zero():
    run = uv_model.descend((1.5, 0.5), np.array([0.0, 0.5]))
    assert run["threshold"].iloc[0] == np.inf and run["threshold"].iloc[1] == pytest.approx(4.0)


def test_noise_is_seeded():
    lrs = np.full(50, 0.1)
    first = uv_model.descend((2.0, 0.2), lrs, noise=0.05, seed=3)
    assert first.equals(uv_model.descend((2.0, 0.2), lrs, noise=0.05, seed=3))
    assert not first.equals(uv_model.descend((2.0, 0.2), lrs, noise=0.05, seed=4))
    assert not first.equals(uv_model.descend((2.0, 0.2), lrs))


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="start"):
        uv_model.descend((1.0, 2.0, 3.0), [0.1])
    with pytest.raises(TypeError, match="start"):
        uv_model.descend(1.0, [0.1])
    with pytest.raises(ValueError, match="lrs"):
        uv_model.descend((1.0, 2.0), [])
    with pytest.raises(ValueError, match="lrs"):
        uv_model.descend((1.0, 2.0), [0.1, -0.1])
    with pytest.raises(ValueError, match="noise"):
        uv_model.descend((1.0, 2.0), [0.1], noise=-1)
    with pytest.raises(ValueError, match="escape"):
        uv_model.descend((1.0, 2.0), [0.1], escape=0)
    with pytest.raises(TypeError, match="u must be"):
        uv_model.loss("a", 1.0)
