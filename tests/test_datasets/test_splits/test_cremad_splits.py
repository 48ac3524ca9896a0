"""mmdr/datasets/splits: CREMA-D's speaker split and the stratified carve
(which the data sets make in memory and the preparation tools write)."""
from collections import Counter

import pytest
from av_fixtures import CREMAD_EMOTIONS, cremad_clip_names

from mmdr.datasets import splits as sp

#: CREMA-D's shape: 91 actors, 82 clips each (7,442 in the release).
REAL_LIKE = cremad_clip_names(range(1001, 1092), per_actor=82)


def test_parse_clip():
    assert sp.parse_clip('1001_DFA_ANG_XX') == ('1001', 'ANG')
    assert sp.parse_clip('1091_WSI_NEU_XX') == ('1091', 'NEU')
    for bad in ('1001_DFA_ANG', '1001-DFA-ANG-XX', 'x_DFA_ANG_XX', ''):
        with pytest.raises(ValueError, match='not a CREMA-D clip name'):
            sp.parse_clip(bad)


def test_allocate():
    assert sp.allocate(91, (73, 9, 9)) == [73, 9, 9]  # exact counts kept
    assert sp.allocate(10, (1, 1, 1)) == [4, 3, 3]  # ties: earlier first
    assert sp.allocate(6, (73, 9, 9)) == [5, 1, 0]
    assert sp.allocate(6, (73, 9, 9), at_least_one=True) == [4, 1, 1]
    assert sp.allocate(5, (3, 0, 2), at_least_one=True) == [3, 0, 2]
    assert sum(sp.allocate(744, (1166, 1142, 1138, 1148, 973, 1131))) == 744
    with pytest.raises(ValueError, match='cannot give'):
        sp.allocate(2, (1, 1, 1), at_least_one=True)
    with pytest.raises(ValueError, match='cannot share'):
        sp.allocate(3, (0, 0))


def test_speaker_split_real_shape():
    split, actors = sp.speaker_split(REAL_LIKE, (73, 9, 9), seed=0)
    assert [len(actors[r]) for r in sp.SPEAKER_ROLES] == [73, 9, 9]
    groups = [set(actors[r]) for r in sp.SPEAKER_ROLES]
    assert not (groups[0] & groups[1] or groups[0] & groups[2]
                or groups[1] & groups[2])
    assert set.union(*groups) == {str(a) for a in range(1001, 1092)}
    assert sorted(sum(split.values(), [])) == sorted(REAL_LIKE)
    for role in sp.SPEAKER_ROLES:  # every clip where its actor is
        assert {sp.parse_clip(c)[0] for c in split[role]} == set(actors[role])
        assert len(split[role]) == 82 * len(actors[role])
        members = set(split[role])  # the input's order is kept
        assert split[role] == [c for c in REAL_LIKE if c in members]
    again = sp.speaker_split(REAL_LIKE, (73, 9, 9), seed=0)
    assert again == (split, actors)
    other = sp.speaker_split(REAL_LIKE, (73, 9, 9), seed=1)[1]
    assert other['test'] != actors['test']


def test_speaker_split_few_actors():
    clips = cremad_clip_names(range(1001, 1007), per_actor=6)
    split, actors = sp.speaker_split(clips, (73, 9, 9), seed=0)
    assert [len(actors[r]) for r in sp.SPEAKER_ROLES] == [4, 1, 1]
    assert [len(split[r]) for r in sp.SPEAKER_ROLES] == [24, 6, 6]
    with pytest.raises(ValueError, match='cannot give'):
        sp.speaker_split(clips[:12], (1, 1, 1))  # two actors, three parts
    with pytest.raises(ValueError, match='not a CREMA-D clip name'):
        sp.speaker_split(clips + ['oops'])


def test_stratified_carve():
    items = [(c, sp.parse_clip(c)[1]) for c in REAL_LIKE[:6698]]
    train, val = sp.stratified_carve(items, 744, seed=0)
    assert len(train) == 6698 - 744 and len(val) == 744
    assert sorted(train + val) == sorted(items)
    assert [i for i in items if i in set(val)] == val  # input order
    total = Counter(label for _, label in items)
    carved = Counter(label for _, label in val)
    for label in CREMAD_EMOTIONS:  # proportional to within one clip
        assert abs(carved[label] - 744 * total[label] / len(items)) < 1
    assert sp.stratified_carve(items, 744, seed=0) == (train, val)
    assert sp.stratified_carve(items, 744, seed=1)[1] != val
    # Integer labels (Kinetics-Sounds) work the same way.
    ints = [(f'clip{i:03d}', i % 3) for i in range(30)]
    part, held = sp.stratified_carve(ints, 6)
    assert Counter(label for _, label in held) == {0: 2, 1: 2, 2: 2}
    assert sp.stratified_carve([], 0) == ([], [])
    with pytest.raises(ValueError, match='cannot carve 31'):
        sp.stratified_carve(ints, 31)
    with pytest.raises(ValueError, match='twice'):
        sp.stratified_carve(ints + ints[:1], 3)


def test_carve_sizes_default_to_the_preparation_tools_rules():
    # CREMA-D: as many as the authors' val.csv, else 10 % of train.csv.
    assert sp.carve_val_size(6698, 744) == 744
    assert sp.carve_val_size(6698) == 670
    # Kinetics-Sounds: 10 % of the training list.
    assert sp.default_val_size(14799) == 1480
    assert sp.default_val_size(0) == 0
