"""Food101Dataset on lists that prepare_food101.py wrote from a release in
the public layout, and its text steps (bag of words)."""
import json
import os
import os.path as osp

import numpy as np
import pytest
from food101_fixtures import CLASSES, write_food101_release
from runs import run_tool_main

from mmdr.datasets import Food101Dataset
from mmdr.datasets.transforms import BagOfWords
from mmdr.datasets.transforms.text import clean_web_text, text_words
from mmdr.utils import register_all_modules

register_all_modules()


@pytest.fixture
def food101(tmp_path, monkeypatch, capsys):
    """A prepared release: 3 classes, 4 training and 1 test page each."""
    root = str(tmp_path / 'food101')
    write_food101_release(root, per_class=dict(train=4, test=1))
    run_tool_main('data/food101/prepare_food101.py',
                  ['--root', root, '--val-ratio', '0.25', '--workers', '1'],
                  monkeypatch, capsys)
    return root


def test_samples_and_pipeline(food101):
    pipeline = [
        dict(
            type='ModalityPipeline',
            key='visual',
            overrides=dict(modality='RGB'),
            transforms=[
                dict(type='ImageDecode'),
                dict(type='Resize', scale=(16, 16), keep_ratio=False),
                dict(type='FormatShape', input_format='NCHW')
            ]),
        dict(type='BagOfWords', vocab_size=32),
        dict(type='PackMultiModalInputs')
    ]
    dataset = Food101Dataset(
        ann_file='mmdr_test.json', data_root=food101, pipeline=pipeline)
    assert len(dataset) == 3
    assert dataset.metainfo['classes'] == list(CLASSES)
    assert dataset.modalities == ('visual', 'text')
    info = dataset.get_data_info(2)
    assert info['img_path'] == osp.join(food101, 'images', 'test', 'baklava',
                                        'baklava_0.jpg')
    assert info['label'] == 2 and dataset.get_cat_ids(2) == [2]
    assert info['title'].startswith('Baklava recipe 0, the best baklava')
    packed = dataset[2]
    assert packed['inputs']['visual'].shape == (1, 3, 16, 16)
    bag = packed['inputs']['text']
    vocab = open(osp.join(food101, 'mmdr_vocab.txt')).read().split()
    assert bag.shape == (32, ) and bag.dtype.is_floating_point
    assert {vocab[i]
            for i in np.flatnonzero(bag.numpy())} == (
                set(vocab) & set(text_words(info['title'])))
    assert packed['data_samples'].gt_labels.item.tolist() == [2]


def test_bag_of_words_refuses_a_longer_vocabulary(food101):
    info = dict(
        title='apple pie', vocab_path=osp.join(food101, 'mmdr_vocab.txt'))
    with pytest.raises(ValueError, match='more than vocab_size=2'):
        BagOfWords(vocab_size=2)(info)


def test_text_is_cleaned_as_balancebenchmark_does():
    text = 'RT Best #tacos, see https://x.org/a?b=1 now'
    assert clean_web_text(text) == 'Best tacos, see  now'
    assert text_words(text) == ['best', 'tacos', 'see', 'now']


def test_missing_files_stop_the_start(food101):
    os.remove(
        osp.join(food101, 'images', 'test', 'apple_pie', 'apple_pie_0.jpg'))
    with pytest.raises(
            FileNotFoundError,
            match=r'(?s)1 of the 3 files.*sample test/apple_pie/'
            r'apple_pie_0.jpg.*prepare_food101.py --root'):
        Food101Dataset(ann_file='mmdr_test.json', data_root=food101)
    os.remove(osp.join(food101, 'mmdr_vocab.txt'))
    with pytest.raises(
            FileNotFoundError,
            match='vocabulary .*mmdr_vocab.txt is not there.*'
            'prepare_food101.py --root'):
        Food101Dataset(ann_file='mmdr_val.json', data_root=food101)
    # A text model without a vocabulary (BERT) needs none.
    assert len(
        Food101Dataset(
            ann_file='mmdr_val.json', data_root=food101, vocab_file=None)) == 3


def test_bad_lists_are_refused(food101):
    path = osp.join(food101, 'mmdr_val.json')
    content = json.load(open(path))
    content['data_list'][0]['label'] = 3
    json.dump(content, open(path, 'w'))
    with pytest.raises(ValueError, match='label 3 is not one of the 3'):
        Food101Dataset(ann_file='mmdr_val.json', data_root=food101)
    del content['data_list'][0]['title']
    json.dump(content, open(path, 'w'))
    with pytest.raises(ValueError, match=r"lacks \['title'\]"):
        Food101Dataset(ann_file='mmdr_val.json', data_root=food101)
    with pytest.raises(FileNotFoundError, match='prepare_food101.py --root'):
        Food101Dataset(ann_file='mmdr_val.json', data_root=food101 + '_x')
