"""The frame expression model: the fer_cnn network, the shipped face bundle, pooling, prediction."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from avemotion.core.labels import to_canonical
from avemotion.corpora.images import load_image
from avemotion.errors import NoFaceError
from avemotion.estimators.trainer import Trainer
from avemotion.media.encode import write_video
from avemotion.models import build_model
from avemotion.models.base import inference_copy
from avemotion.models.visual import augment_faces
from avemotion.prediction.face import FaceBranch
from avemotion.prediction.recognizer import Recognizer
from avemotion.recipes import load_recipe
from avemotion.visual.pooling import attention_weights, pool

RAVDESS_VIDEO = "ravdess/video_samples/Actor_01/01-01-07-02-02-01-01.mp4"


@pytest.fixture(scope="module")
def model() -> FaceBranch:
    return FaceBranch.load("face")


# --- the network -------------------------------------------------------------------------


def test_fer_cnn_shapes_and_augmentation() -> None:
    net = build_model("fer_cnn", 7, **load_recipe("face_fer2013")["model"]["params"]).eval()
    x = torch.rand(3, 48, 48) * 255
    assert net.embed(x).shape == (3, 256) and net(x.unsqueeze(1)).shape == (3, 7)
    out = augment_faces(x, torch.Generator().manual_seed(0))
    assert out.shape == x.shape and not torch.equal(out, x)


def test_inference_copy_folds_batch_norm_and_predicts_the_same() -> None:
    torch.manual_seed(0)
    net = build_model("fer_cnn", 7, **load_recipe("face_fer2013")["model"]["params"])
    for module in net.modules():  # trained-looking statistics, so the folding has work to do
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-1, 1), module.running_var.uniform_(0.5, 2.0)
            module.weight.data.uniform_(0.5, 1.5), module.bias.data.uniform_(-0.5, 0.5)
    net.eval()
    fast = inference_copy(net)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in fast.modules())
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in net.modules())  # the original is untouched
    x = torch.rand(5, 48, 48) * 255
    with torch.no_grad():
        torch.testing.assert_close(fast(x), net(x), atol=1e-4, rtol=1e-4)
        torch.testing.assert_close(fast.embed(x), net.embed(x), atol=1e-4, rtol=1e-4)


def test_random_erasing_puts_one_noise_rectangle_in_the_chosen_images() -> None:
    flat = torch.full((64, 48, 48), 100.0)
    plain = dict(shift=0.0, degrees=0.0, scale=(1.0, 1.0))
    assert torch.allclose(augment_faces(flat, torch.Generator().manual_seed(0), **plain), flat)
    out = augment_faces(flat, torch.Generator().manual_seed(0), erase=0.5, erase_area=(0.1, 0.2), **plain)
    changed = (out - 100.0).abs() > 1e-3
    area = changed.float().mean(dim=(1, 2))
    erased = area > 0
    assert 16 <= int(erased.sum()) <= 48  # about half the images
    assert area[erased].max() <= 0.2 + 0.05 and area[erased].min() >= 0.05
    for mask in changed[erased]:  # one rectangle: its bounding box is all changed pixels
        rows, cols = mask.any(dim=1).nonzero(), mask.any(dim=0).nonzero()
        box = mask[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
        assert box.float().mean() > 0.95
    assert out.min() >= 0 and out.max() <= 255


def test_trainer_resumes_where_it_stopped(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    X, y = rng.uniform(0, 255, (24, 16, 16)).astype(np.float32), np.arange(24) % 3
    params = {"widths": (4, 8), "depth": 1, "embedding_dim": 8}

    def fit(epochs: int, resume: Path | None) -> dict[str, torch.Tensor]:
        torch.manual_seed(0)
        net = build_model("fer_cnn", 3, **params)
        Trainer(epochs=epochs, batch_size=8, seed=0, num_threads=1, patience=None, resume_path=resume).fit(net, X, y)
        return net.state_dict()

    straight = fit(3, None)
    fit(2, tmp_path / "resume.pt")  # "cut off" after two epochs
    resumed = fit(3, tmp_path / "resume.pt")
    assert all(torch.equal(straight[k], resumed[k]) for k in straight)


# --- pooling -----------------------------------------------------------------------------


def test_pooling_on_synthetic_frames() -> None:
    probs = np.array([[0.9, 0.05, 0.05], [1 / 3, 1 / 3, 1 / 3], [0.2, 0.7, 0.1]])
    np.testing.assert_allclose(pool(probs, "mean"), probs.mean(axis=0))
    np.testing.assert_allclose(pool(probs, "max"), [0.9, 0.7, 1 / 3])
    w = attention_weights(probs)
    assert w.shape == (3,) and w.sum() == pytest.approx(1.0)
    assert w[0] > w[2] > w[1]  # the most confident frame counts most, the uniform one least
    np.testing.assert_allclose(pool(probs, "attention"), w @ probs)
    embeddings = np.arange(12.0).reshape(3, 4)
    assert pool(embeddings, "attention", probs=probs).shape == (4,)
    np.testing.assert_allclose(attention_weights(probs, temperature=1e6), np.full(3, 1 / 3), rtol=1e-5)
    with pytest.raises(ValueError, match="mean, max or attention"):
        pool(probs, "median")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="frame values"):
        pool(np.zeros((0, 3)))


# --- the shipped bundle ------------------------------------------------------------------


def test_shipped_face_model_on_fer2013_test(shared_data: Path, model: FaceBranch) -> None:
    files = sorted((shared_data / "fer2013" / "test").glob("*/*.jpg"))[::18][:200]
    images = np.stack([load_image(f) for f in files])
    truth = np.array([to_canonical("fer2013", f.parent.name) for f in files])
    proba = model.proba_of_crops(images)
    assert proba.shape == (len(files), 7) and np.allclose(proba.sum(axis=1), 1)
    accuracy = (np.array(model.labels)[proba.argmax(axis=1)] == truth).mean()
    assert accuracy > 0.45, accuracy  # chance 1/7, the largest class (happy) 25 %
    fp32 = FaceBranch(model.bundle, precision="fp32").proba_of_crops(images)
    bf16 = FaceBranch(model.bundle, precision="bf16").proba_of_crops(images)
    assert np.abs(fp32 - bf16).max() < 0.05 and (fp32.argmax(axis=1) == bf16.argmax(axis=1)).mean() > 0.97
    with pytest.raises(ValueError, match="precision"):
        FaceBranch(model.bundle, precision="fp16")  # type: ignore[arg-type]
    rgb = np.repeat(images[:4, :, :, None], 3, axis=3)
    np.testing.assert_allclose(model.proba_of_crops(rgb), proba[:4], atol=1e-6)
    assert model.embed_crops(images[:5]).shape == (5, 256)


def test_face_recognizer_on_a_real_video(shared_data: Path) -> None:
    prediction = Recognizer.load("face").analyse(shared_data / RAVDESS_VIDEO)
    face = prediction.modalities["face"]
    assert tuple(face) == ("neutral", "happy", "sad", "angry", "fearful", "disgust", "surprised")
    assert sum(face.values()) == pytest.approx(1.0) and all(0 <= p <= 1 for p in face.values())
    assert prediction.used == ["face"]


def test_no_face_raises(tmp_path: Path, model: FaceBranch) -> None:
    rng = np.random.default_rng(0)
    path = tmp_path / "noise.mp4"
    ramp = np.linspace(0, 255, 96, dtype=np.uint8)[None, :, None]
    frames = np.stack([(rng.integers(0, 64, (72, 96, 3)) + np.roll(ramp, 4 * i, axis=1) // 2) for i in range(25)])
    write_video(path, frames.astype(np.uint8), 25)
    with pytest.raises(NoFaceError, match=r"noise\.mp4: no face found"):
        Recognizer.load("face").analyse(path)


def test_image_arrays_are_cached_and_packed_losslessly(shared_data: Path, tmp_path: Path) -> None:
    from avemotion.corpora.image_arrays import (
        ImageArrays,
        image_arrays,
        load_arrays,
        save_arrays,
    )

    root = shared_data / "ck_plus_48"
    first = image_arrays(root, size=48, cache_dir=tmp_path / "cache")
    assert first.images.dtype == np.uint8 and first.images.shape[1:] == (48, 48)
    assert len(first.images) == len(first.emotion) == len(first.clip_id) == len(first.partition) > 900
    cached = list((tmp_path / "cache" / "image_arrays").glob("*.npz"))
    assert len(cached) == 1
    again = image_arrays(root, size=48, cache_dir=tmp_path / "cache")
    assert np.array_equal(again.images, first.images) and list(again.emotion) == list(first.emotion)
    packed = save_arrays(ImageArrays(first.images[:50], first.emotion[:50], first.clip_id[:50], first.partition[:50]),
                         tmp_path / "pack.npz")
    back = load_arrays(packed)
    assert np.array_equal(back.images, first.images[:50]) and list(back.clip_id) == list(first.clip_id[:50])
    assert packed.stat().st_size < first.images[:50].nbytes  # deflated
