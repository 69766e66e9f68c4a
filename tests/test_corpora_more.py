"""TESS, TurEV-DB and manifest CSV readers, and reading several corpora together.

Synthetic layouts are made of short real FLAC/WAV files in tmp_path; the real corpora in
../shared are checked when present.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from avemotion.cli.main import main
from avemotion.core.labels import CORPUS_LABELS, EMOTIONS
from avemotion.corpora import (
    READERS,
    detect_corpus,
    group_roots,
    read_corpora,
    read_corpus,
)
from avemotion.corpora.manifest import read_manifest
from avemotion.corpora.summary import summarize
from avemotion.corpora.table import COLUMNS
from avemotion.errors import CorpusLayoutError

TESS_DIR = "TESS_Toronto_emotional_speech_set_data"
SR = 16_000


def write_audio(root: Path, *names: str) -> list[Path]:
    """0.5 s of a 440 Hz sine plus noise at 16 kHz per name (format from the extension)."""
    rng = np.random.default_rng(0)
    t = np.arange(SR // 2) / SR
    paths = []
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        signal = 0.3 * np.sin(2 * np.pi * 440 * t) + 0.01 * rng.standard_normal(t.size)
        sf.write(path, signal.astype(np.float32), SR, subtype="PCM_16")
        paths.append(path)
    return paths


def reasons(corpus_unrecognised: list) -> dict[str, str]:
    return {Path(u.path).name: u.reason for u in corpus_unrecognised}


def by_id(table: pd.DataFrame) -> dict[str, pd.Series]:
    return {table["clip_id"].iloc[i]: table.iloc[i] for i in range(len(table))}


# --- TESS --------------------------------------------------------------------------------

TESS_FILES = (
    f"{TESS_DIR}/OAF_angry/OAF_back_angry.flac",
    f"{TESS_DIR}/OAF_neutral/OA_bite_neutral.flac",
    f"{TESS_DIR}/OAF_neutral/OAF_bar_neutral.flac",
    f"{TESS_DIR}/OAF_pleasant_surprise/OAF_back_ps.flac",
    f"{TESS_DIR}/YAF_fear/YAF_back_fear.flac",
    f"{TESS_DIR}/YAF_pleasant_surprise/YAF_chat_ps.flac",
    f"{TESS_DIR}/YAF_sad/YAF_back_sad.flac",
    f"{TESS_DIR}/YAF_disgust/YAF_back_disgust.flac",
    f"{TESS_DIR}/YAF_happy/YAF_back_happy.flac",
)


@pytest.fixture
def tess_root(tmp_path: Path) -> Path:
    root = tmp_path / "tess"
    write_audio(root, *TESS_FILES)
    (root / "README.txt").write_text("TESS\n")
    return root


def test_tess(tess_root: Path) -> None:
    assert detect_corpus(tess_root) == "tess"
    corpus = read_corpus(tess_root)
    assert corpus.name == "tess" and len(corpus) == len(TESS_FILES) and corpus.unrecognised == []
    table = corpus.table
    assert list(table.columns) == list(COLUMNS)
    assert set(table["speaker"]) == {"tess:OAF", "tess:YAF"}
    assert set(table["gender"]) == {"female"}
    assert set(table["emotion"]) == {"angry", "neutral", "surprised", "fearful", "sad", "disgust", "happy"}
    rows = by_id(table)
    bite = rows["OA_bite_neutral"]
    assert (bite["speaker"], bite["emotion"], bite["sentence"]) == ("tess:OAF", "neutral", "bite")
    assert bite["audio"].endswith("OAF_neutral/OA_bite_neutral.flac")
    assert (rows["YAF_chat_ps"]["emotion"], rows["YAF_chat_ps"]["sentence"]) == ("surprised", "chat")
    assert table["audio"].map(lambda p: Path(p).is_file()).all()
    assert table["video"].isna().all() and table["image"].isna().all()
    json.dumps(summarize(corpus))


def test_tess_folder_variants_and_mismatches(tmp_path: Path) -> None:
    write_audio(
        tmp_path,
        "OAF_Fear/OAF_dog_fear.wav",  # the original WAV format, capitalised folders
        "OAF_Pleasant_surprise/OAF_dog_ps.wav",
        "YAF_pleasant_surprised/YAF_dog_PS.wav",
        "YAF_Sad/YAF_dog_Sad.wav",
        "loose/YAF_cat_angry.wav",  # a folder without the pattern is not checked
        "OAF_angry/OAF_dog_sad.wav",  # folder emotion disagrees
        "YAF_angry/OAF_dog_angry.wav",  # folder speaker disagrees
        "OAF_angry/OAF_dog_bored.wav",  # not a TESS emotion
    )
    (tmp_path / "OAF_angry" / "notes.txt").write_text("x")
    write_audio(tmp_path / "copy", "OAF_Fear/OAF_dog_fear.flac")  # same clip in a second root
    corpus = READERS["tess"](tmp_path)
    rows = by_id(corpus.table)
    assert set(rows) == {"OAF_dog_fear", "OAF_dog_ps", "YAF_dog_PS", "YAF_dog_Sad", "YAF_cat_angry"}
    assert [rows[k]["emotion"] for k in ("OAF_dog_fear", "OAF_dog_ps", "YAF_dog_PS", "YAF_dog_Sad")] == [
        "fearful",
        "surprised",
        "surprised",
        "sad",
    ]
    assert rows["OAF_dog_fear"]["audio"].endswith(".wav")  # .wav preferred over the .flac copy
    why = reasons(corpus.unrecognised)
    assert why["OAF_dog_sad.wav"] == "in folder OAF_angry but the name says OAF sad"
    assert why["OAF_dog_angry.wav"] == "in folder YAF_angry but the name says OAF angry"
    assert why["OAF_dog_bored.wav"] == "unknown TESS emotion 'bored'"
    assert why["notes.txt"].startswith("not a TESS recording")
    assert why["OAF_dog_fear.flac"].startswith("duplicate of ")


def test_tess_labels_cover_the_codes() -> None:
    codes = CORPUS_LABELS["tess"]
    assert codes["ps"] == "surprised" and codes["fear"] == "fearful"
    assert set(codes.values()) <= set(EMOTIONS)


# --- TurEV-DB ----------------------------------------------------------------------------

TUREV_FILES = (
    "Sound Source/Angry/1157_kz_acik.flac",
    "Sound Source/Angry/1234_kz_acik.flac",
    "Sound Source/Calm/1234_sk_pamuk.flac",
    "Sound Source/Calm/7895_sk_sarj.flac",
    "Sound Source/Happy/1358_mt_cilek.flac",
    "Sound Source/Sad/1984_hl_ordek.flac",
    "Sound Source/Sad/6783_hl_zeytin.flac",
)


@pytest.fixture
def turev_root(tmp_path: Path) -> Path:
    root = tmp_path / "turev"
    write_audio(root, *TUREV_FILES)
    return root


def test_turev(turev_root: Path) -> None:
    assert detect_corpus(turev_root) == "turev"
    corpus = read_corpus(turev_root)
    assert corpus.name == "turev" and len(corpus) == len(TUREV_FILES) and corpus.unrecognised == []
    table = corpus.table
    assert sorted(table["speaker"].unique()) == [f"turev:{s}" for s in ("1157", "1234", "1358", "1984", "6783", "7895")]
    assert table["gender"].isna().all()
    assert table.groupby("emotion").size().to_dict() == {"angry": 2, "calm": 2, "happy": 1, "sad": 2}
    row = by_id(table)["1234_sk_pamuk"]
    assert (row["speaker"], row["emotion"], row["sentence"]) == ("turev:1234", "calm", "pamuk")


def test_turev_names(tmp_path: Path) -> None:
    write_audio(
        tmp_path,
        "Sound Source/Sad/1157_hl_gül_yüzlü.wav",  # Turkish letters, an underscore in the word
        "Sound Source/HAPPY/1358_MT_şarkı.wav",
        "elsewhere/1984_sk_deve.wav",
        "Sound Source/Angry/1234_hl_acik.wav",  # folder disagrees with the code
        "Sound Source/Angry/1234_xx_acik.wav",
        "Sound Source/Angry/9999_kz_acik.wav",
    )
    corpus = READERS["turev"](tmp_path)
    rows = by_id(corpus.table)
    assert set(rows) == {"1157_hl_gül_yüzlü", "1358_MT_şarkı", "1984_sk_deve"}
    assert rows["1157_hl_gül_yüzlü"]["sentence"] == "gül_yüzlü"
    assert [rows[k]["emotion"] for k in sorted(rows)] == ["sad", "happy", "calm"]
    why = reasons(corpus.unrecognised)
    assert why["1234_hl_acik.wav"] == "in folder Angry but the code hl says sad"
    assert why["1234_xx_acik.wav"].startswith("unknown TurEV-DB emotion code 'xx'")
    assert why["9999_kz_acik.wav"].startswith("TurEV-DB has no speaker 9999")


# --- manifest ----------------------------------------------------------------------------


def write_manifest(path: Path, lines: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def manifest_dir(tmp_path: Path) -> Path:
    root = tmp_path / "mine"
    write_audio(root, "clips/a.wav", "clips/b.flac", "clips/c.wav", "other/d.wav")
    (root / "clips" / "e.mp4").write_bytes(b"")  # existence and extension are all a manifest checks
    (root / "faces").mkdir()
    (root / "faces" / "f.png").write_bytes(b"")
    return root


def test_manifest(manifest_dir: Path, tmp_path: Path) -> None:
    outside = write_audio(tmp_path / "outside", "x.wav")[0]
    csv = write_manifest(
        manifest_dir / "labels.csv",
        [
            " File , Emotion ,Speaker,gender,intensity,split,notes",
            "clips/a.wav,Anger,s1,m,High,train,ignored",
            "clips/b.flac,joy,s1,M,,Training,",
            "",
            "clips/c.wav,SADNESS,s2,female,,val,",
            "clips/e.mp4,surprised,s2,F,,test,",
            "faces/f.png,Contempt,,,,,",
            f"{outside},bored,s3,,,dev,",
        ],
    )
    assert detect_corpus(csv) == "manifest"
    corpus = read_corpus(csv)
    assert corpus.name == "manifest" and corpus.unrecognised == []
    rows = by_id(corpus.table)
    assert sorted(rows) == ["../outside/x.wav", "clips/a.wav", "clips/b.flac", "clips/c.wav", "clips/e.mp4", "faces/f.png"]
    a, e, f = rows["clips/a.wav"], rows["clips/e.mp4"], rows["faces/f.png"]
    assert (a["speaker"], a["gender"], a["emotion"], a["intensity"], a["partition"]) == (
        "manifest:s1", "male", "angry", "high", "train"
    )
    assert a["audio"] == str(manifest_dir.resolve() / "clips" / "a.wav") and a["corpus"] == "manifest"
    assert [rows[k]["emotion"] for k in sorted(rows)] == ["boredom", "angry", "happy", "sad", "surprised", "contempt"]
    assert [rows[k]["partition"] for k in sorted(rows)] == ["validation", "train", "train", "validation", "test", None]
    assert (e["audio"], e["video"], e["image"]) == (e["video"], str(manifest_dir.resolve() / "clips/e.mp4"), None)
    assert (f["audio"], f["video"], f["speaker"], f["gender"]) == (None, None, None, None)
    assert f["image"].endswith("faces/f.png")
    assert rows["../outside/x.wav"]["audio"] == str(outside)
    json.dumps(summarize(corpus))


def test_manifest_folder_and_corpus_column(manifest_dir: Path) -> None:
    write_manifest(
        manifest_dir / "list.csv",
        ["file,emotion,speaker,corpus", "clips/a.wav,happy,OAF,tess", "clips/b.flac,neutral,7,"],
    )
    (manifest_dir / "stats.csv").write_text("a,b\n1,2\n")
    assert detect_corpus(manifest_dir) == "manifest"
    corpus = read_corpus(manifest_dir)
    assert corpus.table["speaker"].tolist() == ["tess:OAF", "manifest:7"]
    assert corpus.table["corpus"].tolist() == ["tess", "manifest"]
    why = {Path(u.path).relative_to(manifest_dir.resolve()).as_posix(): u.reason for u in corpus.unrecognised}
    assert why == {
        "clips/c.wav": "not listed in a manifest CSV",
        "clips/e.mp4": "not listed in a manifest CSV",
        "faces/f.png": "not listed in a manifest CSV",
        "other/d.wav": "not listed in a manifest CSV",
        "stats.csv": "not a manifest (no file, emotion, speaker columns)",
    }


def test_manifest_synonyms() -> None:
    synonyms = {
        "anger": "angry", "angry": "angry", "mad": "angry", "happiness": "happy", "happy": "happy",
        "joy": "happy", "fear": "fearful", "afraid": "fearful", "fearful": "fearful", "sadness": "sad",
        "sad": "sad", "surprise": "surprised", "surprised": "surprised", "disgusted": "disgust",
        "disgust": "disgust", "neutral": "neutral", "calm": "calm", "contempt": "contempt",
        "boredom": "boredom", "bored": "boredom",
    }
    labels = CORPUS_LABELS["manifest"]
    assert {k: labels[k] for k in synonyms} == synonyms
    assert all(labels[e] == e for e in EMOTIONS)


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (["file,emotion,speaker", "clips/a.wav,happy,s1", "clips/b.flac,elated,s1"],
         r"labels\.csv: data row 2 \(line 3\): unknown emotion 'elated' \(use one of neutral, calm"),
        (["file,emotion,speaker", "clips/a.wav,happy,s1", "", "clips/zz.wav,sad,s1"],
         r"labels\.csv: data row 2 \(line 4\): file clips/zz\.wav does not exist"),
        (["file,emotion,speaker", "notes.txt,happy,s1"], r"data row 1 \(line 2\): file notes\.txt is not an audio"),
        (["file,emotion,speaker", ",happy,s1"], r"data row 1 \(line 2\): the file cell is empty"),
        (["file,emotion,speaker,gender", "clips/a.wav,happy,s1,x"], r"data row 1 \(line 2\): unknown gender 'x'"),
        (["file,emotion,speaker,split", "clips/a.wav,happy,s1,holdout"], r"data row 1 \(line 2\): unknown split 'holdout'"),
        (["file,emotion,speaker", "clips/a.wav,happy,s1", "./clips/a.wav,happy,s1"],
         r"data row 2 \(line 3\): .*a\.wav is listed again \(first in labels\.csv data row 1 \(line 2\)\)"),
        (["file,emotion,speaker"], r"labels\.csv: the manifest has no data rows"),
    ],
)
def test_manifest_bad_rows(manifest_dir: Path, lines: list[str], message: str) -> None:
    (manifest_dir / "notes.txt").write_text("x")
    csv = write_manifest(manifest_dir / "labels.csv", lines)
    with pytest.raises(CorpusLayoutError, match=message):
        read_corpus(csv)


def test_manifest_missing_column(manifest_dir: Path) -> None:
    csv = write_manifest(manifest_dir / "labels.csv", ["file,label,actor", "clips/a.wav,happy,s1"])
    with pytest.raises(CorpusLayoutError, match="no known corpus layout"):
        read_corpus(csv)
    message = r"labels\.csv: a manifest needs the columns file, emotion, speaker; missing emotion, speaker"
    with pytest.raises(CorpusLayoutError, match=message):
        read_corpus(csv, corpus="manifest")
    with pytest.raises(CorpusLayoutError, match=message):
        read_manifest(csv)


# --- several corpora together ------------------------------------------------------------


def test_read_corpora_mixed(tess_root: Path, turev_root: Path, manifest_dir: Path, tmp_path: Path) -> None:
    write_audio(tmp_path / "tess2", "YAF_angry/YAF_bath_angry.wav")  # a second TESS root
    csv = write_manifest(manifest_dir / "labels.csv", ["file,emotion,speaker", "clips/a.wav,fear,s1"])
    roots = (tess_root, turev_root, csv, tmp_path / "tess2")
    assert {k: len(v) for k, v in group_roots(*roots).items()} == {"tess": 2, "turev": 1, "manifest": 1}
    with pytest.raises(CorpusLayoutError, match="holds turev but"):
        read_corpus(*roots)
    corpus = read_corpora(*roots)
    table = corpus.table
    assert corpus.name == "tess+turev+manifest"
    assert len(table) == len(TESS_FILES) + 1 + len(TUREV_FILES) + 1 and table["clip_id"].is_unique
    assert table.groupby("corpus").size().to_dict() == {"manifest": 1, "tess": len(TESS_FILES) + 1, "turev": 7}
    assert {"tess:OA_bite_neutral", "tess:YAF_bath_angry", "turev:1157_kz_acik", "manifest:clips/a.wav"} <= set(table["clip_id"])
    assert table["speaker"].nunique() == 2 + 6 + 1
    assert list(table.columns) == list(COLUMNS) and all(d.kind == "O" for d in table.dtypes)
    assert table["partition"].map(lambda v: v is None).all()
    json.dumps(summarize(corpus))
    # one corpus: exactly what read_corpus gives
    pd.testing.assert_frame_equal(read_corpora(tess_root).table, read_corpus(tess_root).table)


def test_read_corpora_column_union(tess_root: Path, tmp_path: Path) -> None:
    ck = tmp_path / "ck" / "CK+48" / "happy" / "S010_004_00000017.png"
    ck.parent.mkdir(parents=True)
    ck.write_bytes(b"")
    table = read_corpora(tess_root, tmp_path / "ck").table
    assert list(table.columns) == [*COLUMNS, "sequence"]
    assert table.loc[table["corpus"] == "tess", "sequence"].map(lambda v: v is None).all()
    assert table.loc[table["corpus"] == "ck_plus", "sequence"].tolist() == ["S010_004"]


def test_info_cli(tess_root: Path, turev_root: Path, manifest_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    csv = write_manifest(manifest_dir / "labels.csv", ["file,emotion,speaker", "clips/a.wav,fear,s1"])
    assert main(["info", str(tess_root), str(turev_root), str(csv), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [(c["corpus"], c["clips"]) for c in out["corpora"]] == [("tess", 9), ("turev", 7), ("manifest", 1)]
    assert out["corpora"][0]["emotions"]["surprised"] == 2


# --- real data ---------------------------------------------------------------------------


def test_real_tess(shared_data: Path) -> None:
    corpus = read_corpus(shared_data / "tess")
    table = corpus.table
    assert corpus.name == "tess" and len(table) == 2800 and corpus.unrecognised == []
    assert table["speaker"].value_counts().to_dict() == {"tess:OAF": 1400, "tess:YAF": 1400}
    assert table["emotion"].value_counts().to_dict() == {
        e: 400 for e in ("angry", "disgust", "fearful", "happy", "neutral", "sad", "surprised")
    }
    assert set(table["gender"]) == {"female"} and table["sentence"].nunique() == 200
    bite = by_id(table)["OA_bite_neutral"]
    assert (bite["speaker"], bite["emotion"]) == ("tess:OAF", "neutral")


def test_real_turev(shared_data: Path) -> None:
    corpus = read_corpus(shared_data / "turev")
    table = corpus.table
    assert corpus.name == "turev" and len(table) == 1735 and corpus.unrecognised == []
    assert table["speaker"].nunique() == 6
    assert set(table["speaker"]) == {f"turev:{s}" for s in ("1157", "1234", "1358", "1984", "6783", "7895")}
    assert table["emotion"].value_counts().to_dict() == {"angry": 487, "sad": 483, "calm": 408, "happy": 357}


def test_real_mixed(shared_data: Path) -> None:
    corpus = read_corpora(shared_data / "tess", shared_data / "turev")
    assert len(corpus) == 2800 + 1735 and corpus.table["clip_id"].is_unique
    assert corpus.table["speaker"].nunique() == 8
