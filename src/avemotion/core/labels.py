"""The canonical emotion vocabulary, each corpus's mapping onto it, and named label sets.

Every corpus reader writes canonical names into the ``emotion`` column; models and metrics only
ever see canonical names. A label set is an ordered tuple: its order is the order of a model's
output columns.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType

#: All emotions avemotion knows, in a fixed order (RAVDESS's 8, then contempt and boredom).
EMOTIONS: tuple[str, ...] = (
    "neutral",
    "calm",
    "happy",
    "sad",
    "angry",
    "fearful",
    "disgust",
    "surprised",
    "contempt",
    "boredom",
)

#: Corpus label -> canonical emotion. Keys are the labels exactly as each corpus writes them
#: (file-name codes, folder names or CSV codes), compared case-insensitively by :func:`to_canonical`.
CORPUS_LABELS: Mapping[str, Mapping[str, str]] = MappingProxyType(
    {
        "ravdess": MappingProxyType(
            {
                "01": "neutral",
                "02": "calm",
                "03": "happy",
                "04": "sad",
                "05": "angry",
                "06": "fearful",
                "07": "disgust",
                "08": "surprised",
            }
        ),
        "crema_d": MappingProxyType(
            {
                "neu": "neutral",
                "hap": "happy",
                "sad": "sad",
                "ang": "angry",
                "fea": "fearful",
                "dis": "disgust",
            }
        ),
        # Berlin EmoDB letter codes (German initials): Wut/Aerger, Langeweile, Ekel, Angst,
        # Freude, Trauer, neutral.
        "emodb": MappingProxyType(
            {
                "w": "angry",
                "l": "boredom",
                "e": "disgust",
                "a": "fearful",
                "f": "happy",
                "t": "sad",
                "n": "neutral",
            }
        ),
        "savee": MappingProxyType(
            {
                "a": "angry",
                "d": "disgust",
                "f": "fearful",
                "h": "happy",
                "n": "neutral",
                "sa": "sad",
                "su": "surprised",
            }
        ),
        # eNTERFACE'05: folder names and the two-letter codes of its file names.
        "enterface": MappingProxyType(
            {
                "anger": "angry",
                "disgust": "disgust",
                "fear": "fearful",
                "happiness": "happy",
                "sadness": "sad",
                "surprise": "surprised",
                "an": "angry",
                "di": "disgust",
                "fe": "fearful",
                "ha": "happy",
                "sa": "sad",
                "su": "surprised",
            }
        ),
        # FER2013: folder names of the image layout and the integer codes of fer2013.csv.
        "fer2013": MappingProxyType(
            {
                "angry": "angry",
                "disgust": "disgust",
                "fear": "fearful",
                "happy": "happy",
                "neutral": "neutral",
                "sad": "sad",
                "surprise": "surprised",
                "0": "angry",
                "1": "disgust",
                "2": "fearful",
                "3": "happy",
                "4": "sad",
                "5": "surprised",
                "6": "neutral",
            }
        ),
        "ck_plus": MappingProxyType(
            {
                "anger": "angry",
                "contempt": "contempt",
                "disgust": "disgust",
                "fear": "fearful",
                "happy": "happy",
                "sadness": "sad",
                "surprise": "surprised",
                "neutral": "neutral",
            }
        ),
        # TESS: the file-name codes (``ps`` = pleasant surprise) and the folder spellings of
        # the published and re-packaged copies.
        "tess": MappingProxyType(
            {
                "angry": "angry",
                "disgust": "disgust",
                "fear": "fearful",
                "happy": "happy",
                "neutral": "neutral",
                "ps": "surprised",
                "sad": "sad",
                "pleasant_surprise": "surprised",
                "pleasant_surprised": "surprised",
            }
        ),
        # TurEV-DB: the Turkish codes of its file names and its folder names.
        "turev": MappingProxyType(
            {
                "kz": "angry",
                "sk": "calm",
                "mt": "happy",
                "hl": "sad",
                "angry": "angry",
                "calm": "calm",
                "happy": "happy",
                "sad": "sad",
            }
        ),
        # Manifest CSVs: the canonical names and common English synonyms.
        "manifest": MappingProxyType(
            {
                **{emotion: emotion for emotion in EMOTIONS},
                "anger": "angry",
                "mad": "angry",
                "happiness": "happy",
                "joy": "happy",
                "fear": "fearful",
                "afraid": "fearful",
                "scared": "fearful",
                "sadness": "sad",
                "surprise": "surprised",
                "disgusted": "disgust",
                "contemptuous": "contempt",
                "bored": "boredom",
            }
        ),
    }
)

#: Named label sets, each an ordered tuple of canonical emotions.
LABEL_SETS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        # RAVDESS's eight emotions.
        "ravdess8": EMOTIONS[:8],
        # The basic seven (RAVDESS without calm; FER2013's classes).
        "basic7": ("neutral", "happy", "sad", "angry", "fearful", "disgust", "surprised"),
        # Seeds 000/003: angry, calm, fearful, happy, neutral, sad.
        "seed6": ("neutral", "calm", "happy", "sad", "angry", "fearful"),
        # CREMA-D's six.
        "crema6": ("neutral", "happy", "sad", "angry", "fearful", "disgust"),
        # The six classes FER2013 and CK+ share (CK+ without contempt).
        "fer_ck6": ("happy", "sad", "angry", "fearful", "disgust", "surprised"),
        "all": EMOTIONS,
    }
)


def to_canonical(corpus: str, label: str) -> str:
    """Map one corpus label (a code or folder name) to its canonical emotion.

    Raises ``KeyError`` naming the corpus and the label when the corpus has no such label.
    """
    table = CORPUS_LABELS.get(corpus)
    if table is None:
        raise KeyError(f"unknown corpus {corpus!r}; known: {', '.join(CORPUS_LABELS)}")
    key = str(label).strip().lower()
    if key not in table:
        raise KeyError(f"{corpus} has no emotion label {label!r}; known: {', '.join(table)}")
    return table[key]


def label_set(name_or_labels: str | Iterable[str]) -> tuple[str, ...]:
    """Resolve a label-set name (``"ravdess8"``, ``"seed6"``...) or an explicit list of emotions.

    Explicit lists are checked against :data:`EMOTIONS` and keep their order.
    """
    if isinstance(name_or_labels, str):
        if name_or_labels in LABEL_SETS:
            return LABEL_SETS[name_or_labels]
        labels: tuple[str, ...] = tuple(s.strip() for s in name_or_labels.split(",") if s.strip())
    else:
        labels = tuple(name_or_labels)
    unknown = [e for e in labels if e not in EMOTIONS]
    if unknown or not labels:
        raise KeyError(
            f"not a label set: {name_or_labels!r}; use one of {', '.join(LABEL_SETS)} "
            f"or a comma-separated list of {', '.join(EMOTIONS)}"
        )
    if len(set(labels)) != len(labels):
        raise KeyError(f"label set {name_or_labels!r} repeats an emotion")
    return labels


def shared_labels(a: Iterable[str], b: Iterable[str]) -> tuple[str, ...]:
    """Emotions present in both label sets, in the order of ``a``."""
    bs = set(b)
    return tuple(e for e in a if e in bs)
