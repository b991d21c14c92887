"""Losses for imbalanced binary classification: focal loss, weighted BCE and the positive weight."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ._validation import check_choice, check_float

__all__ = ["focal_loss", "FocalLoss", "weighted_bce", "pos_weight_from_labels", "REDUCTIONS"]

#: How a per-example loss is reduced to one number, as in ``torch.nn`` losses.
REDUCTIONS = ("mean", "sum", "none")


def _check_alpha(alpha: Any) -> float | None:
    if alpha is None:
        return None
    return check_float("alpha", alpha, min_value=0.0, max_value=1.0)


def _check_binary_pair(logits: Any, targets: Any) -> None:
    if not isinstance(logits, torch.Tensor):
        raise TypeError(f"logits must be a torch.Tensor, got {type(logits).__name__}")
    if not isinstance(targets, torch.Tensor):
        raise TypeError(
            f"targets must be a torch.Tensor of 0/1 labels, got {type(targets).__name__}"
        )
    if logits.shape != targets.shape:
        raise ValueError(
            f"logits and targets must have the same shape (one logit per label), got "
            f"logits {tuple(logits.shape)} and targets {tuple(targets.shape)}; a model with one "
            f"output of shape (batch, 1) needs .squeeze(-1)"
        )
    if not targets.is_floating_point():
        raise TypeError(f"targets must be a float tensor of 0/1 labels, got dtype {targets.dtype}")


def focal_loss(
    logits: torch.Tensor,
    targets: torch.Tensor,
    alpha: float | None = 0.25,
    gamma: float = 2.0,
    reduction: str = "mean",
) -> torch.Tensor:
    """Binary focal loss on logits (Lin et al. 2017, "Focal Loss for Dense Object Detection", arXiv 1708.02002).

    With ``p = sigmoid(logit)`` and ``p_t = p`` for a positive, ``1 - p`` for a negative::

        FL = - alpha_t * (1 - p_t) ** gamma * log(p_t)
        alpha_t = alpha for positives, 1 - alpha for negatives   (alpha=None: alpha_t = 1)

    ``(1 - p_t) ** gamma`` shrinks the loss of examples the model already gets right, so the many
    easy negatives stop dominating the gradient. ``gamma=0, alpha=None`` is plain binary
    cross-entropy.

    **alpha=0.25 DOWN-weights the positives** (the rare class): positives get 0.25, negatives
    0.75. That surprises almost everyone — Lin et al. found it works *together with* gamma=2,
    because the focusing term has already removed most of the negatives' loss. To up-weight the
    rare class as ``pos_weight`` does, use ``alpha > 0.5``.

    Computed in log space — ``log(p_t) = -softplus(-z)``, ``log(1 - p_t) = -softplus(z)`` with
    ``z = logit`` for positives and ``-logit`` for negatives — so the value and the gradient stay
    finite even for logits of +-1000, where ``sigmoid`` rounds to exactly 0 or 1.

    Parameters
    ----------
    logits: raw model outputs, any shape.
    targets: 0/1 labels as a float tensor of the same shape (hard labels; soft labels are not
        supported by this log-space form).
    alpha: weight of the positive class in [0, 1], or ``None`` for no class weighting.
    gamma: focusing exponent, >= 0.
    reduction: ``"mean"``, ``"sum"`` or ``"none"`` (per-element losses).
    """
    _check_binary_pair(logits, targets)
    alpha = _check_alpha(alpha)
    gamma = check_float("gamma", gamma, min_value=0.0)
    check_choice("reduction", reduction, REDUCTIONS)

    signs = 2.0 * targets - 1.0  # +1 for positives, -1 for negatives
    z = logits * signs
    loss = F.softplus(-z)  # -log(p_t) == binary cross-entropy
    if gamma != 0.0:
        loss = loss * torch.exp(-gamma * F.softplus(z))  # (1 - p_t) ** gamma
    if alpha is not None:
        loss = loss * (alpha * targets + (1.0 - alpha) * (1.0 - targets))
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


class FocalLoss(nn.Module):
    """:func:`focal_loss` as a module, configured once: ``FocalLoss(alpha=0.25, gamma=2.0)(logits, targets)``."""

    def __init__(
        self, alpha: float | None = 0.25, gamma: float = 2.0, reduction: str = "mean"
    ) -> None:
        super().__init__()
        self.alpha = _check_alpha(alpha)
        self.gamma = check_float("gamma", gamma, min_value=0.0)
        self.reduction = check_choice("reduction", reduction, REDUCTIONS)

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Return the focal loss of ``logits`` against 0/1 ``targets``."""
        return focal_loss(logits, targets, self.alpha, self.gamma, self.reduction)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}, gamma={self.gamma}, reduction={self.reduction!r}"


def pos_weight_from_labels(y: Any) -> float:
    """Return ``n_neg / n_pos`` for 0/1 labels ``y``: the ``pos_weight`` that balances the classes.

    With it, ``BCEWithLogitsLoss(pos_weight=...)`` gives the positives as much total weight as the
    negatives (0.5 % fraud -> about 199). That is the same reweighting as scikit-learn's
    ``class_weight="balanced"`` up to a constant factor.
    """
    if isinstance(y, torch.Tensor):
        labels = y.detach().reshape(-1).to(torch.float64)
    else:
        try:
            labels = torch.as_tensor(y, dtype=torch.float64).reshape(-1)
        except (TypeError, ValueError, RuntimeError) as error:
            raise TypeError(
                f"y must be a tensor or array of 0/1 labels, got {type(y).__name__}"
            ) from error
    if labels.numel() == 0:
        raise ValueError("y must contain at least one label, got an empty array")
    is_binary = (labels == 0) | (labels == 1)
    if not bool(is_binary.all()):
        bad = labels[~is_binary][0].item()
        raise ValueError(f"y must contain only 0/1 labels, found {bad!r}")
    n_pos = int(labels.sum().item())
    n_neg = labels.numel() - n_pos
    if n_pos == 0 or n_neg == 0:
        raise ValueError(
            f"y must contain both classes to compute n_neg / n_pos, got {n_pos} positives and "
            f"{n_neg} negatives"
        )
    return n_neg / n_pos


def weighted_bce(pos_weight: float | torch.Tensor, reduction: str = "mean") -> nn.BCEWithLogitsLoss:
    """Return ``torch.nn.BCEWithLogitsLoss(pos_weight=...)`` built from a plain number.

    ``loss = -[pos_weight * y * log(sigmoid(z)) + (1 - y) * log(1 - sigmoid(z))]``: each positive
    counts ``pos_weight`` times. Typical use:
    ``weighted_bce(pos_weight_from_labels(data.y_train))``. This is only a convenience around
    the real torch loss (which wants ``pos_weight`` as a tensor).
    """
    if isinstance(pos_weight, torch.Tensor):
        if pos_weight.numel() != 1:
            raise ValueError(
                f"pos_weight must be a single number, got a tensor of shape {tuple(pos_weight.shape)}"
            )
        pos_weight = pos_weight.item()
    value = check_float("pos_weight", pos_weight, min_value=0.0, min_open=True)
    check_choice("reduction", reduction, REDUCTIONS)
    return nn.BCEWithLogitsLoss(pos_weight=torch.tensor(value), reduction=reduction)
