"""The small models of the series: an MLP, a tiny causal transformer LM and a fraud classifier."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import numpy as np
import torch
from torch import nn

from ._validation import check_bool, check_choice, check_float, check_int

__all__ = ["MLP", "BigramLM", "TinyTransformerLM", "FraudClassifier", "ACTIVATIONS", "NORMS"]

#: Activation names accepted by :class:`MLP`, mapped to their ``torch.nn`` module.
ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "gelu": nn.GELU,
    "tanh": nn.Tanh,
    "silu": nn.SiLU,
    "leaky_relu": nn.LeakyReLU,
}

#: Normalisation layers accepted by :class:`MLP` (``None`` means no normalisation).
NORMS: dict[str | None, type[nn.Module] | None] = {
    None: None,
    "layer": nn.LayerNorm,
    "batch": nn.BatchNorm1d,
}


@contextmanager
def _seeded(seed: int | None) -> Iterator[None]:
    """Run the block with torch's CPU generator seeded by ``seed``, then restore the caller's state.

    Models are built inside this so ``seed=`` gives the same initial weights every time *without*
    changing the global random state the rest of a notebook relies on. ``seed=None`` uses (and
    advances) the global generator, as plain PyTorch would.
    """
    if seed is None:
        yield
        return
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def _check_seed(seed: object) -> int | None:
    if seed is None:
        return None
    return check_int("seed", seed, min_value=0, max_value=2**63 - 1)


def _check_widths(name: str, widths: object) -> tuple[int, ...]:
    if isinstance(widths, (str, bytes)) or not isinstance(widths, Sequence):
        raise TypeError(
            f"{name} must be a sequence of layer widths such as (256, 256) or () for none, "
            f"got {widths!r} ({type(widths).__name__})"
        )
    return tuple(check_int(f"{name}[{i}]", w, min_value=1) for i, w in enumerate(widths))


class MLP(nn.Sequential):
    """A fully connected network: ``[Linear -> (norm) -> activation] x len(hidden) -> Linear``.

    Parameters
    ----------
    in_features, out_features:
        Input width and number of outputs (classes for a classifier, 1 for one logit).
    hidden:
        Widths of the hidden layers; ``()`` gives a linear model (logistic regression with a
        sigmoid/softmax loss).
    activation:
        One of :data:`ACTIVATIONS` (``"relu"``, ``"gelu"``, ``"tanh"``, ``"silu"``,
        ``"leaky_relu"``).
    norm:
        ``None``, ``"layer"`` (LayerNorm) or ``"batch"`` (BatchNorm1d) after each hidden Linear.
    init_scale:
        Multiplies every Linear *weight* after PyTorch's default (Kaiming-uniform) init; biases
        are left alone. Values > 1 make the network start sharper, which is one way to make
        warmup matter.
    seed:
        Seeds the initial weights (the global random state is left untouched); ``None`` uses the
        global generator.

    The module is an ``nn.Sequential``, so ``mlp[-1]`` is the output layer.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        hidden: Sequence[int] = (256, 256),
        activation: str = "relu",
        norm: str | None = None,
        init_scale: float = 1.0,
        seed: int | None = None,
    ) -> None:
        in_features = check_int("in_features", in_features, min_value=1)
        out_features = check_int("out_features", out_features, min_value=1)
        widths = _check_widths("hidden", hidden)
        check_choice("activation", activation, ACTIVATIONS)
        check_choice("norm", norm, NORMS)
        init_scale = check_float("init_scale", init_scale, min_value=0.0, min_open=True)
        seed = _check_seed(seed)

        layers: list[nn.Module] = []
        with _seeded(seed):
            width_in = in_features
            for width in widths:
                layers.append(nn.Linear(width_in, width))
                norm_cls = NORMS[norm]
                if norm_cls is not None:
                    layers.append(norm_cls(width))
                layers.append(ACTIVATIONS[activation]())
                width_in = width
            layers.append(nn.Linear(width_in, out_features))
        super().__init__(*layers)
        if init_scale != 1.0:
            with torch.no_grad():
                for layer in self:
                    if isinstance(layer, nn.Linear):
                        layer.weight.mul_(init_scale)

        self.in_features = in_features
        self.out_features = out_features
        self.hidden = widths
        self.activation = activation
        self.norm = norm
        self.init_scale = init_scale
        self.seed = seed


class BigramLM(nn.Sequential):
    """The smallest causal language model: a lookup table from the current token to logits of the next.

    ``Embedding(vocab_size, width)`` then ``Linear(width, vocab_size)``; it sees one token of
    context, so on the bigram language it can reach the entropy floor ``info["best_loss"]`` and
    no further. Forward: tokens ``(B, L)`` -> logits ``(B, L, vocab_size)``. Cheap enough to train
    many seeds in seconds where a transformer would not fit the time budget.
    """

    def __init__(self, vocab_size: int, width: int = 16, seed: int | None = None) -> None:
        vocab_size = check_int("vocab_size", vocab_size, min_value=2)
        width = check_int("width", width, min_value=1)
        seed = _check_seed(seed)
        with _seeded(seed):
            super().__init__(nn.Embedding(vocab_size, width), nn.Linear(width, vocab_size))
        self.vocab_size, self.width, self.seed = vocab_size, width, seed


class TinyTransformerLM(nn.Module):
    """A small causal (GPT-style) language model built from ``nn.TransformerEncoder``.

    ``logits = head(final_norm(encoder(token_embedding(x) + position_embedding(t), causal mask)))``.

    ``norm_first`` chooses where LayerNorm sits in each block:

    * ``False`` — **post-LN**, the original Transformer (Vaswani et al. 2017, arXiv 1706.03762):
      ``x = LN(x + sublayer(x))``. Gradients near the output are large at initialisation, so
      Adam at a high learning rate needs warmup (Xiong et al. 2020, arXiv 2002.04745).
    * ``True`` — **pre-LN**: ``x = x + sublayer(LN(x))`` plus a final LayerNorm before the head;
      it usually trains without warmup.

    The causal mask makes position ``t`` see only positions ``<= t``, so the logits at ``t``
    predict token ``t + 1`` and never depend on later tokens.

    Parameters
    ----------
    vocab_size: number of distinct tokens (>= 2).
    seq_len: longest sequence the model accepts (size of the learned position table).
    d_model, n_heads, n_layers, d_ff: width, attention heads (must divide ``d_model``), blocks,
        feed-forward width.
    dropout: dropout probability inside the blocks, in [0, 1).
    norm_first: ``False`` for post-LN, ``True`` for pre-LN (see above).
    seed: seeds the initial weights without touching the global random state.
    """

    def __init__(
        self,
        vocab_size: int,
        seq_len: int,
        d_model: int = 64,
        n_heads: int = 4,
        n_layers: int = 6,
        d_ff: int = 256,
        dropout: float = 0.0,
        norm_first: bool = False,
        seed: int | None = None,
    ) -> None:
        super().__init__()
        vocab_size = check_int("vocab_size", vocab_size, min_value=2)
        seq_len = check_int("seq_len", seq_len, min_value=1)
        d_model = check_int("d_model", d_model, min_value=1)
        n_heads = check_int("n_heads", n_heads, min_value=1)
        if d_model % n_heads:
            raise ValueError(
                f"n_heads must divide d_model (each head gets d_model / n_heads dimensions); "
                f"got d_model={d_model}, n_heads={n_heads}"
            )
        n_layers = check_int("n_layers", n_layers, min_value=1)
        d_ff = check_int("d_ff", d_ff, min_value=1)
        dropout = check_float("dropout", dropout, min_value=0.0, max_value=1.0, max_open=True)
        norm_first = check_bool("norm_first", norm_first)
        seed = _check_seed(seed)

        with _seeded(seed):
            self.token_embedding = nn.Embedding(vocab_size, d_model)
            self.position_embedding = nn.Embedding(seq_len, d_model)
            layer = nn.TransformerEncoderLayer(
                d_model,
                n_heads,
                dim_feedforward=d_ff,
                dropout=dropout,
                batch_first=True,
                norm_first=norm_first,
            )
            # Pre-LN blocks leave the residual stream un-normalised, so a final LayerNorm is
            # part of the pre-LN recipe; post-LN blocks already end in a LayerNorm.
            final_norm = nn.LayerNorm(d_model) if norm_first else None
            # enable_nested_tensor only helps with padding masks (we have none) and warns
            # for norm_first=True.
            self.encoder = nn.TransformerEncoder(
                layer, n_layers, norm=final_norm, enable_nested_tensor=False
            )
            self.head = nn.Linear(d_model, vocab_size)
        self.register_buffer(
            "causal_mask", nn.Transformer.generate_square_subsequent_mask(seq_len), persistent=False
        )
        self.register_buffer("positions", torch.arange(seq_len), persistent=False)

        self.vocab_size = vocab_size
        self.seq_len = seq_len
        self.d_model = d_model
        self.n_heads = n_heads
        self.n_layers = n_layers
        self.d_ff = d_ff
        self.dropout = dropout
        self.norm_first = norm_first
        self.seed = seed

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """Map tokens ``(batch, length)`` (int64, ``length <= seq_len``) to logits ``(batch, length, vocab)``."""
        if not isinstance(tokens, torch.Tensor) or tokens.dim() != 2:
            raise ValueError(
                "tokens must be a 2-D integer tensor of shape (batch, length), got "
                f"{getattr(tokens, 'shape', type(tokens).__name__)}"
            )
        if tokens.dtype not in (torch.int64, torch.int32):
            raise TypeError(f"tokens must be an integer tensor (int64), got dtype {tokens.dtype}")
        length = tokens.shape[1]
        if not 1 <= length <= self.seq_len:
            raise ValueError(
                f"tokens must have 1..{self.seq_len} positions (seq_len), got length {length}"
            )
        x = self.token_embedding(tokens) + self.position_embedding(self.positions[:length])
        x = self.encoder(x, mask=self.causal_mask[:length, :length], is_causal=True)
        return self.head(x)

    def extra_repr(self) -> str:
        kind = "pre-LN" if self.norm_first else "post-LN"
        return f"{kind}, vocab_size={self.vocab_size}, seq_len={self.seq_len}"


class FraudClassifier(nn.Module):
    """A small MLP that outputs one logit per row: ``P(fraud | x) = sigmoid(logit)``.

    ``forward(x)`` returns shape ``(batch,)``, ready for ``BCEWithLogitsLoss`` or
    :func:`warmup_lib.losses.focal_loss` with 0/1 float targets.

    ``base_rate`` (the fraction of positives, e.g. ``float(y_train.mean())``) sets the output
    bias to ``log(p / (1 - p))``, so the untrained model already predicts the base rate instead
    of 50 %. With 0.5 % fraud a bias of 0 makes the first loss about ``log 2 = 0.69`` instead of
    about ``0.03``, and the first steps are spent just pushing every prediction down — large,
    uninformative gradients at exactly the time warmup is trying to keep updates small. This is
    the "careful bias initialisation" step of the TensorFlow tutorial *Classification on
    imbalanced data*.

    Parameters
    ----------
    in_features: number of input columns.
    hidden: hidden widths, ``()`` for logistic regression.
    base_rate: fraction of positive labels, strictly between 0 and 1, or ``None`` (bias 0).
    seed: seeds the initial weights without touching the global random state.
    """

    def __init__(
        self,
        in_features: int,
        hidden: Sequence[int] = (32,),
        base_rate: float | None = None,
        seed: int | None = None,
    ) -> None:
        super().__init__()
        if base_rate is not None:
            base_rate = check_float(
                "base_rate", base_rate, min_value=0.0, max_value=1.0, min_open=True, max_open=True
            )
        self.net = MLP(in_features, 1, hidden=hidden, seed=seed)
        if base_rate is not None:
            with torch.no_grad():
                self.net[-1].bias.fill_(math.log(base_rate / (1.0 - base_rate)))
        self.in_features = self.net.in_features
        self.hidden = self.net.hidden
        self.base_rate = base_rate
        self.seed = self.net.seed

    @property
    def output_layer(self) -> nn.Linear:
        """The final ``Linear(.., 1)`` whose bias holds the base-rate log-odds."""
        return self.net[-1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return one logit per row, shape ``(batch,)``."""
        return self.net(x).squeeze(-1)

    def predict_proba(self, x: torch.Tensor) -> np.ndarray:
        """Fraud probability per row, ``sigmoid(logit)``, as a NumPy array (no gradients).

        These are the scores thresholds and precision-recall curves work on.
        """
        if not isinstance(x, torch.Tensor) or x.ndim != 2 or x.shape[1] != self.in_features:
            raise ValueError(
                f"x must be a float tensor of shape (rows, {self.in_features}), got "
                f"{tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__}"
            )
        was_training = self.training
        self.eval()
        try:
            with torch.no_grad():
                return torch.sigmoid(self(x)).numpy()
        finally:
            self.train(was_training)
