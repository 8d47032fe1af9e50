"""Speaker-grouped, label x attack stratified K-fold assignment, computed within each split."""
from __future__ import annotations

import warnings
from collections import defaultdict

import numpy as np
from sklearn.model_selection import StratifiedGroupKFold

from .base import Utterance


def assign_folds(utterances: list[Utterance], folds: int, seed: int = 0) -> dict[str, int]:
    """Map each utterance id to a fold in ``[0, folds)``.

    Within every split, no fold group (the speaker, unless the reader set a finer group) spans two folds,
    and the folds keep the label x attack shares of the whole as closely as the groups allow.
    Deterministic for a given input order-independent set and seed.
    """
    if folds < 1:
        raise ValueError(f"folds must be >= 1, got {folds}")
    by_split: dict[str, list[Utterance]] = defaultdict(list)
    for utterance in sorted(utterances, key=lambda u: u.utt_id):
        by_split[utterance.split].append(utterance)
    assignment: dict[str, int] = {}
    for split, members in sorted(by_split.items()):
        if folds == 1:
            assignment.update((u.utt_id, 0) for u in members)
            continue
        groups = [u.fold_group for u in members]
        if len(set(groups)) < folds:
            raise ValueError(f"split {split!r} has {len(set(groups))} speaker groups, fewer than {folds} folds: "
                             "use fewer folds")
        strata = [f"{u.label}/{u.attack}" for u in members]
        splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # rare strata with fewer members than folds
            for fold, (_, test_index) in enumerate(splitter.split(np.zeros(len(members)), strata, groups)):
                assignment.update((members[i].utt_id, fold) for i in test_index)
    return assignment
