"""Fusion networks on concatenated per-modality inputs, with missing modalities.

Every network here takes ``x`` of shape ``(B, sum(dims))``: the modalities' vectors side by
side (``dims``: their sizes, e.g. ``[256, 35]`` for an audio embedding and the AU means). A
modality that is missing for a clip is a block of NaN: it is replaced by zeros and masked out.
``modality_dropout`` (training only) hides each present modality of a clip with that
probability, never all of them, so the network learns to work from whatever is there.

* ``fc_fusion`` (seed 004, "Model 1"): the concatenation through three fully connected layers.
* ``bel`` / ``mobel`` (seeds 000/003): the BEL unit / mixture of BEL experts with a BEL gate
  (equations in :mod:`avemotion.fusion.bel`), trained by gradient descent on cross-entropy.
* ``gated_fusion`` (ours): each modality encoded to ``hidden`` units, an attention weight per
  present modality, the weighted sum classified; trained with modality dropout.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from avemotion.models.base import EmotionNet, register


def split_modalities(
    x: torch.Tensor, dims: Sequence[int], dropout: float = 0.0, training: bool = False
) -> tuple[list[torch.Tensor], torch.Tensor]:
    """The blocks of ``x`` (NaN -> 0, masked blocks zeroed) and the (B, M) float presence mask."""
    blocks = list(torch.split(x, list(dims), dim=1))
    present = torch.stack([~torch.isnan(b).any(dim=1) for b in blocks], dim=1)
    if training and dropout > 0:
        keep = torch.rand(present.shape, device=x.device) >= dropout
        keep &= present
        none_left = ~keep.any(dim=1)
        keep[none_left] = present[none_left]
        present = keep
    mask = present.to(x.dtype)
    return [torch.nan_to_num(b, nan=0.0) * mask[:, i : i + 1] for i, b in enumerate(blocks)], mask


class _Fusion(EmotionNet):
    def __init__(self, dims: Sequence[int], modality_dropout: float) -> None:
        super().__init__()
        self.dims = [int(d) for d in dims]
        self.modality_dropout = float(modality_dropout)

    def _blocks(self, x: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        return split_modalities(x, self.dims, self.modality_dropout, self.training)


@register("fc_fusion")
class FCFusion(_Fusion):
    """Seed 004's fusion: concatenation -> FC(hidden[0]) -> FC(hidden[1]) -> FC(n_classes);
    the embedding is the last hidden layer."""

    def __init__(
        self, n_classes: int, dims: Sequence[int], hidden: Sequence[int] = (256, 128),
        dropout: float = 0.3, modality_dropout: float = 0.0,
    ) -> None:
        super().__init__(dims, modality_dropout)
        layers: list[nn.Module] = []
        width = sum(self.dims) + len(self.dims)
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU(), nn.Dropout(dropout)]
            width = h
        self.body = nn.Sequential(*layers)
        self.embedding_dim, self.n_classes = width, n_classes
        self.head = nn.Linear(width, n_classes)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        blocks, mask = self._blocks(x)
        return self.body(torch.cat([*blocks, mask], dim=1))


class _BELUnit(nn.Module):
    """``tanh(tanh(AMG [p, max p]) - tanh(OFC p))`` with ``outputs`` units."""

    def __init__(self, n: int, outputs: int) -> None:
        super().__init__()
        self.amg = nn.Linear(n + 1, outputs)
        self.ofc = nn.Linear(n, outputs, bias=False)

    def difference(self, p: torch.Tensor) -> torch.Tensor:
        thalamus = p.max(dim=1, keepdim=True).values
        return torch.tanh(self.amg(torch.cat([p, thalamus], dim=1))) - torch.tanh(self.ofc(p))

    def forward(self, p: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.difference(p))


@register("bel")
class BELNet(_Fusion):
    """A BEL unit per class on the concatenated inputs; logits ``scale * E`` (``scale`` learnt).
    The embedding is ``E`` itself (the unit has no hidden layer)."""

    def __init__(self, n_classes: int, dims: Sequence[int], modality_dropout: float = 0.0) -> None:
        super().__init__(dims, modality_dropout)
        self.unit = _BELUnit(sum(self.dims), n_classes)
        self.scale = nn.Parameter(torch.tensor(4.0))
        self.embedding_dim, self.n_classes = n_classes, n_classes
        self.head = nn.Identity()

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.unit(torch.cat(self._blocks(x)[0], dim=1))

    def classify(self, embedding: torch.Tensor) -> torch.Tensor:
        return self.scale * embedding


@register("mobel")
class MoBELNet(_Fusion):
    """MoBEL: ``n_experts`` BEL experts and a BEL gate ``g = softmax(f_amg - f_ofc)``; output
    ``y = sum_k g_k E_k``, logits ``scale * y``. The embedding is ``y``."""

    def __init__(self, n_classes: int, dims: Sequence[int], n_experts: int = 4, modality_dropout: float = 0.0) -> None:
        super().__init__(dims, modality_dropout)
        n = sum(self.dims)
        self.experts = nn.ModuleList(_BELUnit(n, n_classes) for _ in range(n_experts))
        self.gate = _BELUnit(n, n_experts)
        self.scale = nn.Parameter(torch.tensor(4.0))
        self.embedding_dim, self.n_classes = n_classes, n_classes
        self.head = nn.Identity()

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        p = torch.cat(self._blocks(x)[0], dim=1)
        E = torch.stack([expert(p) for expert in self.experts], dim=1)
        g = torch.softmax(self.gate.difference(p), dim=1)
        return (g.unsqueeze(-1) * E).sum(dim=1)

    def classify(self, embedding: torch.Tensor) -> torch.Tensor:
        return self.scale * embedding


@register("gated_fusion")
class GatedFusion(_Fusion):
    """Ours: per-modality encoders (Linear -> LayerNorm -> GELU -> Dropout) to ``hidden``
    units, a softmax attention over the present modalities, the weighted sum as embedding."""

    def __init__(
        self, n_classes: int, dims: Sequence[int], hidden: int = 128, dropout: float = 0.3,
        modality_dropout: float = 0.3,
    ) -> None:
        super().__init__(dims, modality_dropout)
        self.encoders = nn.ModuleList(
            nn.Sequential(nn.Dropout(dropout), nn.Linear(d, hidden), nn.LayerNorm(hidden), nn.GELU(), nn.Dropout(dropout))
            for d in self.dims
        )
        self.score = nn.Linear(hidden, 1)
        self.embedding_dim, self.n_classes = hidden, n_classes
        self.head = nn.Linear(hidden, n_classes)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        blocks, mask = self._blocks(x)
        z = torch.stack([enc(b) for enc, b in zip(self.encoders, blocks)], dim=1)
        scores = self.score(z).squeeze(-1).masked_fill(mask == 0, float("-inf"))
        return (torch.softmax(scores, dim=1).unsqueeze(-1) * z).sum(dim=1)
