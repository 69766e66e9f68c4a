"""Corpus readers: real data in ../shared and synthetic layouts of empty files in tmp_path."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from avemotion.corpora import READERS, detect_corpus, read_corpus
from avemotion.corpora.crema_d import read_crema_d
from avemotion.corpora.emodb import read_emodb
from avemotion.corpora.enterface import read_enterface
from avemotion.corpora.fer2013 import read_fer2013
from avemotion.corpora.images import load_image
from avemotion.corpora.openface import (
    au_columns,
    clip_au_means,
    join_au_tables,
    read_clip_au_table,
    read_openface_frames,
)
from avemotion.corpora.ravdess import read_ravdess
from avemotion.corpora.savee import read_savee
from avemotion.corpora.summary import summarize
from avemotion.corpora.table import COLUMNS, Corpus, make_table
from avemotion.errors import CorpusLayoutError


def touch(root: Path, *names: str) -> None:
    """Create empty files under ``root``."""
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()


def row(corpus: Corpus, clip_id: str) -> pd.Series:
    rows = corpus.table[corpus.table["clip_id"] == clip_id]
    assert len(rows) == 1, f"{clip_id} not in {corpus.table['clip_id'].tolist()}"
    return rows.iloc[0]


def reasons(corpus: Corpus) -> dict[str, str]:
    return {Path(u.path).name: u.reason for u in corpus.unrecognised}


def write_frames_csv(path: Path, success: list[int], confidence: list[float], au12: list[float]) -> None:
    """A FeatureExtraction-style CSV: names after the first start with a space."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["frame, face_id, timestamp, confidence, success, AU12_r, AU01_r, AU01_c"]
    for i, (ok, conf, au) in enumerate(zip(success, confidence, au12)):
        lines.append(f"{i + 1}, 0, {i * 0.04:.2f}, {conf}, {ok}, {au}, 1.0, 1")
    path.write_text("\n".join(lines) + "\n")


# --- real data ---------------------------------------------------------------------------


def test_real_ravdess(shared_data: Path) -> None:
    corpus = read_corpus(shared_data / "ravdess")
    table = corpus.table
    assert corpus.name == "ravdess" and len(table) == 1200
    assert list(table.columns[: len(COLUMNS)]) == list(COLUMNS)
    assert table["speaker"].nunique() == 20
    assert set(table.groupby("speaker").size()) == {60}
    assert table["emotion"].value_counts().to_dict() == {
        "neutral": 80,
        **{e: 160 for e in ("calm", "happy", "sad", "angry", "fearful", "disgust", "surprised")},
    }
    assert (table.loc[table["speaker"] == "ravdess:19", "gender"] == "male").all()
    assert (table.loc[table["speaker"] == "ravdess:20", "gender"] == "female").all()
    assert corpus.unrecognised == []

    with_video = table[table["video"].notna()]
    assert sorted(with_video["clip_id"]) == ["01-07-02-02-01-01", "01-08-02-01-01-19"]
    full_av = row(corpus, "01-07-02-02-01-01")
    assert full_av["video"].endswith("01-01-07-02-02-01-01.mp4")
    assert full_av["audio"].endswith("03-01-07-02-02-01-01.flac")
    assert full_av["emotion"] == "disgust" and full_av["intensity"] == "strong"
    video_only = row(corpus, "01-08-02-01-01-19")
    assert video_only["video"].endswith("02-01-08-02-01-01-19.mp4")
    assert video_only["video_only"] == video_only["video"]
    assert video_only["audio"].endswith("Actor_19/03-01-08-02-01-01-19.flac")
    assert all(Path(p).is_absolute() and Path(p).is_file() for p in table["audio"])

    summary = summarize(corpus)
    json.dumps(summary)
    assert summary["au"] == {"clips": 1200, "columns": 35, "openface_frames": 0}
    assert summary["modalities"] == {"audio": 1198, "audio+video": 2}
    assert au_columns(table)[:2] == ["AU01_r", "AU02_r"] and au_columns(table)[-1] == "AU45_c"
    au_means = pd.read_csv(shared_data / "ravdess" / "openface_au_means.csv").set_index("clip")
    assert row(corpus, "01-01-01-01-01-01")["AU04_r"] == pytest.approx(au_means.loc["01-01-01-01-01-01-01", "AU04_r"])


def test_real_crema_d(shared_data: Path) -> None:
    corpus = read_corpus(shared_data / "crema_d_samples")
    table = corpus.table
    assert corpus.name == "crema_d" and len(table) == 12 and corpus.unrecognised == []
    both = table[table["audio"].notna() & table["video"].notna()]
    audio_only = table[table["audio"].notna() & table["video"].isna()]
    assert set(both["speaker"]) == {"crema_d:1001"} and len(both) == 6
    assert set(audio_only["speaker"]) == {"crema_d:1002"} and len(audio_only) == 6
    assert all(p.endswith(".wav") for p in table["audio"])
    assert all(p.endswith(".flv") for p in both["video"])
    assert all(p.endswith(".mp3") for p in audio_only["audio_mp3"])
    assert set(both["gender"]) == {"male"} and set(audio_only["gender"]) == {"female"}
    assert set(table["sentence"]) == {"DFA"} and set(table["intensity"]) == {None}
    assert set(table["emotion"]) == {"angry", "disgust", "fearful", "happy", "neutral", "sad"}


@pytest.fixture(scope="module")
def fer_real(shared_data: Path) -> Corpus:
    return read_corpus(shared_data / "fer2013")


def test_real_fer2013(fer_real: Corpus) -> None:
    table = fer_real.table
    assert fer_real.name == "fer2013" and fer_real.unrecognised == []
    assert table["partition"].value_counts().to_dict() == {"train": 28709, "validation": 3589, "test": 3589}
    assert table["emotion"].nunique() == 7 and "contempt" not in set(table["emotion"])
    assert table["speaker"].isna().all()
    image = load_image(table["image"].iloc[0])
    assert image.dtype == np.uint8 and image.shape == (48, 48)


def test_real_ck_plus(shared_data: Path) -> None:
    corpus = read_corpus(shared_data / "ck_plus_48")
    table = corpus.table
    assert corpus.name == "ck_plus" and len(table) == 981 and corpus.unrecognised == []
    assert table["speaker"].nunique() == 118
    assert set(table["emotion"]) == {"angry", "contempt", "disgust", "fearful", "happy", "sad", "surprised"}
    first = table.iloc[0]
    assert first["speaker"] == f"ck_plus:{first['clip_id'][:4]}" and first["sequence"] == first["clip_id"][:8]
    assert summarize(corpus)["speakers"] == 118


# --- RAVDESS -----------------------------------------------------------------------------


def test_ravdess_two_roots_merge(tmp_path: Path) -> None:
    audio, video = tmp_path / "audio", tmp_path / "video"
    touch(
        audio,
        "Audio_Speech_Actors_01-24/Actor_01/03-01-05-01-02-01-01.wav",
        "Audio_Speech_Actors_01-24/Actor_01/03-01-05-01-02-01-01.flac",
        "Audio_Speech_Actors_01-24/Actor_01/03-01-05-01-02-01-03.wav",
        "Audio_Speech_Actors_01-24/Actor_01/03-01-09-01-02-01-01.wav",
        "Audio_Song_Actors_01-24/Actor_02/03-02-03-02-01-02-02.wav",
        "Audio_Speech_Actors_01-24/notes.txt",
        "README.md",
    )
    touch(
        video,
        "Video_Speech_Actor_01/Actor_01/01-01-05-01-02-01-01.mp4",
        "Video_Speech_Actor_01/Actor_01/02-01-05-01-02-01-01.mp4",
        "Video_Speech_Actor_01/Actor_01/01-01-02-01-01-01-01.mp4",
        "Video_Song_Actor_02/Actor_02/02-02-03-02-01-02-02.mp4",
    )
    corpus = read_ravdess(audio, video)
    assert len(corpus) == 3
    merged = row(corpus, "01-05-01-02-01-01")
    assert merged["audio"] == str(audio.resolve() / "Audio_Speech_Actors_01-24/Actor_01/03-01-05-01-02-01-01.wav")
    assert merged["video"].endswith("/01-01-05-01-02-01-01.mp4")
    assert merged["video_only"].endswith("/02-01-05-01-02-01-01.mp4")
    assert (merged["speaker"], merged["gender"], merged["emotion"]) == ("ravdess:01", "male", "angry")
    assert (merged["intensity"], merged["sentence"], merged["repetition"]) == ("normal", "02", 1)
    song = row(corpus, "02-03-02-01-02-02")
    assert (song["channel"], song["gender"], song["intensity"]) == ("song", "female", "strong")
    assert song["audio"].endswith("03-02-03-02-01-02-02.wav") and song["video"].endswith("02-02-03-02-01-02-02.mp4")
    full_av_only = row(corpus, "01-02-01-01-01-01")
    assert full_av_only["audio"] == full_av_only["video"]
    assert merged["channel"] == "speech" and full_av_only["emotion"] == "calm"

    why = reasons(corpus)
    assert set(why) == {
        "03-01-05-01-02-01-01.flac",
        "03-01-05-01-02-01-03.wav",
        "03-01-09-01-02-01-01.wav",
        "notes.txt",
    }
    assert why["03-01-05-01-02-01-01.flac"].startswith("duplicate of ") and why[
        "03-01-05-01-02-01-01.flac"
    ].endswith("03-01-05-01-02-01-01.wav")
    assert "Actor_01" in why["03-01-05-01-02-01-03.wav"]
    assert "emotion" in why["03-01-09-01-02-01-01.wav"]
    assert summarize(corpus)["unrecognised"] == 4


def test_ravdess_same_file_in_two_roots(tmp_path: Path) -> None:
    touch(tmp_path / "a", "03-01-01-01-01-01-05.wav")
    touch(tmp_path / "b", "03-01-01-01-01-01-05.wav")
    corpus = read_ravdess(tmp_path / "a", tmp_path / "b")
    assert len(corpus) == 1 and row(corpus, "01-01-01-01-01-05")["audio"].startswith(str(tmp_path.resolve() / "a"))
    assert [u.reason.startswith("duplicate of") for u in corpus.unrecognised] == [True]


def test_ravdess_openface(tmp_path: Path) -> None:
    touch(tmp_path, "Actor_03/01-01-04-02-01-02-03.mp4", "Actor_03/03-01-04-02-01-02-03.wav")
    write_frames_csv(tmp_path / "processed/01-01-04-02-01-02-03.csv", [1, 1], [0.9, 0.9], [1.0, 2.0])
    write_frames_csv(tmp_path / "processed/01-01-08-02-01-02-03.csv", [1], [0.9], [1.0])
    touch(
        tmp_path,
        "processed/01-01-04-02-01-02-03_of_details.txt",
        "processed/01-01-04-02-01-02-03_aligned/f_1.bmp",
    )
    (tmp_path / "au.csv").write_text("clip,AU01_c,AU01_r\n01-01-04-02-01-02-03,0.5,1.5\n01-01-01-01-01-01-09,0,0\n")
    (tmp_path / "other.csv").write_text("a,b\n1,2\n")
    corpus = read_ravdess(tmp_path)
    clip = row(corpus, "01-04-02-01-02-03")
    assert clip["openface"].endswith("processed/01-01-04-02-01-02-03.csv")
    assert (clip["AU01_r"], clip["AU01_c"]) == (1.5, 0.5)
    assert au_columns(corpus.table) == ["AU01_r", "AU01_c"]
    why = reasons(corpus)
    assert set(why) == {"01-01-08-02-01-02-03.csv", "other.csv"}
    assert "no media file" in why["01-01-08-02-01-02-03.csv"]
    summary = summarize(corpus)
    assert summary["au"] == {"clips": 1, "columns": 2, "openface_frames": 1}


def test_ravdess_errors(tmp_path: Path) -> None:
    with pytest.raises(CorpusLayoutError, match="does not exist"):
        read_ravdess(tmp_path / "missing")
    touch(tmp_path / "good", "03-01-01-01-01-01-01.wav")
    touch(tmp_path / "bad", "song.mp3")
    with pytest.raises(CorpusLayoutError, match=r"bad: no RAVDESS file found \(expected Actor_NN/"):
        read_ravdess(tmp_path / "good", tmp_path / "bad")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CorpusLayoutError, match="empty: no RAVDESS file"):
        read_ravdess(tmp_path / "empty")


# --- OpenFace ----------------------------------------------------------------------------


def test_openface_frames_and_means(tmp_path: Path) -> None:
    csv = tmp_path / "clip.csv"
    write_frames_csv(csv, success=[1, 0, 1, 1], confidence=[0.95, 0.2, 0.5, 0.9], au12=[1.0, 5.0, 3.0, 2.0])
    frames = read_openface_frames(csv)
    assert list(frames.columns[:5]) == ["frame", "face_id", "timestamp", "confidence", "success"]
    assert au_columns(frames) == ["AU01_r", "AU12_r", "AU01_c"]
    assert clip_au_means(frames)["AU12_r"] == pytest.approx(2.0)
    means = clip_au_means(frames, min_confidence=0.8)
    assert list(means.index) == ["AU01_r", "AU12_r", "AU01_c"] and means["AU12_r"] == pytest.approx(1.5)
    assert clip_au_means(frames, min_confidence=0.99).isna().all()


@pytest.mark.parametrize(
    "text",
    ["", "frame, timestamp\n1, 0.0\n", "frame, timestamp, confidence, success\n1, 0.0, high, 1\n"],
)
def test_openface_malformed(tmp_path: Path, text: str) -> None:
    csv = tmp_path / "bad.csv"
    csv.write_text(text)
    with pytest.raises(CorpusLayoutError, match="bad.csv"):
        read_openface_frames(csv)


def test_clip_au_table_join(tmp_path: Path) -> None:
    csv = tmp_path / "means.csv"
    csv.write_text("name, AU02_c, AU02_r, note\nx1, 1, 0.5, hi\nx2, 0, 0.25, ho\n")
    au = read_clip_au_table(csv)
    assert list(au.columns) == ["name", "AU02_r", "AU02_c"] and au.attrs["path"] == str(csv)
    table = make_table([{"clip_id": "1"}, {"clip_id": "3"}])
    joined = join_au_tables(table, [au], lambda key: key[1:])
    assert joined["AU02_r"].tolist()[0] == 0.5 and np.isnan(joined["AU02_r"].tolist()[1])
    with pytest.raises(CorpusLayoutError, match="means.csv.*'x2'"):
        join_au_tables(table, [au], lambda key: None if key == "x2" else key)
    (tmp_path / "dup.csv").write_text("clip,AU01_r\na,1\na,2\n")
    with pytest.raises(CorpusLayoutError, match="dup.csv"):
        read_clip_au_table(tmp_path / "dup.csv")
    (tmp_path / "noau.csv").write_text("clip,x\na,1\n")
    with pytest.raises(CorpusLayoutError, match="noau.csv"):
        read_clip_au_table(tmp_path / "noau.csv")


# --- CREMA-D, EmoDB, SAVEE, eNTERFACE ----------------------------------------------------


def test_crema_d_four_folders(tmp_path: Path) -> None:
    touch(
        tmp_path,
        "AudioWAV/1001_IEO_HAP_HI.wav",
        "AudioMP3/1001_IEO_HAP_HI.mp3",
        "VideoFlash/1001_IEO_HAP_HI.flv",
        "VideoMP4/1001_IEO_HAP_HI.mp4",
        "AudioMP3/1002_TIE_SAD_XX.mp3",
        "VideoFlash/1003_IEO_FEA_LO.flv",
        "VideoMP4/1003_IEO_FEA_MD.mp4",
        "AudioWAV/1004_XYZ_BAD_XX.wav",
        "AudioWAV/notes.wav",
        "SentenceFilenames.csv",
        "LICENSE.txt",
    )
    (tmp_path / "VideoDemographics.csv").write_text('"ActorID","Age","Sex"\n1001,51,"Male"\n1003,21,"Female"\n')
    corpus = read_crema_d(tmp_path)
    assert len(corpus) == 4
    full = row(corpus, "1001_IEO_HAP_HI")
    assert full["audio"].endswith(".wav") and full["video"].endswith(".mp4")
    assert full["audio_mp3"].endswith(".mp3") and full["video_flv"].endswith(".flv")
    assert (full["intensity"], full["gender"], full["emotion"], full["sentence"]) == ("high", "male", "happy", "IEO")
    mp3 = row(corpus, "1002_TIE_SAD_XX")
    assert mp3["audio"] == mp3["audio_mp3"] and mp3["video"] is None and mp3["gender"] is None
    flv = row(corpus, "1003_IEO_FEA_LO")
    assert flv["audio"] == flv["video"] == flv["video_flv"] and flv["intensity"] == "low"
    assert row(corpus, "1003_IEO_FEA_MD")["gender"] == "female"
    assert set(reasons(corpus)) == {"1004_XYZ_BAD_XX.wav", "notes.wav"}


def test_emodb(tmp_path: Path) -> None:
    touch(
        tmp_path,
        "wav/03a01Fa.wav",
        "wav/08b02Lb.wav",
        "wav/16a05Wc.wav",
        "wav/16a05Wc.flac",
        "lablaut/03a01Fa.lab",
        "erklaerung.txt",
        "wav/x.wav",
    )
    corpus = read_emodb(tmp_path)
    assert corpus.table["clip_id"].tolist() == ["03a01Fa", "08b02Lb", "16a05Wc"]
    assert corpus.table["emotion"].tolist() == ["happy", "boredom", "angry"]
    assert corpus.table["gender"].tolist() == ["male", "female", "female"]
    assert corpus.table["speaker"].tolist() == ["emodb:03", "emodb:08", "emodb:16"]
    assert row(corpus, "03a01Fa")["sentence"] == "a01"
    assert set(reasons(corpus)) == {"16a05Wc.flac", "x.wav"}


def test_savee_both_layouts(tmp_path: Path) -> None:
    nested, flat = tmp_path / "savee", tmp_path / "flat"
    touch(
        nested,
        "AudioData/DC/a01.wav",
        "AudioData/JE/su12.wav",
        "AudioVisualClip/DC/a01.avi",
        "AudioVisualClip/KL/n30.avi",
        "AudioData/XX/a01.wav",
    )
    touch(flat, "ALL/JK_sa03.wav", "ALL/DC_d02.wav", "ALL/ZZ_a01.wav")
    corpus = read_savee(nested, flat)
    assert corpus.table["clip_id"].tolist() == ["DC_a01", "DC_d02", "JE_su12", "JK_sa03", "KL_n30"]
    merged = row(corpus, "DC_a01")
    assert merged["audio"].endswith("AudioData/DC/a01.wav") and merged["video"].endswith("AudioVisualClip/DC/a01.avi")
    video = row(corpus, "KL_n30")
    assert video["audio"] == video["video"] and video["emotion"] == "neutral"
    assert row(corpus, "JE_su12")["emotion"] == "surprised" and row(corpus, "JK_sa03")["emotion"] == "sad"
    assert set(corpus.table["gender"]) == {"male"} and row(corpus, "JK_sa03")["speaker"] == "savee:JK"
    why = reasons(corpus)
    assert set(why) == {"a01.wav", "ZZ_a01.wav"} and "no speaker ZZ" in why["ZZ_a01.wav"]


def test_enterface_irregular_layouts(tmp_path: Path) -> None:
    touch(
        tmp_path,
        "subject 1/anger/sentence 1/s1_an_1.avi",
        "subject 1/anger/sentence 2/s1_an_2.avi",
        "Subject 2/Happiness/s2_ha_3.avi",
        "subject_3/fear/Sentence 4/s_3_fe_4.avi",
        "subject 4/sadness/clip.avi",
        "subject 1/anger/sentence 1/Thumbs.db",
    )
    corpus = read_enterface(tmp_path)
    assert corpus.table["clip_id"].tolist() == ["s1_an_1", "s1_an_2", "s2_ha_3", "s3_fe_4", "s4_sa_clip"]
    first = row(corpus, "s1_an_1")
    assert first["audio"] == first["video"] and first["audio"].endswith("s1_an_1.avi")
    assert (first["speaker"], first["emotion"], first["sentence"]) == ("enterface:1", "angry", "1")
    no_folder = row(corpus, "s2_ha_3")
    assert (no_folder["speaker"], no_folder["emotion"], no_folder["sentence"]) == ("enterface:2", "happy", "3")
    assert row(corpus, "s4_sa_clip")["sentence"] is None and row(corpus, "s3_fe_4")["emotion"] == "fearful"
    assert list(reasons(corpus)) == ["Thumbs.db"]


# --- images: FER2013, CK+ ----------------------------------------------------------------


def test_fer2013_csv_and_load_image(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    faces = rng.integers(0, 256, size=(3, 48, 48), dtype=np.uint8)
    lines = ["emotion,pixels,Usage"] + [
        f"{code},{' '.join(map(str, face.ravel()))},{usage}"
        for code, face, usage in zip((0, 3, 6), faces, ("Training", "PublicTest", "PrivateTest"))
    ]
    csv = tmp_path / "fer2013.csv"
    csv.write_text("\n".join(lines) + "\n")
    corpus = read_fer2013(tmp_path)
    table = corpus.table
    assert table["clip_id"].tolist() == ["fer2013#0", "fer2013#1", "fer2013#2"]
    assert table["emotion"].tolist() == ["angry", "happy", "neutral"]
    assert table["partition"].tolist() == ["train", "validation", "test"]
    assert table["image"].tolist() == [f"{csv.resolve()}#{i}" for i in range(3)]
    for ref, face in zip(table["image"], faces):
        image = load_image(ref)
        assert image.dtype == np.uint8 and image.shape == (48, 48)
        np.testing.assert_array_equal(image, face)
    assert summarize(corpus)["partitions"] == {"test": 1, "train": 1, "validation": 1}
    with pytest.raises(CorpusLayoutError, match="no row 3"):
        load_image(f"{csv}#3")
    assert read_corpus(csv).table["image"].tolist() == table["image"].tolist()


def test_fer2013_folders(tmp_path: Path) -> None:
    touch(
        tmp_path,
        "train/happy/im0.png",
        "train/sad/im0.png",
        "PublicTest/fear/im0.png",
        "val/angry/a.jpg",
        "PrivateTest/surprise/b.jpg",
        "train/joy/c.png",
        "d.png",
    )
    colour = np.zeros((4, 5, 3), dtype=np.uint8)
    colour[..., 2] = 200  # red in OpenCV's BGR order
    (tmp_path / "test/disgust").mkdir(parents=True)
    assert cv2.imwrite(str(tmp_path / "test/disgust/e.png"), colour)
    corpus = read_fer2013(tmp_path)
    table = corpus.table
    assert table["clip_id"].tolist() == [
        "test/disgust/e",
        "test/surprise/b",
        "train/happy/im0",
        "train/sad/im0",
        "validation/angry/a",
        "validation/fear/im0",
    ]
    assert table["partition"].value_counts().to_dict() == {"test": 2, "train": 2, "validation": 2}
    assert set(reasons(corpus)) == {"c.png", "d.png"}
    image = load_image(row(corpus, "test/disgust/e")["image"])
    assert image.shape == (4, 5, 3) and image[0, 0].tolist() == [200, 0, 0]


def test_ck_plus(tmp_path: Path) -> None:
    touch(
        tmp_path,
        "CK+48/contempt/S010_004_00000017.png",
        "CK+48/anger/S010_004_00000018.png",
        "CK+48/happy/S999_001_00000001.png",
        "CK+48/happy/image.png",
        "CK+48/joy/S011_001_00000001.png",
        "CK+48/fear/S010_004_00000017.png",
    )
    corpus = READERS["ck_plus"](tmp_path)
    assert corpus.table["clip_id"].tolist() == ["S010_004_00000017", "S010_004_00000018", "S999_001_00000001"]
    assert corpus.table["emotion"].tolist() == ["contempt", "angry", "happy"]
    assert corpus.table["sequence"].tolist() == ["S010_004", "S010_004", "S999_001"]
    assert corpus.table["speaker"].nunique() == 2 and corpus.table["sentence"].isna().all()
    why = {Path(u.path).relative_to(tmp_path.resolve() / "CK+48").as_posix(): u.reason for u in corpus.unrecognised}
    assert set(why) == {"happy/image.png", "joy/S011_001_00000001.png", "fear/S010_004_00000017.png"}
    assert why["fear/S010_004_00000017.png"] == "contradicts another file of clip S010_004_00000017"


# --- detection ---------------------------------------------------------------------------

LAYOUTS: dict[str, tuple[str, ...]] = {
    "ravdess": ("Actor_01/03-01-01-01-01-01-01.wav", "Actor_01/01-01-01-01-01-01-01.mp4"),
    "crema_d": ("AudioWAV/1001_DFA_ANG_XX.wav", "VideoFlash/1001_DFA_ANG_XX.flv"),
    "emodb": ("wav/03a01Fa.wav", "wav/03a01Nc.wav"),
    "savee": ("AudioData/DC/a01.wav", "AudioData/DC/n01.wav"),
    "enterface": ("subject 1/anger/sentence 1/s1_an_1.avi",),
    "fer2013": ("train/happy/a.jpg", "test/sad/b.jpg"),
    "ck_plus": ("CK+48/happy/S010_004_00000017.png", "CK+48/fear/S011_001_00000002.png"),
}


@pytest.mark.parametrize("name", sorted(LAYOUTS))
def test_detect_and_read_each_layout(tmp_path: Path, name: str) -> None:
    touch(tmp_path, *LAYOUTS[name], "README.txt")
    assert detect_corpus(tmp_path) == name
    corpus = read_corpus(tmp_path)
    assert corpus.name == name and len(corpus) >= 1 and corpus.unrecognised == []
    assert corpus.table["corpus"].unique().tolist() == [name]
    json.dumps(summarize(corpus))


def test_detect_fer2013_csv(tmp_path: Path) -> None:
    (tmp_path / "icml_face_data.csv").write_text("emotion, Usage, pixels\n2,Training,0 0 0 0\n")
    assert detect_corpus(tmp_path) == "fer2013"
    assert read_corpus(tmp_path).table["emotion"].tolist() == ["fearful"]


def test_detect_errors(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(CorpusLayoutError, match=r"empty: no known corpus layout \(expected one of: ravdess, crema_d"):
        detect_corpus(tmp_path / "empty")
    touch(tmp_path / "other", "holiday/photo.jpg", "notes.txt", "README.md")
    with pytest.raises(CorpusLayoutError, match="no known corpus layout"):
        read_corpus(tmp_path / "other")
    with pytest.raises(CorpusLayoutError, match="does not exist"):
        detect_corpus(tmp_path / "missing")
    touch(tmp_path / "rav", *LAYOUTS["ravdess"])
    touch(tmp_path / "emo", *LAYOUTS["emodb"])
    with pytest.raises(CorpusLayoutError, match="emo: holds emodb but .*rav holds ravdess"):
        read_corpus(tmp_path / "rav", tmp_path / "emo")
    with pytest.raises(CorpusLayoutError, match="emo: no SAVEE file found"):
        read_corpus(tmp_path / "emo", corpus="savee")
    with pytest.raises(ValueError, match="unknown corpus"):
        read_corpus(tmp_path / "rav", corpus="iemocap")


@pytest.mark.parametrize("name", sorted(READERS))
def test_every_reader_rejects_an_empty_folder(tmp_path: Path, name: str) -> None:
    reader: Callable[..., Corpus] = READERS[name]
    with pytest.raises(CorpusLayoutError, match=str(tmp_path.name)):
        reader(tmp_path)
