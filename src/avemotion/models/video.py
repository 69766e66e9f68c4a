"""The video networks of the seeds, on sequences of face crops.

==================  ========================  ==================================  ========  =========
name                input (B, T, H, W, C)     extractor (``face_sequence``)       seed      embedding
==================  ========================  ==================================  ========  =========
``c3d``             (B, 12, 100, 96, 3)       n 12, size seed003 (RGB)            003       256
``cnn2d_frames``    (B, 22, 48, 48, 1)        n 22, size seed002 (gray)           002       64
``cnn_lstm``        (B, 10, 64, 64, 1)        n 10, size [64, 64], gray           004, 001  256
``alexnet_frames``  (B, 10, 224, 224, 3)      n 10, size imagenet (RGB)           004       512
==================  ========================  ==================================  ========  =========

Every network takes a float batch ``(B, T, H, W, C)``: T frames of H x W pixels with C
channels (3: RGB, 1: gray), values 0..255 as the extractor stores them (any float dtype; the
uint8 crops cast). Each clip is standardised over all its values (zero mean, unit standard
deviation, :func:`standardise_clips`), so no caller has to scale the pixels. The seeds' Keras
layers keep their order: convolution, ReLU, (batch norm), max pooling, (dropout). Their "same"
max pooling of stride 2 maps a length L to ceil(L / 2), as here (``ceil_mode``).
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise
from typing import Any, Literal

import torch
from torch import nn

from avemotion.models.audio import AlexNetTrunk, _output_shape, dense_block
from avemotion.models.base import EmotionNet, register

__all__ = ["C3D", "CNNLSTM", "AlexNetFrames", "FrameCNN2D", "conv_stage", "standardise_clips"]


def standardise_clips(x: torch.Tensor, channels: int, name: str) -> torch.Tensor:
    """``(B, T, H, W, C)`` 0..255 -> ``(B, C, T, H, W)`` float, each clip to zero mean, unit std.

    Raises ValueError naming the model ``name`` when ``x`` is not 5-d with ``channels`` channels.
    """
    if x.dim() != 5 or x.shape[-1] != channels:
        raise ValueError(f"{name} expects (B, frames, height, width, {channels}), got shape {tuple(x.shape)}")
    x = x.float()
    mean = x.mean(dim=(1, 2, 3, 4), keepdim=True)
    std = x.std(dim=(1, 2, 3, 4), keepdim=True).clamp(min=1.0)
    return ((x - mean) / std).permute(0, 4, 1, 2, 3)


def conv_stage(
    dims: Literal[2, 3],
    in_channels: int,
    out_channels: int,
    kernel_size: int = 3,
    *,
    pool_size: int = 2,
    batch_norm: bool = False,
    dropout: float = 0.0,
) -> nn.Sequential:
    """Conv ("same", stride 1) -> ReLU -> [BatchNorm] -> MaxPool (ceil: L -> ceil(L / pool)) -> [Dropout],
    in ``dims`` (2 or 3) dimensions."""
    conv, norm, pool = (
        (nn.Conv2d, nn.BatchNorm2d, nn.MaxPool2d) if dims == 2 else (nn.Conv3d, nn.BatchNorm3d, nn.MaxPool3d)
    )
    layers: list[nn.Module] = [conv(in_channels, out_channels, kernel_size, padding="same"), nn.ReLU()]
    if batch_norm:
        layers.append(norm(out_channels))
    layers.append(pool(pool_size, ceil_mode=True))
    if dropout:
        layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)


def _dense(in_features: int, out_features: int, dropout: float = 0.0) -> nn.Sequential:
    """Linear -> ReLU -> [Dropout] (the seeds' Keras ``Dense(relu)`` without batch norm)."""
    layers: list[nn.Module] = [nn.Linear(in_features, out_features), nn.ReLU()]
    if dropout:
        layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)


# --- seed 003: 3D-CNN --------------------------------------------------------------------


@register("c3d")
class C3D(EmotionNet):
    """Seed 003's visual 3D-CNN on 12 face crops of 100x96 RGB ("(12*96*100*3)").

    Seed 003's code: four "Conv3D(f, (3, 3, 3), activation='relu', padding='same')" +
    "MaxPooling3D((2, 2, 2), padding='same')" of 64, 128, 256, 512 filters, "Dropout(0.5)",
    flatten (512 x 1 x 7 x 6 = 21,504 values for 12 x 100 x 96), "Dense(1024)" + dropout 0.5,
    "Dense(512)" + dropout 0.5, "Dense(256, activation='relu')": the embedding ("256 features
    are extracted from the last Fully Connected layer"), then the softmax layer. Input
    ``(B, frames, height, width, in_channels)``; the flatten ties the network to that size.
    ``batch_norm`` (ours, off as in the seed) adds batch norm after each convolution.
    """

    def __init__(
        self,
        n_classes: int,
        frames: int = 12,
        height: int = 100,
        width: int = 96,
        in_channels: int = 3,
        filters: Sequence[int] = (64, 128, 256, 512),
        kernel_size: int = 3,
        pool_size: int = 2,
        batch_norm: bool = False,
        conv_dropout: float = 0.5,
        dense_units: Sequence[int] = (1024, 512),
        dense_dropout: float = 0.5,
        embedding_dim: int = 256,
    ) -> None:
        super().__init__()
        self.in_channels = in_channels
        channels = [in_channels, *filters]
        self.cnn = nn.Sequential(
            *(
                conv_stage(3, i, o, kernel_size, pool_size=pool_size, batch_norm=batch_norm)
                for i, o in pairwise(channels)
            ),
            nn.Dropout(conv_dropout),
            nn.Flatten(),
        )
        widths = [_output_shape(self.cnn, (1, in_channels, frames, height, width))[1], *dense_units]
        self.dense = nn.Sequential(*(_dense(i, o, dense_dropout) for i, o in pairwise(widths)))
        self.fc = _dense(widths[-1], embedding_dim)
        self.embedding_dim, self.n_classes = embedding_dim, n_classes
        self.head = nn.Linear(embedding_dim, n_classes)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, frames, height, width, in_channels)`` -> ``(B, embedding_dim)``."""
        return self.fc(self.dense(self.cnn(standardise_clips(x, self.in_channels, "c3d"))))


# --- seed 002: 2D CNN per frame + 3 linear layers ----------------------------------------


@register("cnn2d_frames")
class FrameCNN2D(EmotionNet):
    """Seed 002's video network, "2D 2CNN + 3 Linear Layers", on its 22 Haar face crops of 48x48 gray.

    From the seed: two convolutions of 32 and 64 filters, "Fully connected layers: 128 -> 64 -> 8
    (emotion classes)". Ours (the seed gives no more): 3x3 kernels, ReLU and 2x2 max pooling
    after each convolution, the 2D CNN applied to every frame and its flattened maps (64 x 12 x
    12 for 48x48) pooled over the frames: ``temporal="mean"`` averages them (any T),
    ``"concat"`` joins them in time order (T fixed to ``frames``). The seed's "Flattened to
    48,640 neurons" does not follow from its stated 48x48 crops and is not reproduced. The
    embedding is the second linear layer's ReLU output, 64-d; ``dropout`` (ours) before each
    linear layer.
    """

    def __init__(
        self,
        n_classes: int,
        frames: int = 22,
        height: int = 48,
        width: int = 48,
        in_channels: int = 1,
        filters: Sequence[int] = (32, 64),
        kernel_size: int = 3,
        pool_size: int = 2,
        temporal: Literal["mean", "concat"] = "mean",
        hidden_units: Sequence[int] = (128,),
        embedding_dim: int = 64,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if temporal not in ("mean", "concat"):
            raise ValueError(f"temporal must be 'mean' or 'concat', got {temporal!r}")
        self.in_channels, self.frames, self.temporal = in_channels, frames, temporal
        channels = [in_channels, *filters]
        self.cnn = nn.Sequential(
            *(conv_stage(2, i, o, kernel_size, pool_size=pool_size) for i, o in pairwise(channels)), nn.Flatten()
        )
        per_frame = _output_shape(self.cnn, (1, in_channels, height, width))[1]
        widths = [per_frame * (frames if temporal == "concat" else 1), *hidden_units, embedding_dim]
        self.dense = nn.Sequential(*(nn.Sequential(nn.Dropout(dropout), *_dense(i, o)) for i, o in pairwise(widths)))
        self.drop = nn.Dropout(dropout)
        self.embedding_dim, self.n_classes = embedding_dim, n_classes
        self.head = nn.Linear(embedding_dim, n_classes)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, T, height, width, in_channels)`` -> ``(B, embedding_dim)``."""
        clips = standardise_clips(x, self.in_channels, "cnn2d_frames")
        b, c, t, h, w = clips.shape
        if self.temporal == "concat" and t != self.frames:
            raise ValueError(f"cnn2d_frames with temporal='concat' expects {self.frames} frames, got {t}")
        frames = self.cnn(clips.transpose(1, 2).reshape(b * t, c, h, w)).reshape(b, t, -1)
        pooled = frames.mean(dim=1) if self.temporal == "mean" else frames.flatten(1)
        return self.dense(pooled)

    def classify(self, embedding: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, n_classes)`` (dropout on the embedding while training)."""
        return self.head(self.drop(embedding))


# --- seeds 004/001: per-frame CNN + LSTM -------------------------------------------------


@register("cnn_lstm")
class CNNLSTM(EmotionNet):
    """A per-frame 2D CNN, then an LSTM over the frames (seed 004's frame sampling, seed 001's CNN).

    Seed 004 keeps one frame in ten of each video (about 10 per RAVDESS clip) and crops the
    face; its visual network scores frames one by one and averages their predictions (its
    "MultipleInput" model); the LSTM over the frame vectors here replaces that average (its
    audio network is "two 128 hidden layers" of LSTM, whose size is taken). Seed 001's video
    CNN on gray frames: "4 convolutional layers with max-pooling and dropout", then dense
    layers; its widths are not given: 32, 64, 128, 128 (ours), 3x3, ReLU, batch norm, 2x2
    pooling, ``conv_dropout`` after each. Each frame's flattened maps go through a dense layer
    of ``frame_dim`` (+ batch norm); the last LSTM layer's final state through a dense layer of
    ``embedding_dim`` with batch norm: the embedding. Input ``(B, T, height, width,
    in_channels)``, any T.
    """

    def __init__(
        self,
        n_classes: int,
        height: int = 64,
        width: int = 64,
        in_channels: int = 1,
        filters: Sequence[int] = (32, 64, 128, 128),
        kernel_size: int = 3,
        pool_size: int = 2,
        conv_dropout: float = 0.25,
        frame_dim: int = 256,
        lstm_units: int = 128,
        lstm_layers: int = 2,
        embedding_dim: int = 256,
        dropout: float = 0.3,
    ) -> None:
        super().__init__()
        self.in_channels = in_channels
        channels = [in_channels, *filters]
        self.cnn = nn.Sequential(
            *(
                conv_stage(2, i, o, kernel_size, pool_size=pool_size, batch_norm=True, dropout=conv_dropout)
                for i, o in pairwise(channels)
            ),
            nn.Flatten(),
        )
        self.frame_dense = dense_block(_output_shape(self.cnn, (1, in_channels, height, width))[1], frame_dim)
        self.lstm = nn.LSTM(frame_dim, lstm_units, num_layers=lstm_layers, batch_first=True)
        self.fc = dense_block(lstm_units, embedding_dim, dropout)
        self.embedding_dim, self.n_classes = embedding_dim, n_classes
        self.head = nn.Linear(embedding_dim, n_classes)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, T, height, width, in_channels)`` -> ``(B, embedding_dim)``."""
        clips = standardise_clips(x, self.in_channels, "cnn_lstm")
        b, c, t, h, w = clips.shape
        frames = self.frame_dense(self.cnn(clips.transpose(1, 2).reshape(b * t, c, h, w)))
        _, (state, _) = self.lstm(frames.reshape(b, t, -1))
        return self.fc(state[-1])


# --- seed 004: AlexNet per frame, predictions averaged over the frames --------------------


@register("alexnet_frames")
class AlexNetFrames(EmotionNet):
    """Seed 004's visual network: an AlexNet on each face crop, the frames' predictions averaged.

    Seed 004 crops the face from one frame in ten of each video, resizes it to 224x224 ("the
    input size for Alexnet"), fine-tunes an ImageNet AlexNet (five convolutions, three of them
    followed by max pooling; dense layers of 4096, 4096 and a last one changed to 7 classes) on
    the single frames and, in its "MultipleInput" model, averages the frames' class
    probabilities into the clip's. Here the AlexNet layout is trained from scratch and scaled
    down (:func:`alexnet_features`): ``filters`` (32, 64, 96, 96, 64 for AlexNet's 64, 192,
    384, 256, 256), kernels 11, 5, 3, 3, 3, the first convolution's stride ``strides[0]`` (4 in
    AlexNet for 224 pixels; 2 gives the same 55x55 maps for 112), ReLU, batch norm (ours),
    max pooling of 3, stride 2 after the 1st, 2nd and 5th (6x6 maps for either), flattened, then
    dropout, dense layer, dropout, dense layer (``fc_units``, 512 and 512 for AlexNet's 4096,
    each ReLU and batch norm) per frame. The embedding is the mean over the frames of that last
    dense layer's output; the clip's logits are the mean of the frames' logits, the head being
    linear (the head applied to the mean embedding; :meth:`frame_logits` gives each frame's).
    The seed averaged softmax probabilities instead. Input ``(B, T, height, width, in_channels)``,
    any T, standardised per clip (:func:`standardise_clips`).
    """

    kwargs_go_to = AlexNetTrunk

    def __init__(self, n_classes: int, height: int = 224, width: int = 224, in_channels: int = 3, **trunk: Any) -> None:
        """``trunk``: :class:`~avemotion.models.audio.AlexNetTrunk` settings."""
        super().__init__()
        self.in_channels = in_channels
        self.trunk = AlexNetTrunk(in_channels, (height, width), **trunk)
        self.embedding_dim, self.n_classes = self.trunk.out_dim, n_classes
        self.head = nn.Linear(self.embedding_dim, n_classes)

    def frame_embeddings(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, T, height, width, in_channels)`` -> each frame's embedding ``(B, T, embedding_dim)``."""
        clips = standardise_clips(x, self.in_channels, "alexnet_frames")
        b, c, t, h, w = clips.shape
        return self.trunk(clips.transpose(1, 2).reshape(b * t, c, h, w)).reshape(b, t, -1)

    def frame_logits(self, x: torch.Tensor) -> torch.Tensor:
        """Each frame's logits ``(B, T, n_classes)``; their mean over T is :meth:`forward`'s."""
        return self.head(self.frame_embeddings(x))

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, T, height, width, in_channels)`` -> ``(B, embedding_dim)``, the mean frame embedding."""
        return self.frame_embeddings(x).mean(dim=1)
