"""Tests for warmup_lib.losses: focal loss, weighted BCE and pos_weight_from_labels."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from warmup_lib.losses import FocalLoss, focal_loss, pos_weight_from_labels, weighted_bce

torch.set_num_threads(1)


def naive_focal(logits, targets, alpha, gamma):
    """The textbook formula in probability space (torchvision's sigmoid_focal_loss)."""
    p = torch.sigmoid(logits)
    ce = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    p_t = p * targets + (1 - p) * (1 - targets)
    loss = ce * (1 - p_t) ** gamma
    if alpha is not None:
        loss = (alpha * targets + (1 - alpha) * (1 - targets)) * loss
    return loss


def test_known_value_at_zero_logit():
    # p = 0.5 for both classes: FL = alpha_t * 0.5**2 * log 2.
    logits = torch.zeros(2)
    targets = torch.tensor([1.0, 0.0])
    losses = focal_loss(logits, targets, alpha=0.25, gamma=2.0, reduction="none")
    expected = torch.tensor([0.25, 0.75]) * 0.25 * math.log(2.0)
    torch.testing.assert_close(losses, expected)


def test_known_value_confident_positive():
    # logit log(3) -> p = 0.75: FL = 0.25 * 0.25**2 * -log(0.75)
    loss = focal_loss(torch.tensor([math.log(3.0)]), torch.tensor([1.0]), alpha=0.25, gamma=2.0)
    assert loss.item() == pytest.approx(0.25 * 0.0625 * -math.log(0.75), rel=1e-6)


@settings(max_examples=40, deadline=None)
@given(
    logits=st.lists(st.floats(-30, 30), min_size=1, max_size=20),
    seed=st.integers(0, 1000),
)
def test_gamma_zero_without_alpha_is_bce(logits, seed):
    x = torch.tensor(logits, dtype=torch.float64)
    y = torch.randint(0, 2, x.shape, generator=torch.Generator().manual_seed(seed)).double()
    torch.testing.assert_close(
        focal_loss(x, y, alpha=None, gamma=0.0), F.binary_cross_entropy_with_logits(x, y)
    )


@settings(max_examples=40, deadline=None)
@given(
    logits=st.lists(st.floats(-15, 15), min_size=1, max_size=20),
    alpha=st.one_of(st.none(), st.floats(0, 1)),
    gamma=st.floats(0, 5),
    seed=st.integers(0, 1000),
)
def test_matches_probability_space_formula(logits, alpha, gamma, seed):
    x = torch.tensor(logits, dtype=torch.float64)
    y = torch.randint(0, 2, x.shape, generator=torch.Generator().manual_seed(seed)).double()
    torch.testing.assert_close(
        focal_loss(x, y, alpha=alpha, gamma=gamma, reduction="none"),
        naive_focal(x, y, alpha, gamma),
        rtol=1e-6,
        atol=1e-12,
    )


@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0, 5.0])
def test_value_and_gradient_finite_for_extreme_logits(gamma):
    logits = torch.tensor([-1000.0, -100.0, 100.0, 1000.0, -1000.0, 1000.0], requires_grad=True)
    targets = torch.tensor([0.0, 0.0, 1.0, 1.0, 1.0, 0.0])
    loss = focal_loss(logits, targets, gamma=gamma)
    loss.backward()
    assert torch.isfinite(loss)
    assert torch.isfinite(logits.grad).all()
    # Confidently wrong examples (last two) keep a strong gradient; right ones get almost none.
    assert logits.grad[4] < 0 < logits.grad[5]
    assert logits.grad[:4].abs().max() < 1e-6


def test_alpha_quarter_down_weights_positives():
    # Mirror-image examples: a positive and a negative that are equally wrong.
    logits = torch.tensor([-1.0, 1.0])
    targets = torch.tensor([1.0, 0.0])
    positive, negative = focal_loss(logits, targets, alpha=0.25, reduction="none")
    assert positive.item() == pytest.approx(negative.item() / 3.0)


def test_focusing_shrinks_easy_examples_more():
    easy, hard = torch.tensor([3.0]), torch.tensor([-1.0])
    target = torch.tensor([1.0])
    ratio_easy = focal_loss(easy, target, None, 2.0) / focal_loss(easy, target, None, 0.0)
    ratio_hard = focal_loss(hard, target, None, 2.0) / focal_loss(hard, target, None, 0.0)
    assert ratio_easy < ratio_hard


def test_reductions_and_module():
    logits = torch.tensor([[0.3, -2.0], [1.5, 0.1]])
    targets = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    per_element = focal_loss(logits, targets, reduction="none")
    assert per_element.shape == logits.shape
    torch.testing.assert_close(focal_loss(logits, targets, reduction="sum"), per_element.sum())
    torch.testing.assert_close(focal_loss(logits, targets), per_element.mean())
    module = FocalLoss(alpha=0.25, gamma=2.0)
    torch.testing.assert_close(module(logits, targets), per_element.mean())
    assert "alpha=0.25" in repr(module)


@pytest.mark.parametrize(
    ("kwargs", "error", "name"),
    [
        ({"alpha": 1.5}, ValueError, "alpha"),
        ({"alpha": "0.25"}, TypeError, "alpha"),
        ({"gamma": -1.0}, ValueError, "gamma"),
        ({"reduction": "avg"}, ValueError, "reduction"),
    ],
)
def test_focal_bad_arguments(kwargs, error, name):
    with pytest.raises(error, match=name):
        focal_loss(torch.zeros(3), torch.zeros(3), **kwargs)
    with pytest.raises(error, match=name):
        FocalLoss(**kwargs)


def test_focal_shape_and_type_errors():
    with pytest.raises(ValueError, match="squeeze"):
        focal_loss(torch.zeros(4, 1), torch.zeros(4))
    with pytest.raises(TypeError, match="targets"):
        focal_loss(torch.zeros(4), torch.zeros(4, dtype=torch.int64))
    with pytest.raises(TypeError, match="logits"):
        focal_loss([0.0], torch.zeros(1))


def test_pos_weight_from_labels():
    y = torch.tensor([0.0] * 99 + [1.0])
    assert pos_weight_from_labels(y) == pytest.approx(99.0)
    assert pos_weight_from_labels(np.array([0, 1, 1, 0, 0])) == pytest.approx(1.5)
    assert pos_weight_from_labels([1, 0]) == 1.0


@pytest.mark.parametrize(
    ("labels", "error", "match"),
    [
        ([], ValueError, "at least one"),
        ([0, 0, 0], ValueError, "both classes"),
        ([1, 1], ValueError, "both classes"),
        ([0, 2, 1], ValueError, "0/1"),
        ("abc", TypeError, "y must"),
    ],
)
def test_pos_weight_from_labels_bad_input(labels, error, match):
    with pytest.raises(error, match=match):
        pos_weight_from_labels(labels)


def test_weighted_bce_is_torch_loss():
    loss_fn = weighted_bce(4.0)
    assert isinstance(loss_fn, torch.nn.BCEWithLogitsLoss)
    logits = torch.tensor([0.2, -1.0, 2.0])
    targets = torch.tensor([1.0, 0.0, 1.0])
    expected = -(4 * targets * F.logsigmoid(logits) + (1 - targets) * F.logsigmoid(-logits)).mean()
    torch.testing.assert_close(loss_fn(logits, targets), expected)
    assert weighted_bce(torch.tensor(4.0)).pos_weight.item() == 4.0
    with pytest.raises(ValueError, match="pos_weight"):
        weighted_bce(0.0)
    with pytest.raises(TypeError, match="pos_weight"):
        weighted_bce("balanced")
