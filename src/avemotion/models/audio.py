"""The audio networks: the four seeds' and the project's own, on top of a few shared blocks.

=====================  =============================  ===============  ========  =========
name                   input                          extractor        seed      embedding
=====================  =============================  ===============  ========  =========
``crnn``               (B, 12, 96, 32)                logmel_segments  000, 003  256
``gru``                (B, 180) or (B, T, F)          seed001          001       256
``cnn1d``              (B, 22, T)                     seed002          002       512
``lstm``               (B, 282, 20)                   mfcc_sequence    004       128
``alexnet_mfcc``       (B, 282, 20)                   mfcc_sequence    004       512
``avemotion_audio``    (B, 12, 96, 32) or (B, 96, T)  logmel_segments  ours      256
=====================  =============================  ===============  ========  =========

Layer order follows the seeds' Keras code: convolution, ReLU, batch norm, max pooling, dropout
(:func:`conv_block`) and dense, ReLU, batch norm, dropout (:func:`dense_block`). The seeds fed
raw feature values (MFCCs of -500 to 100 next to chroma in [0, 1]); :class:`InputNorm`
standardises each input feature with running statistics instead, so that no caller has to.
Sequence inputs zero-padded at the end (the padded frames all-zero, as ``mfcc_sequence`` and a
stacked batch of ``seed002`` frames make them) are read up to their last non-zero frame only
(:func:`valid_lengths`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import pairwise
from typing import Any, Literal

import torch
from torch import nn

from avemotion.models.base import EmotionNet, register

__all__ = [
    "CNN1D",
    "CRNN",
    "AlexNetMFCC",
    "AlexNetTrunk",
    "AttentiveStatsPool",
    "AvemotionAudio",
    "GRUNet",
    "InputNorm",
    "LSTMNet",
    "RecurrentNet",
    "ResidualBlock",
    "alexnet_features",
    "conv_block",
    "dense_block",
    "valid_lengths",
]

Padding = Literal["same", "valid"]


# --- shared blocks -----------------------------------------------------------------------


def conv_block(
    dims: Literal[1, 2],
    in_channels: int,
    out_channels: int,
    kernel_size: int,
    *,
    pool_size: int,
    pool_stride: int | None = None,
    padding: Padding = "same",
    dropout: float = 0.0,
) -> nn.Sequential:
    """Conv (stride 1) -> ReLU -> BatchNorm -> MaxPool -> Dropout, in ``dims`` (1 or 2) dimensions.

    ``padding`` applies to the convolution and the pooling alike, as Keras's ``"same"`` /
    ``"valid"``: a "same" pooling of stride s maps a length L to ceil(L / s).
    """
    conv, norm, pool = (
        (nn.Conv1d, nn.BatchNorm1d, nn.MaxPool1d) if dims == 1 else (nn.Conv2d, nn.BatchNorm2d, nn.MaxPool2d)
    )
    pool_padding = pool_size // 2 if padding == "same" else 0
    layers: list[nn.Module] = [
        conv(in_channels, out_channels, kernel_size, padding=padding),
        nn.ReLU(),
        norm(out_channels),
        pool(pool_size, stride=pool_stride or pool_size, padding=pool_padding),
    ]
    if dropout:
        layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)


def dense_block(in_features: int, out_features: int, dropout: float = 0.0) -> nn.Sequential:
    """Linear -> ReLU -> BatchNorm1d -> Dropout: ``(N, in_features) -> (N, out_features)``."""
    layers: list[nn.Module] = [nn.Linear(in_features, out_features), nn.ReLU(), nn.BatchNorm1d(out_features)]
    if dropout:
        layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)


def alexnet_features(
    in_channels: int,
    filters: Sequence[int],
    kernel_sizes: Sequence[int],
    strides: Sequence[int],
    *,
    pool_after: Sequence[int] = (0, 1, 4),
    pool_size: int = 3,
    pool_stride: int = 2,
    batch_norm: bool = True,
) -> nn.Sequential:
    """AlexNet's "features" layers: 2D convolutions, each followed by ReLU and (``batch_norm``)
    batch norm, the convolutions numbered in ``pool_after`` (0-based) by an overlapping max pooling.

    AlexNet has five convolutions (64, 192, 384, 256, 256 filters; kernels 11, 5, 3, 3, 3;
    strides 4, 1, 1, 1, 1) and a max pooling of 3, stride 2 after the 1st, 2nd and 5th. A
    convolution of kernel k and stride s is padded by (k - s) // 2 ("same" for odd k and s = 1;
    3 for torchvision's k = 11, s = 4, padded by 2 there, with the same 55x55 output for a 224
    input); the pooling rounds up (``ceil_mode``: 55 -> 27 -> 13 -> 6 as in AlexNet, and no
    input row is dropped). Batch norm replaces AlexNet's local response normalisation.
    """
    if not len(filters) == len(kernel_sizes) == len(strides):
        raise ValueError("filters, kernel_sizes and strides need one entry per convolution")
    layers: list[nn.Module] = []
    for index, ((i, o), k, s) in enumerate(zip(pairwise([in_channels, *filters]), kernel_sizes, strides, strict=True)):
        layers += [nn.Conv2d(i, o, k, stride=s, padding=(k - s) // 2), nn.ReLU()]
        if batch_norm:
            layers.append(nn.BatchNorm2d(o))
        if index in pool_after:
            layers.append(nn.MaxPool2d(pool_size, stride=pool_stride, ceil_mode=True))
    return nn.Sequential(*layers)


class AlexNetTrunk(nn.Module):
    """AlexNet scaled down, without its output layer: :func:`alexnet_features` on an input of
    ``in_channels`` x ``input_size`` (H, W), flattened, then per entry of ``fc_units`` dropout
    and a dense layer with ReLU and batch norm (AlexNet: two of 4096). ``(N, C, H, W)`` ->
    ``(N, fc_units[-1])``; ``out_dim`` is that width."""

    def __init__(
        self,
        in_channels: int,
        input_size: tuple[int, int],
        filters: Sequence[int] = (32, 64, 96, 96, 64),
        kernel_sizes: Sequence[int] = (11, 5, 3, 3, 3),
        strides: Sequence[int] = (4, 1, 1, 1, 1),
        pool_size: int = 3,
        pool_stride: int = 2,
        batch_norm: bool = True,
        fc_units: Sequence[int] = (512, 512),
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        if not fc_units:
            raise ValueError("fc_units needs at least one dense layer (the embedding)")
        self.cnn = nn.Sequential(
            alexnet_features(in_channels, filters, kernel_sizes, strides, pool_size=pool_size,
                             pool_stride=pool_stride, batch_norm=batch_norm),
            nn.Flatten(),
        )
        widths = [_output_shape(self.cnn, (1, in_channels, *input_size))[1], *fc_units]
        self.fc = nn.Sequential(*(nn.Sequential(nn.Dropout(dropout), dense_block(i, o)) for i, o in pairwise(widths)))
        self.out_dim = widths[-1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.cnn(x))


class InputNorm(nn.BatchNorm1d):
    """Per-feature standardisation of the input with running statistics (no learned scale).

    ``forward(x, dim)`` normalises ``x`` along its feature axis ``dim``; with ``lengths``
    (``(B,)``, for ``(B, T, F)`` input) only the valid frames enter the statistics and padded
    frames stay zero.
    """

    def __init__(self, n_features: int) -> None:
        super().__init__(n_features, affine=False)

    def forward(self, x: torch.Tensor, dim: int = -1, lengths: torch.Tensor | None = None) -> torch.Tensor:
        x = x.movedim(dim, -1)
        if lengths is None:
            out = super().forward(x.reshape(-1, x.shape[-1])).reshape(x.shape)
        else:
            mask = torch.arange(x.shape[1], device=x.device) < lengths[:, None]
            out = x.masked_scatter(mask[..., None].expand_as(x), super().forward(x[mask]))
        return out.movedim(-1, dim)


def valid_lengths(x: torch.Tensor, time_dim: int = 1) -> torch.Tensor:
    """Frames up to the last one that is not all zeros, per sample: ``(B,)`` int64, at least 1.

    ``x`` is ``(B, T, F)`` (``time_dim=1``) or ``(B, F, T)`` (``time_dim=2``).
    """
    nonzero = (x.movedim(time_dim, 1) != 0).flatten(2).any(-1)
    positions = torch.arange(1, nonzero.shape[1] + 1, device=x.device)
    return (nonzero * positions).amax(1).clamp(min=1)


def _output_shape(module: nn.Module, shape: Sequence[int]) -> torch.Size:
    """The output shape of ``module`` for a zero input of ``shape`` (eval mode, no gradient, state untouched)."""
    was_training = module.training
    module.eval()
    with torch.no_grad():
        out = module(torch.zeros(*shape))
    module.train(was_training)
    return out.shape


# --- seeds 000/003: CRNN -----------------------------------------------------------------


@register("crnn")
class CRNN(EmotionNet):
    """Seeds 000/003's audio CRNN: a 2D CNN per log-mel segment, an LSTM over the segments.

    Input ``(B, S, n_mels, n_frames)``, by default the ``logmel_segments`` extractor's
    ``(B, 12, 96, 32)``: S normalised log-mel segments of 1 s every 0.5 s ("an image of size
    (12*96*32*1)"); any S works. Seed 003's CRNN code gives the layers: three
    "TimeDistributed(Conv2D(64, kernel_size=(3, 3), activation='relu'))" + batch norm +
    "MaxPooling2D(pool_size=(2, 2))" (valid padding) per segment, two dense layers of 256 +
    batch norm per segment, "LSTM(256, return_sequences=False)" over the segment vectors, then
    "Dense(256, activation='relu')" + batch norm: the embedding ("the last FC layer with a size
    of 256 is extracted as a speech emotion representation"; the seed reads it before its batch
    norm, here after). The seed's text says the CNN is "the same as visual stream" (a 3D-CNN of
    64, 128, 256, 512 filters, 3x3x3, same padding); its code has 64, 64, 64 in 2D, which is
    followed (``filters`` takes either). ``conv_dropout`` (0.5) after the convolutions is the
    visual 3D-CNN's "Dropout(0.5)" after its last pooling; the CRNN code has no dropout.
    """

    def __init__(
        self,
        n_classes: int,
        n_mels: int = 96,
        n_frames: int = 32,
        filters: Sequence[int] = (64, 64, 64),
        kernel_size: int = 3,
        pool_size: int = 2,
        conv_dropout: float = 0.5,
        dense_units: Sequence[int] = (256, 256),
        lstm_units: int = 256,
        embedding_dim: int = 256,
    ) -> None:
        super().__init__()
        channels = [1, *filters]
        self.cnn = nn.Sequential(
            *(conv_block(2, i, o, kernel_size, pool_size=pool_size, padding="valid") for i, o in pairwise(channels)),
            nn.Dropout(conv_dropout),
            nn.Flatten(),
        )
        widths = [_output_shape(self.cnn, (1, 1, n_mels, n_frames))[1], *dense_units]
        self.segment_dense = nn.Sequential(*(dense_block(i, o) for i, o in pairwise(widths)))
        self.lstm = nn.LSTM(widths[-1], lstm_units, batch_first=True)
        self.fc = dense_block(lstm_units, embedding_dim)
        self.embedding_dim, self.n_classes = embedding_dim, n_classes
        self.head = nn.Linear(embedding_dim, n_classes)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, S, n_mels, n_frames)`` -> ``(B, embedding_dim)``."""
        if x.dim() != 4:
            raise ValueError(f"crnn expects (B, segments, n_mels, n_frames), got shape {tuple(x.shape)}")
        b, s = x.shape[:2]
        segments = self.segment_dense(self.cnn(x.reshape(b * s, 1, *x.shape[2:])))
        _, (h, _) = self.lstm(segments.reshape(b, s, -1))
        return self.fc(h[-1])


# --- seeds 001/004: stacked recurrent networks -------------------------------------------


class RecurrentNet(EmotionNet):
    """Stacked GRU or LSTM layers of ``hidden_sizes`` units; the embedding is read from the last step.

    Input ``(B, T, n_features)`` sequences, zero-padded at the end or not (with
    ``ignore_padding`` each sequence's state is read at its last non-zero frame, which later
    frames cannot change in a unidirectional network), or ``(B, n_features)`` vectors, read as
    ``n_features`` steps of one value when ``vector_as_sequence`` (seed 001's reshape to
    ``(F, 1)``), else as a single step. The input is standardised per feature
    (:class:`InputNorm`). The last layer's state goes through batch norm (``batch_norm``) and a
    :func:`dense_block` of ``dense`` units (``None``: no dense layer, the state is the
    embedding) with ``dropout``.
    """

    def __init__(
        self,
        n_classes: int,
        cell: type[nn.GRU] | type[nn.LSTM],
        n_features: int,
        hidden_sizes: Sequence[int],
        *,
        vector_as_sequence: bool = False,
        ignore_padding: bool = True,
        batch_norm: bool = False,
        dense: int | None = None,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.n_features, self.vector_as_sequence, self.ignore_padding = n_features, vector_as_sequence, ignore_padding
        self.norm = InputNorm(n_features)
        sizes = [1 if vector_as_sequence else n_features, *hidden_sizes]
        self.layers = nn.ModuleList(cell(i, o, batch_first=True) for i, o in pairwise(sizes))
        readout: list[nn.Module] = [nn.BatchNorm1d(sizes[-1])] if batch_norm else []
        if dense:
            readout.append(dense_block(sizes[-1], dense, dropout))
        elif dropout:
            readout.append(nn.Dropout(dropout))
        self.readout = nn.Sequential(*readout)
        self.embedding_dim, self.n_classes = dense or sizes[-1], n_classes
        self.head = nn.Linear(self.embedding_dim, n_classes)

    def _sequences(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Normalised ``(B, T, input_size)`` steps and their lengths ``(B,)``."""
        if x.dim() == 2:
            x = self.norm(x)
            x = x.unsqueeze(-1) if self.vector_as_sequence else x.unsqueeze(1)
            return x, torch.full((x.shape[0],), x.shape[1], device=x.device)
        if x.dim() != 3 or self.vector_as_sequence:
            expected = f"(B, {self.n_features})" + ("" if self.vector_as_sequence else f" or (B, T, {self.n_features})")
            raise ValueError(f"expected input {expected}, got shape {tuple(x.shape)}")
        lengths = valid_lengths(x) if self.ignore_padding else torch.full((x.shape[0],), x.shape[1], device=x.device)
        return self.norm(x, -1, lengths), lengths

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, T, n_features)`` or ``(B, n_features)`` -> ``(B, embedding_dim)``."""
        steps, lengths = self._sequences(x)
        for layer in self.layers:
            steps, _ = layer(steps)
        return self.readout(steps[torch.arange(len(lengths)), lengths - 1])


@register("gru")
class GRUNet(RecurrentNet):
    """Seed 001's audio network: "Three stacked GRU layers with 256, 256, and 128 units", then batch norm.

    Input: the ``seed001`` vector ``(B, 180)`` (means of 40 MFCCs, 12 chroma, 128 mel bands);
    seed 001's code reshapes it to ``(180, 1)``, a sequence of 180 single values
    (``vector_as_sequence``). ``(B, T, n_features)`` frame sequences work with
    ``vector_as_sequence=False`` (e.g. the ``mfcc`` extractor transposed, ``n_features=120``).
    The seed then flattens all 180 x 128 GRU outputs into its softmax layer ("Flatten layer
    followed by softmax output"), which ties the network to one input length and makes a
    23,040-d representation; here the last step's state (128) is read instead and a dense layer
    of 256 (ours) is the embedding.
    """

    def __init__(
        self,
        n_classes: int,
        n_features: int = 180,
        hidden_sizes: Sequence[int] = (256, 256, 128),
        vector_as_sequence: bool = True,
        ignore_padding: bool = True,
        embedding_dim: int = 256,
        dropout: float = 0.0,
    ) -> None:
        super().__init__(
            n_classes,
            nn.GRU,
            n_features,
            hidden_sizes,
            vector_as_sequence=vector_as_sequence,
            ignore_padding=ignore_padding,
            batch_norm=True,
            dense=embedding_dim,
            dropout=dropout,
        )


@register("lstm")
class LSTMNet(RecurrentNet):
    """Seed 004's audio LSTM: "two 128 hidden layers with Softmax() as the activation function".

    Input: the ``mfcc_sequence`` extractor's ``(B, 282, 20)``, 20 MFCCs per frame zero-padded
    to 282 frames ("pad all the MFCC features to (20,282) size"). The embedding is the second
    LSTM layer's last hidden state, 128-d (the seed puts its softmax right after it). Ours:
    with ``ignore_padding`` (default) the state is read at each clip's last real frame rather
    than after the padding; ``ignore_padding=False`` reads all 282 frames like the seed.
    """

    def __init__(
        self,
        n_classes: int,
        n_features: int = 20,
        hidden_sizes: Sequence[int] = (128, 128),
        ignore_padding: bool = True,
        dropout: float = 0.0,
    ) -> None:
        super().__init__(
            n_classes, nn.LSTM, n_features, hidden_sizes, ignore_padding=ignore_padding, dropout=dropout
        )


# --- seed 004: AlexNet-style CNN on the MFCC image ---------------------------------------


@register("alexnet_mfcc")
class AlexNetMFCC(EmotionNet):
    """Seed 004's audio CNN, "Similar to the AlexNet", on its zero-padded MFCCs of (20, 282).

    Input: the ``mfcc_sequence`` extractor's ``(B, 282, 20)`` (frames, coefficients), read as a
    one-channel image of 20 coefficients x 282 frames, the seed's "(20,282)"; shorter inputs are
    zero-padded to ``max_frames`` as the extractor pads, longer ones raise. The seed says no
    more than "similar to the AlexNet"; here AlexNet's layout is scaled to that input
    (:func:`alexnet_features`): five convolutions of ``filters`` (32, 64, 96, 96, 64) with
    kernels 5, 3, 3, 3, 3 and stride 1 (AlexNet's 11 of stride 4 would leave 5 of the 20
    coefficient rows), ReLU and batch norm, max pooling of 3, stride 2 after the 1st, 2nd and
    5th (20 x 282 -> 10 x 141 -> 5 x 70 -> 2 x 35), flattened, then AlexNet's classifier scaled
    down: dropout, dense layer, dropout, dense layer (``fc_units``, 512 and 512, each ReLU and
    batch norm); the last one's output is the embedding. Each MFCC coefficient is standardised
    over the clips' real frames (:class:`InputNorm`; padded frames stay zero). About 2.8 M
    parameters, 2.3 M of them in the first dense layer.
    """

    kwargs_go_to = AlexNetTrunk

    def __init__(self, n_classes: int, n_mfcc: int = 20, max_frames: int = 282, **trunk: Any) -> None:
        """``trunk``: :class:`AlexNetTrunk` settings (default here: kernels 5, 3, 3, 3, 3 of stride 1)."""
        super().__init__()
        self.n_mfcc, self.max_frames = n_mfcc, max_frames
        self.norm = InputNorm(n_mfcc)
        trunk = {"kernel_sizes": (5, 3, 3, 3, 3), "strides": (1, 1, 1, 1, 1), **trunk}
        self.trunk = AlexNetTrunk(1, (n_mfcc, max_frames), **trunk)
        self.embedding_dim, self.n_classes = self.trunk.out_dim, n_classes
        self.head = nn.Linear(self.embedding_dim, n_classes)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, T <= max_frames, n_mfcc)`` -> ``(B, embedding_dim)``."""
        if x.dim() != 3 or x.shape[2] != self.n_mfcc or x.shape[1] > self.max_frames:
            raise ValueError(
                f"alexnet_mfcc expects (B, frames <= {self.max_frames}, {self.n_mfcc}), got shape {tuple(x.shape)}"
            )
        x = self.norm(x, -1, valid_lengths(x))
        x = nn.functional.pad(x, (0, 0, 0, self.max_frames - x.shape[1]))
        return self.trunk(x.transpose(1, 2).unsqueeze(1))


# --- seed 002: 1D CNN --------------------------------------------------------------------


@register("cnn1d")
class CNN1D(EmotionNet):
    """Seed 002's audio network, "1D 5CNN + 2 Linear Layers": 512, 512, 256, 256, 128 filters.

    Input ``(B, n_features, T)`` frame features, the ``seed002`` extractor's ``(22, T)`` (ZCR,
    RMS, 20 MFCCs), any T >= 1. Frames zero-padded at the end are left out of the pooling, so a
    clip's output does not depend on how much padding its batch gave it (compared with the
    unpadded clip, only positions within the convolutions' reach of its end differ).
    Each convolution is followed by ReLU, batch norm and a "same" max pooling of stride 2;
    the seed's text gives no kernel, pooling or dropout sizes, so those of the Keras speech-
    emotion notebook whose layer widths it matches stand: kernels 5, 5, 5, 3, 3, pools 5, 5,
    5, 5, 3, dropout 0.2 after the 2nd, 4th and 5th block. The seed's 1D CNN ran over the
    flattened feature vector as one channel ("Flattened to 23,936 features" = 128 x 187
    positions, i.e. 5,984 = 22 x 272 values); here the 22 features are the input channels and
    the convolution runs over time, and global mean + max pooling over time replaces the flatten
    so that any clip length works. "Linear layers: 512 -> 8 classes": a dense layer of 512 with
    batch norm is the embedding (512, as the seed has it).
    """

    def __init__(
        self,
        n_classes: int,
        n_features: int = 22,
        filters: Sequence[int] = (512, 512, 256, 256, 128),
        kernel_sizes: Sequence[int] = (5, 5, 5, 3, 3),
        pool_sizes: Sequence[int] = (5, 5, 5, 5, 3),
        pool_stride: int = 2,
        dropouts: Sequence[float] = (0.0, 0.2, 0.0, 0.2, 0.2),
        embedding_dim: int = 512,
    ) -> None:
        super().__init__()
        if not len(filters) == len(kernel_sizes) == len(pool_sizes) == len(dropouts):
            raise ValueError("filters, kernel_sizes, pool_sizes and dropouts need one entry per layer")
        self.norm = InputNorm(n_features)
        channels = [n_features, *filters]
        self.convs = nn.Sequential(
            *(
                conv_block(1, i, o, k, pool_size=p, pool_stride=pool_stride, dropout=d)
                for (i, o), k, p, d in zip(pairwise(channels), kernel_sizes, pool_sizes, dropouts, strict=True)
            )
        )
        self.fc = dense_block(2 * channels[-1], embedding_dim)
        self.embedding_dim, self.n_classes = embedding_dim, n_classes
        self.head = nn.Linear(embedding_dim, n_classes)

    def _pooled_lengths(self, lengths: torch.Tensor) -> torch.Tensor:
        """Valid lengths after every pooling (the convolutions keep lengths)."""
        for block in self.convs:
            assert isinstance(block, nn.Sequential)  # conv_block's: conv, ReLU, norm, pool, dropout
            pool = block[3]
            assert isinstance(pool, nn.MaxPool1d)
            kernel, stride, padding = pool.kernel_size, pool.stride, pool.padding
            assert isinstance(kernel, int) and isinstance(stride, int) and isinstance(padding, int)
            lengths = (lengths + 2 * padding - kernel) // stride + 1
        return lengths

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, n_features, T)`` -> ``(B, embedding_dim)``."""
        if x.dim() != 3:
            raise ValueError(f"cnn1d expects (B, n_features, T), got shape {tuple(x.shape)}")
        lengths = valid_lengths(x, time_dim=2)
        z = self.convs(self.norm(x.transpose(1, 2), -1, lengths).transpose(1, 2))
        valid = torch.arange(z.shape[-1], device=z.device) < self._pooled_lengths(lengths)[:, None, None]
        mean = (z * valid).sum(-1) / valid.sum(-1)
        peak = z.masked_fill(~valid, -math.inf).amax(-1)
        return self.fc(torch.cat([mean, peak], dim=1))


# --- ours: residual CNN with attentive statistics pooling --------------------------------


class ResidualBlock(nn.Module):
    """Two 3x3 convolutions with batch norm and a shortcut (1x1 projection when the shape changes).

    ``(B, in_channels, F, T) -> (B, out_channels, ceil(F / sf), ceil(T / st))`` for ``stride = (sf, st)``.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: tuple[int, int] = (1, 1)) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(),
            nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
        )
        self.shortcut: nn.Module = nn.Identity()
        if in_channels != out_channels or stride != (1, 1):
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False), nn.BatchNorm2d(out_channels)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.body(x) + self.shortcut(x))


class AttentiveStatsPool(nn.Module):
    """Attentive statistics pooling (Okabe et al. 2018): ``(B, C, T) -> (B, 2C)``, weighted mean and std.

    A per-channel softmax over time of a small attention network weights the frames.
    """

    def __init__(self, channels: int, hidden: int = 128) -> None:
        super().__init__()
        self.attention = nn.Sequential(nn.Conv1d(channels, hidden, 1), nn.Tanh(), nn.Conv1d(hidden, channels, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weights = torch.softmax(self.attention(x), dim=-1)
        mean = (weights * x).sum(-1)
        var = (weights * x.square()).sum(-1) - mean.square()
        return torch.cat([mean, var.clamp(min=1e-6).sqrt()], dim=1)


@register("avemotion_audio")
class AvemotionAudio(EmotionNet):
    """The project's log-mel network: a small residual CNN, attentive statistics pooling over time.

    Input: log-mel segments ``(B, S, n_mels, n_frames)`` (``logmel_segments``, ``(B, 12, 96,
    32)``), joined in time order into one ``(n_mels, S * n_frames)`` spectrogram; or a whole-clip
    log-mel ``(B, n_mels, T)`` / ``(B, 1, n_mels, T)`` (``log_mel``, dB), any T >= 1. Each
    clip is standardised over all its values (so a gain in dB changes nothing). A stem
    convolution and three :class:`ResidualBlock` stages (``channels``) halve frequency and time
    (the last stage frequency only: 96 mel bands -> 6, 384 frames -> 48 of 186 ms); the
    channels x bands of each frame are projected to ``frame_dim`` features, pooled by
    :class:`AttentiveStatsPool` and a dense layer of ``embedding_dim`` with batch norm and
    ``dropout`` before it is the embedding. About 0.7 M parameters.
    """

    def __init__(
        self,
        n_classes: int,
        n_mels: int = 96,
        stem_channels: int = 24,
        channels: Sequence[int] = (32, 64, 128),
        strides: Sequence[tuple[int, int]] = ((2, 2), (2, 2), (2, 1)),
        frame_dim: int = 256,
        attention_dim: int = 128,
        embedding_dim: int = 256,
        dropout: float = 0.3,
    ) -> None:
        super().__init__()
        widths = [stem_channels, *channels]
        self.n_mels = n_mels
        self.cnn = nn.Sequential(
            nn.Conv2d(1, stem_channels, 3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(stem_channels),
            nn.ReLU(),
            *(ResidualBlock(i, o, (sf, st)) for (i, o), (sf, st) in zip(pairwise(widths), strides, strict=True)),
        )
        _, c, f, _ = _output_shape(self.cnn, (1, 1, n_mels, 32))
        self.frames = nn.Sequential(nn.Conv1d(c * f, frame_dim, 1, bias=False), nn.BatchNorm1d(frame_dim), nn.ReLU())
        self.pool = AttentiveStatsPool(frame_dim, attention_dim)
        self.fc = nn.Sequential(nn.Dropout(dropout), dense_block(2 * frame_dim, embedding_dim))
        self.embedding_dim, self.n_classes = embedding_dim, n_classes
        self.head = nn.Linear(embedding_dim, n_classes)

    def _spectrogram(self, x: torch.Tensor) -> torch.Tensor:
        """Any accepted input as a standardised ``(B, 1, n_mels, T)``."""
        if x.dim() == 3:
            x = x.unsqueeze(1)
        elif x.dim() == 4 and x.shape[1] != 1:
            b, s, m, f = x.shape
            x = x.permute(0, 2, 1, 3).reshape(b, 1, m, s * f)
        if x.dim() != 4 or x.shape[2] != self.n_mels:
            raise ValueError(
                f"avemotion_audio expects (B, segments, {self.n_mels}, frames), (B, {self.n_mels}, T) or "
                f"(B, 1, {self.n_mels}, T), got shape {tuple(x.shape)}"
            )
        mean = x.mean(dim=(1, 2, 3), keepdim=True)
        std = x.std(dim=(1, 2, 3), keepdim=True, unbiased=False)
        return (x - mean) / (std + 1e-5)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Log-mel segments or spectrogram (see the class) -> ``(B, embedding_dim)``."""
        z = self.cnn(self._spectrogram(x))
        return self.fc(self.pool(self.frames(z.flatten(1, 2))))
