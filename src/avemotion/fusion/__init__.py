"""Fusing the audio and visual branches.

* :mod:`.labels` -- putting branches with different label sets on one (``calm`` <- ``neutral``);
* :mod:`.rules` -- late fusion of probabilities: mean, weighted, product; missing modalities;
* :mod:`.bel` -- BEL and MoBEL trained with the seeds' learning rules;
* :mod:`.multimodal` -- :class:`MultimodalClassifier`, branch heads plus any fuser, including
  the networks of :mod:`avemotion.models.fusion`.
"""

from avemotion.fusion.bel import BEL
from avemotion.fusion.labels import EQUIVALENTS, map_proba
from avemotion.fusion.multimodal import FUSIONS, MultimodalClassifier
from avemotion.fusion.rules import fit_weights, weighted_mean, weighted_product

__all__ = ["BEL", "EQUIVALENTS", "FUSIONS", "MultimodalClassifier", "fit_weights", "map_proba", "weighted_mean", "weighted_product"]
