"""The visual frame network: a compact VGG-style CNN for 48x48 gray face crops (FER2013 size).

=============  ============================  =========
name           input                         embedding
=============  ============================  =========
``fer_cnn``    (B, 48, 48) or (B, 1, 48, 48)  256
=============  ============================  =========

Inputs are gray values 0..255 (any float dtype); each image is standardised on its own (zero
mean, unit variance), so brightness and contrast of a video's face crops matter less.
:func:`augment_faces` is the training-time batch transform (flips, shifts, rotations, scale).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from avemotion.models.base import EmotionNet, register

__all__ = ["FerCNN", "augment_faces", "standardise_images"]


def standardise_images(x: torch.Tensor) -> torch.Tensor:
    """``(B, H, W)`` or ``(B, 1, H, W)`` -> ``(B, 1, H, W)``, each image to zero mean, unit std."""
    if x.dim() == 3:
        x = x.unsqueeze(1)
    if x.dim() != 4 or x.shape[1] != 1:
        raise ValueError(f"expected gray images (B, H, W) or (B, 1, H, W), got shape {tuple(x.shape)}")
    x = x.float()
    mean = x.mean(dim=(2, 3), keepdim=True)
    std = x.std(dim=(2, 3), keepdim=True).clamp(min=1.0)
    return (x - mean) / std


def _conv(in_channels: int, out_channels: int) -> nn.Sequential:
    conv = nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False)
    return nn.Sequential(conv, nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True))


@register("fer_cnn")
class FerCNN(EmotionNet):
    """Stages of ``depth`` 3x3 conv + batch norm + ReLU layers of ``widths`` channels, 2x2 max
    pooling after each stage, global average + max pooling, dropout, a dense layer of
    ``embedding_dim`` (+ batch norm, ReLU: the embedding), dropout, the linear head.

    Input ``(B, 48, 48)`` or ``(B, 1, 48, 48)`` gray 0..255; other sizes work (global pooling).
    """

    def __init__(
        self,
        n_classes: int,
        widths: Sequence[int] = (32, 64, 128, 256),
        depth: Sequence[int] | int = 2,
        embedding_dim: int = 256,
        dropout: float = 0.4,
    ) -> None:
        super().__init__()
        depths = [depth] * len(widths) if isinstance(depth, int) else list(depth)
        layers: list[nn.Module] = []
        channels = 1
        for width, n in zip(widths, depths, strict=True):
            for _ in range(n):
                layers.append(_conv(channels, width))
                channels = width
            layers.append(nn.MaxPool2d(2))
        self.features = nn.Sequential(*layers)
        self.fc = nn.Sequential(
            nn.Dropout(dropout),
            nn.Linear(2 * channels, embedding_dim, bias=False),
            nn.BatchNorm1d(embedding_dim),
            nn.ReLU(inplace=True),
        )
        self.drop = nn.Dropout(dropout)
        self.embedding_dim, self.n_classes = embedding_dim, n_classes
        self.head = nn.Linear(embedding_dim, n_classes)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, H, W)`` or ``(B, 1, H, W)`` -> ``(B, embedding_dim)``."""
        maps = self.features(standardise_images(x).contiguous(memory_format=torch.channels_last))
        return self.fc(torch.cat([maps.mean(dim=(2, 3)), maps.amax(dim=(2, 3))], dim=1))

    def classify(self, embedding: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, n_classes)`` (dropout on the embedding while training)."""
        return self.head(self.drop(embedding))


def augment_faces(
    x: torch.Tensor,
    generator: torch.Generator,
    *,
    shift: float = 0.1,
    degrees: float = 12.0,
    scale: tuple[float, float] = (0.9, 1.1),
    erase: float = 0.0,
    erase_area: tuple[float, float] = (0.02, 0.2),
) -> torch.Tensor:
    """Random horizontal flips, shifts (fraction of the side), rotations and zoom of a batch of
    gray faces ``(B, H, W)`` or ``(B, 1, H, W)``; same shape out (border pixels replicated).

    ``erase``: probability that an image also gets one rectangle of random gray values 0..255
    (random erasing), covering ``erase_area`` (fraction of the image, min, max), aspect 1:3..3:1.
    """
    squeeze = x.dim() == 3
    x4 = (x.unsqueeze(1) if squeeze else x).float()
    b = x4.shape[0]

    def uniform(lo: float, hi: float) -> torch.Tensor:
        return lo + (hi - lo) * torch.rand(b, generator=generator, device=x.device)

    angle = uniform(-degrees, degrees) * (math.pi / 180)
    zoom = uniform(*scale)
    flip = torch.where(torch.rand(b, generator=generator, device=x.device) < 0.5, -1.0, 1.0)
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    theta = torch.stack(
        [
            torch.stack([cos * flip, -sin, uniform(-shift, shift) * 2], dim=1),
            torch.stack([sin * flip, cos, uniform(-shift, shift) * 2], dim=1),
        ],
        dim=1,
    )
    grid = F.affine_grid(theta, list(x4.shape), align_corners=False)
    out = F.grid_sample(x4, grid, mode="bilinear", padding_mode="border", align_corners=False)
    if erase > 0:
        out = _random_erase(out, generator, erase, erase_area)
    return out.squeeze(1) if squeeze else out


def _random_erase(
    x: torch.Tensor, generator: torch.Generator, probability: float, area: tuple[float, float]
) -> torch.Tensor:
    """``(B, 1, H, W)`` with one rectangle of uniform noise 0..255 in each chosen image."""
    b, _, h, w = x.shape
    rand = functools.partial(torch.rand, b, generator=generator, device=x.device)
    fraction = area[0] + (area[1] - area[0]) * rand()
    aspect = torch.exp((rand() * 2 - 1) * math.log(3.0))
    eh = (torch.sqrt(fraction * aspect) * h).clamp(1, h)
    ew = (torch.sqrt(fraction / aspect) * w).clamp(1, w)
    top, left = rand() * (h - eh), rand() * (w - ew)
    rows = torch.arange(h, device=x.device).view(1, h, 1)
    cols = torch.arange(w, device=x.device).view(1, 1, w)
    inside = (
        (rows >= top.view(b, 1, 1)) & (rows < (top + eh).view(b, 1, 1))
        & (cols >= left.view(b, 1, 1)) & (cols < (left + ew).view(b, 1, 1))
        & (rand() < probability).view(b, 1, 1)
    )  # fmt: skip
    noise = torch.rand(x.shape, generator=generator, device=x.device) * 255.0
    return torch.where(inside.unsqueeze(1), noise, x)
