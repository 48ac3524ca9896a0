"""tools/data/food101/prepare_food101.py on releases in the public layout:
what it lists, carves and counts, and every row or image it leaves out,
each named with its reason (in this process: run_tool_main)."""
import csv
import json
import os
import os.path as osp

import pytest
from food101_fixtures import CLASSES, write_food101_release
from runs import run_tool_main

from mmdr.datasets.transforms.text import text_words


def prepare(root, monkeypatch, capsys, *extra):
    """Run the tool on ``root``; its output and the lists it wrote."""
    _, output = run_tool_main('data/food101/prepare_food101.py',
                              ['--root', root, '--workers', '1', *extra],
                              monkeypatch, capsys)
    lists = {}
    for subset in ('train', 'val', 'test'):
        with open(osp.join(root, f'mmdr_{subset}.json')) as f:
            lists[subset] = json.load(f)
    return output, lists


def test_lists_carve_and_vocabulary(tmp_path, monkeypatch, capsys):
    root = str(tmp_path / 'food101')
    rows = write_food101_release(
        root, per_class=dict(train=10, test=3), header=False)
    # A word only in the test part must not reach the vocabulary.
    test_csv = osp.join(root, 'texts', 'test_titles.csv')
    with open(test_csv, 'a', newline='') as f:
        name = 'apple_pie_3.jpg'
        csv.writer(f).writerow((name, 'zucchini only in test', 'apple_pie'))
    write_food101_release(
        str(tmp_path / 'extra'), per_class=dict(test=4), seed=1)
    os.replace(
        osp.join(tmp_path, 'extra', 'images', 'test', 'apple_pie',
                 'apple_pie_3.jpg'),
        osp.join(root, 'images', 'test', 'apple_pie', 'apple_pie_3.jpg'))
    output, lists = prepare(root, monkeypatch, capsys)

    assert 'train 27 / val 3 / test 10 samples' in output
    for subset, content in lists.items():
        assert content['metainfo']['classes'] == list(CLASSES)
        assert content['metainfo']['split'] == subset
    train, val = lists['train']['data_list'], lists['val']['data_list']
    # Stratified: one validation page per class; disjoint from training.
    assert sorted(s['label'] for s in val) == [0, 1, 2]
    assert not {s['sample_id'] for s in train} & {s['sample_id'] for s in val}
    # The rows as written: text (quoted, with a line break), label, image.
    first = lists['test']['data_list'][0]
    assert first == dict(
        img_path='images/test/apple_pie/apple_pie_0.jpg',
        title=rows['test'][0][1],
        label=0,
        sample_id='test/apple_pie/apple_pie_0.jpg')
    assert '\n' in lists['test']['data_list'][1]['title']
    vocab = open(osp.join(root, 'mmdr_vocab.txt')).read().split()
    assert 'zucchini' not in vocab and 'pie' in vocab
    counted = set()
    for sample in train:
        counted.update(text_words(sample['title']))
    assert set(vocab) <= counted
    # Links and hashtags are cleaned away before counting.
    assert 'http' not in vocab and 'example' not in vocab

    digests = {
        n: open(osp.join(root, n), 'rb').read()
        for n in os.listdir(root) if n.startswith('mmdr_')
    }
    prepare(root, monkeypatch, capsys, '--seed', '0')
    assert digests == {
        n: open(osp.join(root, n), 'rb').read()
        for n in digests
    }
    _, other = prepare(root, monkeypatch, capsys, '--seed', '1')
    assert other['val'] != lists['val']


def test_problems_are_left_out_and_reported(tmp_path, monkeypatch, capsys):
    root = str(tmp_path / 'food101')
    write_food101_release(root, per_class=dict(train=4, test=1))
    images = osp.join(root, 'images', 'train')
    os.remove(osp.join(images, 'apple_pie', 'apple_pie_0.jpg'))
    with open(osp.join(images, 'apple_pie', 'apple_pie_1.jpg'), 'wb') as f:
        f.write(b'not a jpeg')
    jpeg = osp.join(images, 'baklava', 'baklava_0.jpg')
    data = open(jpeg, 'rb').read()
    with open(jpeg, 'wb') as f:
        f.write(data[:len(data) // 2])
    open(osp.join(images, 'baklava', 'unlisted.jpg'), 'wb').close()
    with open(
            osp.join(root, 'texts', 'train_titles.csv'), 'a', newline='') as f:
        writer = csv.writer(f)
        writer.writerow(('baby_back_ribs_0.jpg', 'again', 'baby_back_ribs'))
        writer.writerow(('sushi_0.jpg', 'sushi', 'sushi'))
        writer.writerow(('only_two.jpg', 'columns'))
    rows = list(csv.reader(open(osp.join(root, 'texts', 'train_titles.csv'))))
    rows[6][1] = '  '  # baby_back_ribs_1.jpg
    with open(
            osp.join(root, 'texts', 'train_titles.csv'), 'w', newline='') as f:
        csv.writer(f).writerows(rows)

    output, lists = prepare(root, monkeypatch, capsys, '--val-ratio', '0')
    skipped = open(osp.join(root, 'skipped.txt')).read().splitlines()
    expected = {
        'train/apple_pie/apple_pie_0.jpg': 'missing image',
        'train/apple_pie/apple_pie_1.jpg': 'undecodable image',
        'train/baklava/baklava_0.jpg': 'undecodable image',
        'train/baklava/unlisted.jpg':
        'image without a row in texts/train_titles.csv',
        'train/baby_back_ribs/baby_back_ribs_0.jpg': 'listed twice',
        'train/baby_back_ribs/baby_back_ribs_1.jpg': 'empty text',
        'train/sushi/sushi_0.jpg': 'unknown class',
        # The 19th row, on line 18: a quoted text of the 13 rows before
        # spans 2 lines, the header is line 1.
        'texts/train_titles.csv:18': 'a row without 3 columns',
    }
    assert {
        line.split('  # ')[0]: line.split('  # ')[1].split(':')[0]
        for line in skipped
    } == expected
    assert f'{len(expected)} rows or images left out' in output
    assert '2 x undecodable image' in output
    listed = {s['sample_id'] for s in lists['train']['data_list']}
    # A name listed twice keeps its first row.
    assert listed & set(expected) == {
        'train/baby_back_ribs/baby_back_ribs_0.jpg'
    }
    assert len(listed) == 12 - 4  # 4 x 3 pages, 4 of them unusable

    # Kept on request; header-only checks let a truncated image through.
    _, lists = prepare(root, monkeypatch, capsys, '--val-ratio', '0',
                       '--keep-empty-texts', '--no-decode')
    listed = {s['sample_id'] for s in lists['train']['data_list']}
    assert {
        'train/baby_back_ribs/baby_back_ribs_1.jpg',
        'train/baklava/baklava_0.jpg'
    } <= listed


def test_not_a_release_stops(tmp_path, monkeypatch, capsys):
    with pytest.raises(SystemExit, match='images/train not found'):
        prepare(str(tmp_path), monkeypatch, capsys)
