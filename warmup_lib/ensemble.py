"""Stacked networks: K models of one architecture held as one, so that K runs train in one loop.

:func:`stack_models` takes K freshly built models (e.g. ``MLP(..., seed=s)`` for K seeds) and
returns a :class:`StackedNet`: every weight becomes one tensor with a leading member axis
``(K, ...)``, every layer one batched operation (``torch.baddbmm`` for a Linear layer), and one
elementwise optimizer over the stacked weights is exactly K independent optimizers. The
:func:`~warmup_lib.training.run_steps` loop trains it like a single model; member k computes
what ``models[k]`` would compute, up to floating-point rounding (batched kernels add in another
order).

Supported: :class:`~warmup_lib.models.MLP` and other ``nn.Sequential`` stacks of Linear,
LayerNorm and elementwise activations, :class:`~warmup_lib.models.FraudClassifier`, and
:class:`~warmup_lib.models.TinyTransformerLM` without dropout (pre-LN and post-LN). Anything
else raises :class:`NotStackable`, whose message says why.

Why: a step of these small models is mostly fixed cost (Python, launching many small
operations, one optimizer kernel per tensor) and small matrix products. K members at once pay
the fixed costs once and multiply K times larger matrices, which a CPU runs closer to its peak
rate (``python benchmarks/run.py`` measures both).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .models import FraudClassifier, TinyTransformerLM
from .training import Criterion, eval_chunk_rows

__all__ = ["NotStackable", "StackedNet", "StackedMLP", "StackedTransformer", "stack_models"]

# torch.nn.utils.clip_grad_norm_ divides by (norm + 1e-6); the stacked clip does the same per member.
_CLIP_EPS = 1e-6

_ACTIVATIONS = (
    nn.ReLU,
    nn.GELU,
    nn.Tanh,
    nn.SiLU,
    nn.LeakyReLU,
    nn.Sigmoid,
    nn.Identity,
    nn.ELU,
    nn.Softplus,
)


class NotStackable(ValueError):
    """These models cannot be trained as one stacked network; the message says why."""


class StackedNet:
    """K models as one: weights ``(K, ...)``, one batched forward, per-member measurements.

    Implements the :class:`~warmup_lib.training.Members` protocol of the training loop.
    Subclasses set ``self.params`` (the stacked leaf tensors, in a fixed order) and implement
    :meth:`forward` on inputs with a leading member axis.
    """

    params: list[torch.Tensor]

    def __init__(self, criterion: Criterion) -> None:
        if not criterion.batched:
            raise NotStackable(
                f"the loss {criterion.name!r} is a function with no per-member form; use "
                "loss='auto', 'cross_entropy', 'bce' or 'focal'"
            )
        self.criterion = criterion

    # -- layout -----------------------------------------------------------------------------

    @property
    def count(self) -> int:
        """Members still training."""
        return self.params[0].shape[0]

    def _layout(self) -> None:
        """(Re)build the buffers that follow the stacked weights: the snapshot for update ratios.

        The snapshot is one ``(K, n_parameters)`` tensor, so per-member norms are one reduction;
        ``_snapshot_views`` are its slices shaped like each weight.
        """
        members = self.count
        sizes = [math.prod(p.shape[1:]) for p in self.params]
        self._snapshot = torch.empty(members, sum(sizes))
        self._snapshot_views = [
            piece.view(p.shape)
            for piece, p in zip(torch.split(self._snapshot, sizes, dim=1), self.params, strict=True)
        ]

    def _per_member(self, values: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        """``values`` ``(K,)`` shaped to broadcast against ``like`` ``(K, ...)``."""
        return values.view(-1, *([1] * (like.dim() - 1)))

    # -- the Members protocol ----------------------------------------------------------------

    def zero_grad(self, optimizer: torch.optim.Optimizer) -> None:
        for param in self.params:
            param.grad = None

    def batch(
        self, X: torch.Tensor, y: torch.Tensor, index: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Member k's rows ``X[index[k]]`` as ``(K, batch, ...)``; full batch: ``X`` shared."""
        if index is None:
            return X, y.expand(self.count, *y.shape)
        return X[index], y[index]

    def forward(self, X: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def first_output(
        self, outputs: torch.Tensor, targets: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        return outputs[0], targets[0]

    def losses(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return self.criterion.per_member(outputs, targets)

    def eval_outputs(self, X: torch.Tensor, rows: list[int]) -> torch.Tensor:
        """Outputs ``(len(rows), n, ...)`` of the members at ``rows`` on the shared ``X``."""
        chunk = eval_chunk_rows(X, self.count)
        outputs = torch.cat(
            [self.forward(X[i : i + chunk]) for i in range(0, len(X), chunk)], dim=1
        )
        return outputs if len(rows) == self.count else outputs[rows]

    def eval_losses(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return self.criterion.per_member(outputs, targets.expand(len(outputs), *targets.shape))

    def _member_norms(self, tensors: Sequence[torch.Tensor]) -> torch.Tensor:
        """``sqrt(sum_t ||t[k]||^2)`` per member, as the norm of per-tensor norms: the structure
        of ``clip_grad_norm_`` on one model, so the numbers agree to rounding."""
        per_tensor = [torch.linalg.vector_norm(t.reshape(len(t), -1), dim=1) for t in tensors]
        return torch.linalg.vector_norm(torch.stack(per_tensor), dim=0)

    @torch.no_grad()
    def update(
        self,
        optimizer: torch.optim.Optimizer,
        grad_clip: float | None,
        scales: torch.Tensor | None,
    ) -> torch.Tensor:
        """Clip each member by its own norm, step, and rescale each member's update by ``scales``.

        ``scales`` (``(K,)`` or None) implements per-member learning rates with one optimizer:
        the optimizer steps at a reference LR and member k's update is multiplied by
        ``lr_k / lr_ref``. Exact for torch's elementwise optimizers, whose update is linear in
        the LR given the gradient history (Adam's moments, SGD's momentum buffer, weight decay
        ``lr * wd * w``). Returns ``(2, K)``: gradient norms (before clipping) and update ratios.
        """
        grads = [p.grad for p in self.params]
        grad_norm = self._member_norms(grads)
        if grad_clip is not None:
            coef = (grad_clip / (grad_norm + _CLIP_EPS)).clamp(max=1.0)
            torch._foreach_mul_(grads, [self._per_member(coef, g) for g in grads])
        weights = [p.detach() for p in self.params]
        torch._foreach_copy_(self._snapshot_views, weights)
        weight_norm = torch.linalg.vector_norm(self._snapshot, dim=1)
        optimizer.step()
        torch._foreach_sub_(self._snapshot_views, weights)  # now w_before - w_after
        if scales is None:
            update_ratio = torch.linalg.vector_norm(self._snapshot, dim=1) / weight_norm
        else:
            # w_after + (1 - s)(w_before - w_after) = w_before + s (w_after - w_before)
            keep = 1.0 - scales
            torch._foreach_addcmul_(
                weights, self._snapshot_views, [self._per_member(keep, w) for w in weights]
            )
            update_ratio = scales * torch.linalg.vector_norm(self._snapshot, dim=1) / weight_norm
        return torch.stack([grad_norm, update_ratio])

    def keep(self, keep: torch.Tensor, optimizer: torch.optim.Optimizer) -> None:
        """Drop the members where ``keep`` is False from the weights and the optimizer state.

        The kept rows become new leaf tensors (autograd remembers a leaf's shape, so shrinking
        one in place is not allowed) that replace the old ones in the optimizer.
        """
        members = self.count
        replaced = {}
        with torch.no_grad():
            for i, param in enumerate(self.params):
                new = param.detach()[keep].clone().requires_grad_()
                state = optimizer.state.pop(param, None)
                if state is not None:
                    optimizer.state[new] = {
                        key: value[keep].clone()
                        if isinstance(value, torch.Tensor)
                        and value.dim() >= 1
                        and value.shape[0] == members
                        else value
                        for key, value in state.items()
                    }
                replaced[id(param)] = new
                self.params[i] = new
        for group in optimizer.param_groups:
            group["params"] = [replaced.get(id(p), p) for p in group["params"]]
        self._after_keep(keep)
        self._layout()

    def _after_keep(self, keep: torch.Tensor) -> None:
        """Hook for subclasses whose non-weight buffers have a member axis."""


def _stack(tensors: Sequence[torch.Tensor]) -> torch.Tensor:
    """One weight of every member, stacked into a new leaf tensor ``(K, ...)``."""
    return torch.stack([t.detach() for t in tensors]).contiguous().requires_grad_()


def _linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """``x @ weight + bias`` per member: ``x`` ``(K, n, in)`` or shared ``(n, in)``, ``weight``
    ``(K, in, out)`` (the transposed ``nn.Linear.weight``), ``bias`` ``(K, 1, out)``."""
    if x.dim() == 3 and bias is not None:
        return torch.baddbmm(bias, x, weight)
    out = torch.matmul(x, weight)  # a shared (n, in) broadcasts over the members
    return out if bias is None else out + bias


def _layer_norm(
    x: torch.Tensor, eps: float, weight: torch.Tensor | None, bias: torch.Tensor | None
) -> torch.Tensor:
    """LayerNorm over the last axis with member-wise affine ``weight``, ``bias`` ``(K, 1, d)``."""
    x = F.layer_norm(x, x.shape[-1:], None, None, eps)
    if weight is not None and bias is not None:
        return torch.addcmul(bias, x, weight)
    if weight is not None:
        x = x * weight
    return x if bias is None else x + bias


def _same_architecture(models: Sequence[nn.Module]) -> None:
    def shapes(model: nn.Module) -> list[tuple[str, tuple[int, ...], bool]]:
        return [(name, tuple(p.shape), p.requires_grad) for name, p in model.named_parameters()]

    reference = (type(models[0]), shapes(models[0]))
    for index, model in enumerate(models[1:], start=1):
        if (type(model), shapes(model)) != reference:
            raise ValueError(
                f"model must build the same architecture for every seed; member {index} differs "
                "from member 0"
            )
    if any(not p.requires_grad for p in models[0].parameters()):
        raise NotStackable("models with frozen parameters (requires_grad=False) are not stacked")


class StackedMLP(StackedNet):
    """K ``nn.Sequential`` stacks of Linear, LayerNorm and elementwise activations (MLP,
    FraudClassifier) as one. Inputs ``(K, batch, in)`` or a shared ``(batch, in)``."""

    def __init__(self, models: Sequence[nn.Module], criterion: Criterion) -> None:
        super().__init__(criterion)
        self.squeeze = isinstance(models[0], FraudClassifier)
        layer_lists = [list(model.net if self.squeeze else model) for model in models]
        self.params = []
        self.ops: list[tuple[str, Any]] = []
        for position, layer in enumerate(layer_lists[0]):
            same = [layers[position] for layers in layer_lists]
            if isinstance(layer, nn.Linear):
                weight = self._add([m.weight.t() for m in same])
                bias = self._add([m.bias[None] for m in same]) if layer.bias is not None else None
                self.ops.append(("linear", (weight, bias)))
            elif isinstance(layer, nn.LayerNorm):
                weight = (
                    self._add([m.weight[None] for m in same]) if layer.weight is not None else None
                )
                bias = self._add([m.bias[None] for m in same]) if layer.bias is not None else None
                self.ops.append(("layer_norm", (layer.eps, weight, bias)))
            else:
                self.ops.append(("activation", layer))
        if not self.params:
            raise NotStackable("the model has no parameters to train")
        self._layout()

    def _add(self, tensors: list[torch.Tensor]) -> int:
        self.params.append(_stack(tensors))
        return len(self.params) - 1

    @staticmethod
    def check(model: nn.Module) -> None:
        """Raise :class:`NotStackable` unless ``model`` is an MLP-like ``nn.Sequential``."""
        if isinstance(model, FraudClassifier) and type(model).forward is FraudClassifier.forward:
            model = model.net
        if type(model).forward is not nn.Sequential.forward:
            raise NotStackable(
                f"only nn.Sequential models (MLP, FraudClassifier) and TinyTransformerLM are "
                f"stacked; {type(model).__name__} has its own forward(), so its seeds train one "
                "after another"
            )
        for layer in model:
            if isinstance(layer, (nn.Linear, *_ACTIVATIONS)):
                continue
            if isinstance(layer, nn.LayerNorm) and len(layer.normalized_shape) == 1:
                continue
            raise NotStackable(
                f"layer {layer!r} is not stacked (supported: Linear, LayerNorm and elementwise "
                "activations; BatchNorm keeps running statistics per model)"
            )

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        """Outputs ``(K, batch, out)`` for member inputs ``(K, batch, in)`` or a shared ``(batch, in)``."""
        x, params = X, self.params
        for kind, args in self.ops:
            if kind == "linear":
                weight, bias = args
                x = _linear(x, params[weight], None if bias is None else params[bias])
            elif kind == "layer_norm":
                eps, weight, bias = args
                x = _layer_norm(
                    x,
                    eps,
                    None if weight is None else params[weight],
                    None if bias is None else params[bias],
                )
            else:
                x = args(x)
        return x.squeeze(-1) if self.squeeze else x


class StackedTransformer(StackedNet):
    """K :class:`~warmup_lib.models.TinyTransformerLM` as one (pre-LN or post-LN, no dropout).

    The forward pass is the one of ``nn.TransformerEncoderLayer`` in training mode, written out
    with stacked weights: each projection is one ``baddbmm`` over the K members; attention is
    ``softmax(q k^T / sqrt(d_head) + causal mask) v`` over the K x batch x heads sequences at
    once (torch's fused attention kernel is slower than two batched products at these sizes).
    Tokens ``(K, batch, length)`` or a shared ``(batch, length)`` -> logits ``(K, batch, length, vocab)``.
    """

    def __init__(self, models: Sequence[TinyTransformerLM], criterion: Criterion) -> None:
        super().__init__(criterion)
        first = models[0]
        self.vocab_size, self.d_model, self.n_heads = first.vocab_size, first.d_model, first.n_heads
        self.norm_first = first.norm_first
        layers = [[model.encoder.layers[i] for model in models] for i in range(first.n_layers)]
        self.activation = first.encoder.layers[0].activation
        self.params = []
        self.token_embedding = self._add([m.token_embedding.weight for m in models])
        self.position_embedding = self._add([m.position_embedding.weight for m in models])
        self.layers: list[dict[str, Any]] = []
        for same in layers:
            attention = [layer.self_attn for layer in same]
            self.layers.append(
                {
                    "qkv": (
                        self._add([a.in_proj_weight.t() for a in attention]),
                        self._add([a.in_proj_bias[None] for a in attention]),
                    ),
                    "out": (
                        self._add([a.out_proj.weight.t() for a in attention]),
                        self._add([a.out_proj.bias[None] for a in attention]),
                    ),
                    "norm1": (
                        same[0].norm1.eps,
                        self._add([layer.norm1.weight[None] for layer in same]),
                        self._add([layer.norm1.bias[None] for layer in same]),
                    ),
                    "linear1": (
                        self._add([layer.linear1.weight.t() for layer in same]),
                        self._add([layer.linear1.bias[None] for layer in same]),
                    ),
                    "linear2": (
                        self._add([layer.linear2.weight.t() for layer in same]),
                        self._add([layer.linear2.bias[None] for layer in same]),
                    ),
                    "norm2": (
                        same[0].norm2.eps,
                        self._add([layer.norm2.weight[None] for layer in same]),
                        self._add([layer.norm2.bias[None] for layer in same]),
                    ),
                }
            )
        final = first.encoder.norm
        self.final_norm = None
        if final is not None:
            self.final_norm = (
                final.eps,
                self._add([m.encoder.norm.weight[None] for m in models]),
                self._add([m.encoder.norm.bias[None] for m in models]),
            )
        self.head = (
            self._add([m.head.weight.t() for m in models]),
            self._add([m.head.bias[None] for m in models]),
        )
        stacked = sum(p[0].numel() for p in self.params)
        expected = sum(p.numel() for p in first.parameters())
        if stacked != expected:  # a layer this class does not know about
            raise NotStackable(
                f"{type(first).__name__} has {expected} weights but only {stacked} were stacked"
            )
        seq_len = first.seq_len
        self.causal_mask = torch.full((seq_len, seq_len), -math.inf).triu(1)
        self._offsets = self._member_offsets(len(models))
        self._layout()

    def _add(self, tensors: list[torch.Tensor]) -> int:
        self.params.append(_stack(tensors))
        return len(self.params) - 1

    def _member_offsets(self, members: int) -> torch.Tensor:
        # Member k's tokens index rows k*vocab .. (k+1)*vocab - 1 of the flattened embedding table.
        return (torch.arange(members) * self.vocab_size).view(-1, 1, 1)

    def _after_keep(self, keep: torch.Tensor) -> None:
        self._offsets = self._member_offsets(int(keep.sum()))

    @staticmethod
    def check(model: nn.Module) -> None:
        """Raise :class:`NotStackable` unless ``model`` is a TinyTransformerLM this class reproduces."""
        if type(model) is not TinyTransformerLM:
            raise NotStackable(
                f"{type(model).__name__} is not stacked (a subclass may change the forward pass)"
            )
        if model.dropout > 0:
            raise NotStackable(
                f"dropout={model.dropout}: each member would need its own random masks, which "
                "the sequential runs draw from one generator; use dropout=0 or ensemble=False"
            )
        for layer in model.encoder.layers:
            if layer.activation not in (F.relu, F.gelu) or layer.self_attn.in_proj_bias is None:
                raise NotStackable("only encoder layers with relu/gelu and biases are stacked")

    def _attention(
        self, x: torch.Tensor, layer: dict[str, Any], batch: int, length: int
    ) -> torch.Tensor:
        params, heads = self.params, self.n_heads
        members, d_model = x.shape[0], self.d_model
        head = d_model // heads
        weight, bias = layer["qkv"]
        qkv = torch.baddbmm(params[bias], x, params[weight])  # (K, batch*length, 3 d)
        # nn.MultiheadAttention's layout: q | k | v along the last axis, each split into heads.
        # unbind (not indexing) so that the backward pass stacks the three gradients in one go.
        q, k, v = (
            qkv.view(members * batch, length, 3, heads, head)
            .permute(2, 0, 3, 1, 4)
            .reshape(3, members * batch * heads, length, head)
            .unbind(0)
        )
        scores = torch.baddbmm(
            self.causal_mask[:length, :length], q, k.transpose(1, 2), alpha=head**-0.5
        )
        attended = torch.bmm(torch.softmax(scores, dim=-1), v)  # (K*batch*heads, length, head)
        attended = (
            attended.view(members * batch, heads, length, head)
            .transpose(1, 2)
            .reshape(members, batch * length, d_model)
        )
        weight, bias = layer["out"]
        return torch.baddbmm(params[bias], attended, params[weight])

    def _feed_forward(self, x: torch.Tensor, layer: dict[str, Any]) -> torch.Tensor:
        params = self.params
        weight, bias = layer["linear1"]
        hidden = self.activation(torch.baddbmm(params[bias], x, params[weight]))
        weight, bias = layer["linear2"]
        return torch.baddbmm(params[bias], hidden, params[weight])

    def _norm(self, x: torch.Tensor, spec: tuple[float, int, int]) -> torch.Tensor:
        eps, weight, bias = spec
        return _layer_norm(x, eps, self.params[weight], self.params[bias])

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        params, members = self.params, self.count
        if X.dim() == 2:  # shared tokens (evaluation, full batch)
            X = X.expand(members, *X.shape)
        _, batch, length = X.shape
        vocab, d_model = self.vocab_size, self.d_model
        table = params[self.token_embedding].view(members * vocab, d_model)
        x = F.embedding(X + self._offsets, table)
        x = x + params[self.position_embedding][:, None, :length]
        x = x.reshape(members, batch * length, d_model)
        for layer in self.layers:
            if self.norm_first:
                x = x + self._attention(self._norm(x, layer["norm1"]), layer, batch, length)
                x = x + self._feed_forward(self._norm(x, layer["norm2"]), layer)
            else:
                x = self._norm(x + self._attention(x, layer, batch, length), layer["norm1"])
                x = self._norm(x + self._feed_forward(x, layer), layer["norm2"])
        if self.final_norm is not None:
            x = self._norm(x, self.final_norm)
        weight, bias = self.head
        logits = torch.baddbmm(params[bias], x, params[weight])
        return logits.view(members, batch, length, vocab)


def check_stackable(model: nn.Module) -> None:
    """Raise :class:`NotStackable` (saying why) unless models like ``model`` can be stacked."""
    if isinstance(model, TinyTransformerLM):
        StackedTransformer.check(model)
    else:
        StackedMLP.check(model)


def stack_models(models: Sequence[nn.Module], criterion: Criterion) -> StackedNet:
    """K models of the same architecture as one :class:`StackedNet` (their weights are copied).

    Raises :class:`NotStackable` when the architecture is not supported and ``ValueError`` when
    the models differ from each other.
    """
    if not models:
        raise ValueError("models must hold at least one model")
    check_stackable(models[0])
    _same_architecture(models)
    if isinstance(models[0], TinyTransformerLM):
        if len({(m.norm_first, m.n_heads) for m in models}) > 1:
            raise ValueError("model must build the same architecture for every seed")
        return StackedTransformer(models, criterion)  # type: ignore[arg-type]
    return StackedMLP(models, criterion)
