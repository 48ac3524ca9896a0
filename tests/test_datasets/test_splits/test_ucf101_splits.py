"""mmdr/datasets/splits/ucf101.py: UCF-101's lists, the class names the
lists give, and the group carve (which UCF101Dataset makes in memory and
tools/data/ucf101/prepare_ucf101.py writes)."""
import pytest

from mmdr.datasets.splits import ucf101 as sl


def test_carve_rule_on_real_structure():
    """101 classes x 25 groups, official test blocks: 2 of 18 groups."""
    classes = [f'Class{k:03d}' for k in range(101)]
    clips = [
        sl.Clip(f'{c}/v_{c}_g{g:02d}_c{i:02d}.avi', k, g)
        for k, c in enumerate(classes) for g in range(1, 26)
        for i in range(1, 2 + (g + k) % 5)
    ]
    for split in sl.SPLITS:
        tested = range(7 * split - 6, 7 * split + 1)
        train = [c for c in clips if c.group not in tested]
        part, held, groups = sl.carve_holdout(train, classes, split)
        assert all(len(g) == 2 for g in groups.values())
        assert len(part) + len(held) == len(train)
        assert {(c.label, c.group)
                for c in part}.isdisjoint({(c.label, c.group)
                                           for c in held})
        again = sl.carve_holdout(train, classes, split, seed=0)
        assert again[1] == held  # seeded
        other = sl.carve_holdout(train, classes, split, seed=1)
        assert other[1] != held
    with pytest.raises(ValueError, match='lower holdout_groups'):
        sl.carve_holdout(train[:3], classes[:1], 1, holdout_groups=2)


def test_split_file_parsing():
    classes = sl.parse_class_index(
        ['1 ApplyEyeMakeup\r\n', '2 HandstandPushups\r\n'])
    clips = sl.parse_split_file([
        'HandstandPushups/v_HandStandPushups_g08_c01.avi 2\r\n', '\r\n',
        'ApplyEyeMakeup/v_ApplyEyeMakeup_g09_c03.avi 1\r\n'
    ], classes)
    assert clips[0] == sl.Clip(
        'HandstandPushups/v_HandStandPushups_g08_c01.avi', 1, 8)
    assert clips[0].frame_dir == 'HandstandPushups/v_HandStandPushups_g08_c01'
    assert clips[1].label == 0 and clips[1].group == 9
    test = sl.parse_split_file(['ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi'],
                               classes)
    assert test[0].label == 0  # test lists: label from classInd
    with pytest.raises(ValueError, match='numbers ApplyEyeMakeup 1'):
        sl.parse_split_file(['ApplyEyeMakeup/v_ApplyEyeMakeup_g09_c03.avi 2'],
                            classes)
    with pytest.raises(ValueError, match='not in classInd'):
        sl.parse_split_file(['Nope/v_Nope_g01_c01.avi'], classes)
    with pytest.raises(ValueError, match='in both'):
        sl.check_disjoint(clips, clips, 1)


def _clips(*rows):
    return [(f'list.txt, line {n}', path, label)
            for n, (path, label) in enumerate(rows, 1)]


def test_class_names_from_folders_or_clip_names():
    names = sl.class_names_from_lists(
        _clips(('Archery/v_Archery_g01_c01', 1),
               ('HandstandPushups/v_HandStandPushups_g01_c01', 2),
               ('v_HandStandPushups_g02_c01.avi', 2),
               ('ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi', 0),
               ('no_class_here', 0)))
    # The folder's spelling wins over the clip name's.
    assert names == ['ApplyEyeMakeup', 'Archery', 'HandstandPushups']


def test_class_names_from_lists_refuse_contradictions():
    rows = [('Archery/v_Archery_g01_c01', 1), ('Archery/v_Archery_g02_c01', 1),
            ('Basketball/v_Basketball_g01_c01', 2),
            ('Basketball/v_Basketball_g02_c01', 2),
            ('Archery/v_Archery_g03_c01', 2),
            ('ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01', 0)]
    with pytest.raises(ValueError) as err:
        sl.class_names_from_lists(_clips(*rows))
    assert str(err.value) == (
        "list.txt, line 5: label 2 with the class folder 'Archery', but "
        "label 2 is 'Basketball' in 2 line(s) (e.g. list.txt, line 3) and "
        "'Archery' has label 1 in 2 line(s) (e.g. list.txt, line 1); fix "
        'the label to 1, or move the clip to Basketball/ if the label is '
        'right')
    # One line each: nothing says which is right.
    with pytest.raises(ValueError, match='one of them is wrong'):
        sl.class_names_from_lists(
            _clips(('Archery/v_Archery_g01_c01', 0),
                   ('Basketball/v_Basketball_g01_c01', 0)))
    with pytest.raises(ValueError, match=r'no clip names label\(s\) \[1\]'):
        sl.class_names_from_lists(
            _clips(('Archery/v_Archery_g01_c01', 0),
                   ('Basketball/v_Basketball_g01_c01', 2)))


def test_label_contradiction_names_both_and_the_fix():
    classes = ['ApplyEyeMakeup', 'Archery', 'HandstandPushups']
    assert sl.label_contradiction(
        'HandstandPushups/v_HandStandPushups_g01_c01', 2, classes,
        'classInd.txt') is None
    assert sl.label_contradiction('v_HandStandPushups_g01_c01.avi', 2, classes,
                                  'classInd.txt') is None
    assert sl.label_contradiction(
        'Archery/v_Archery_g01_c01', 2, classes, 'classInd.txt') == (
            "label 2 is 'HandstandPushups' (classInd.txt), but the clip's "
            "class folder says 'Archery' (label 1); fix the label to 1 if the "
            'class folder is right, or move the clip to HandstandPushups/ if '
            'the label is')
    assert 'which is no class there' in sl.label_contradiction(
        'Basketball/v_Basketball_g01_c01', 0, classes, 'classInd.txt')


def test_carve_refuses_a_validation_part_not_smaller():
    classes = ['A', 'B']
    train = [
        sl.Clip(f'{c}/v_{c}_g{g:02d}_c01', k, g) for k, c in enumerate(classes)
        for g in (1, 2, 3)
    ]
    with pytest.raises(ValueError) as err:
        sl.carve_holdout(train, classes, 1, holdout_groups=2)
    assert str(err.value) == (
        'split 1: holding out 2 of the 3 training groups of every class '
        'puts 4 clips into validation and leaves 2 for training: the '
        'validation part must be the smaller one; lower holdout_groups')
    part, held, groups = sl.carve_holdout(train, classes, 1, 1)
    assert (len(part), len(held)) == (4, 2)
    assert {c.class_name for c in held} == {'A', 'B'}
