"""The group-disjoint carve and the YouTube video of a clip name."""
import pytest

from mmdr.datasets.splits import (stratified_carve, stratified_group_carve,
                                  youtube_video)


def test_youtube_video_reads_the_fields_from_the_end():
    assert youtube_video('---g-f_I2yQ_000001') == '---g-f_I2yQ'
    assert youtube_video('--4-0ihtnBU_000058_000068') == '--4-0ihtnBU'
    assert youtube_video('a_b_000010') == 'a_b'
    assert youtube_video('clip_12') == 'clip_12'  # its own group


def test_whole_groups_fall_on_one_side():
    items = [(f'v{v}_{s:06d}', v % 3) for v in range(30) for s in (0, 10)]
    train, val = stratified_group_carve(items, 6, youtube_video, seed=1)
    val_videos = {youtube_video(n) for n, _ in val}
    assert len(val_videos) == 6 and len(val) == 12
    assert not val_videos & {youtube_video(n) for n, _ in train}
    # 2 videos of every label; the parts keep the order of the items.
    assert sorted(label for _, label in val) == [0] * 4 + [1] * 4 + [2] * 4
    assert train + val != items and sorted(train + val) == sorted(items)
    assert [i for i in items if i in val] == val


def test_single_clip_groups_give_the_clip_carve():
    items = [(f'c{i:02d}', i % 4) for i in range(40)]
    assert stratified_group_carve(items, 5, str, 3) == stratified_carve(
        items, 5, 3)
    with pytest.raises(ValueError, match='listed twice'):
        stratified_group_carve(items + items[:1], 5, str)
    with pytest.raises(ValueError, match='cannot carve 41 of 40'):
        stratified_group_carve(items, 41, str)
