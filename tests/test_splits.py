from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from avemotion.corpora.splits import (
    Fold,
    check_fold,
    get_split,
    ravdess_6fold,
    ravdess_si5,
    seed003,
    speaker_kfold,
    speaker_train_test_split,
    with_validation,
)
from avemotion.corpora.table import make_table
from avemotion.errors import SpeakerLeakageError, SplitError


def ravdess_like(actors: range, per_actor: int = 6) -> pd.DataFrame:
    rows = [
        {
            "clip_id": f"{a:02d}-{i:02d}",
            "corpus": "ravdess",
            "speaker": f"ravdess:{a:02d}",
            "gender": "male" if a % 2 else "female",
            "emotion": "happy",
        }
        for a in actors
        for i in range(per_actor)
    ]
    return make_table(rows)


def speakers_of(table: pd.DataFrame, rows: np.ndarray) -> set[str]:
    return set(table["speaker"].to_numpy()[rows])


def actors_of(table: pd.DataFrame, rows: np.ndarray) -> set[int]:
    return {int(s.split(":")[1]) for s in speakers_of(table, rows)}


def test_ravdess_si5_test_groups_and_disjoint_training() -> None:
    table = ravdess_like(range(1, 25))
    folds = ravdess_si5(table)
    assert [actors_of(table, f.test) for f in folds] == [set(range(a, a + 4)) for a in range(1, 21, 4)]
    for f in folds:
        assert actors_of(table, f.train) == set(range(1, 21)) - actors_of(table, f.test)
        assert not set(f.train) & set(f.test)


def test_ravdess_6fold_skips_absent_actors() -> None:
    full = ravdess_6fold(ravdess_like(range(1, 25)))
    assert len(full) == 6
    ours = ravdess_6fold(ravdess_like(range(1, 21)))
    assert len(ours) == 5


def test_seed003_split() -> None:
    table = ravdess_like(range(1, 21))
    (fold,) = seed003(table)
    assert actors_of(table, fold.train) == set(range(1, 18))
    assert actors_of(table, fold.test) == {18, 19, 20}


def test_speaker_kfold_covers_every_clip_once_and_balances() -> None:
    table = ravdess_like(range(1, 11), per_actor=5)
    folds = speaker_kfold(table, 5, seed=3)
    tested = np.concatenate([f.test for f in folds])
    assert sorted(tested) == list(range(len(table)))
    assert {len(f.test) for f in folds} == {10}
    assert speaker_kfold(table, 5, seed=3)[0].test.tolist() == folds[0].test.tolist()


def test_train_val_test_split_is_speaker_disjoint_and_gender_mixed() -> None:
    table = ravdess_like(range(1, 21))
    fold = speaker_train_test_split(table, validation=0.1, test=0.2, seed=1)
    assert len(actors_of(table, fold.validation)) == 2
    assert len(actors_of(table, fold.test)) == 4
    genders = table["gender"].to_numpy()
    assert set(genders[fold.validation]) == {"male", "female"}
    check_fold(table, fold)


def test_with_validation_takes_only_training_speakers() -> None:
    table = ravdess_like(range(1, 21))
    for fold in ravdess_si5(table):
        v = with_validation(table, fold, fraction=0.125, seed=0)
        assert len(actors_of(table, v.validation)) == 2
        assert actors_of(table, v.validation) <= actors_of(table, fold.train)
        assert not actors_of(table, v.validation) & actors_of(table, v.test)
        assert sorted(np.concatenate([v.train, v.validation])) == sorted(fold.train)


def test_leakage_check_refuses_shared_speaker() -> None:
    table = ravdess_like(range(1, 5))
    rows = np.arange(len(table))
    leaky = Fold("leaky", train=rows[rows % 2 == 0], test=rows[rows % 2 == 1])
    with pytest.raises(SpeakerLeakageError, match="speakers in both train and test"):
        check_fold(table, leaky)


def test_leakage_check_refuses_shared_rows() -> None:
    table = ravdess_like(range(1, 5))
    with pytest.raises(SpeakerLeakageError, match="in both"):
        check_fold(table, Fold("dup", train=np.array([0, 1]), test=np.array([1])))


def test_splits_refuse_clips_without_speaker() -> None:
    table = make_table([{"clip_id": "a", "speaker": None}, {"clip_id": "b", "speaker": None}])
    with pytest.raises(ValueError, match="no speaker"):
        speaker_kfold(table, 2)


def test_partition_split_and_unknown_name() -> None:
    table = make_table(
        [{"clip_id": str(i), "partition": p} for i, p in enumerate(["train", "train", "validation", "test"])]
    )
    (fold,) = get_split("partition", table)
    assert fold.train.tolist() == [0, 1] and fold.validation.tolist() == [2] and fold.test.tolist() == [3]
    with pytest.raises(SplitError, match="unknown split"):
        get_split("nope", table)


def test_non_ravdess_speakers_rejected_by_ravdess_split() -> None:
    table = make_table([{"clip_id": "x", "speaker": "crema_d:1001"}])
    with pytest.raises(ValueError, match="not a RAVDESS actor"):
        ravdess_si5(table)
