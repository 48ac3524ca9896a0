"""Random batches of the model-only speed tools: shapes, dtypes, labels, the
messages of a wrong --shapes, and the synchronised median timer."""
from types import SimpleNamespace

import pytest
import torch
from conftest import REPO
from mmengine.config import Config

from mmdr.analysis import (CREMAD_SHAPES, iter_batches, median_wall_time,
                           parse_input_shapes, random_modality_inputs)
from mmdr.analysis import synthetic_batches
from mmdr.registry import MODELS
from mmdr.utils import register_all_modules


@pytest.fixture(scope='module')
def cremad_model():
    register_all_modules()
    return MODELS.build(
        Config.fromfile(f'{REPO}/configs/dr_cremad.py').model).eval()


def test_parse_input_shapes():
    assert parse_input_shapes(CREMAD_SHAPES, ['audio', 'visual'], 'x') == dict(
        visual=(2, 3, 224, 224), audio=(1, 257, 188))
    with pytest.raises(
            ValueError,
            match=r"--shapes gives shapes of "
            r"\['audio'\]; the model's modalities are "
            r"\['audio', 'visual'\]"):
        parse_input_shapes(['audio=1,2'], ['audio', 'visual'], '--shapes')
    for bad in ('audio', 'audio=1,x', 'audio=1,0', '=1,2'):
        with pytest.raises(ValueError, match='is not MODALITY=D,D'):
            parse_input_shapes([bad], ['audio'], '--shapes')


def test_batches_as_the_dataloader_delivers_them(cremad_model):
    shapes = dict(visual=(2, 3, 8, 8), audio=(1, 5, 4))
    data = random_modality_inputs(cremad_model, shapes, 10, 6, 0,
                                  torch.device('cpu'))
    # Frames as decoded pixels (the visual preprocessor normalises), the
    # spectrogram as floats.
    assert data['inputs']['visual'].dtype == torch.uint8
    assert data['inputs']['audio'].dtype == torch.float32
    assert data['inputs']['visual'].shape == (10, 2, 3, 8, 8)
    assert set(data['labels'].tolist()) <= set(range(6))
    batches = list(iter_batches(data, 4))
    assert [len(b['data_samples']) for b in batches] == [4, 4, 2]
    assert [int(s.gt_labels.item) for b in batches
            for s in b['data_samples']] == data['labels'].tolist()
    assert torch.equal(batches[2]['inputs']['audio'][1],
                       data['inputs']['audio'][9])
    # The same seed gives the same samples.
    again = random_modality_inputs(cremad_model, shapes, 10, 6, 0,
                                   torch.device('cpu'))
    assert torch.equal(again['inputs']['visual'], data['inputs']['visual'])
    # And the model takes them.
    (sample, *_) = cremad_model.val_step(batches[0])
    assert sample.pred_scores.item.shape == (6, )


def test_median_wall_time_warms_up_and_returns_the_last_result(monkeypatch):
    # A clock that each call advances by its own duration: the warm-up call
    # is slow, the timed ones take 3, 1 and 2 s.
    clock = SimpleNamespace(now=0.0)
    durations = iter([100.0, 3.0, 1.0, 2.0])
    events = []

    def perf_counter():
        return clock.now

    def function():
        events.append('call')
        clock.now += next(durations)
        return len(events)

    monkeypatch.setattr(synthetic_batches, 'time',
                        SimpleNamespace(perf_counter=perf_counter))
    monkeypatch.setattr(synthetic_batches, 'synchronize',
                        lambda device: events.append(f'sync {device}'))
    seconds, result = median_wall_time(function, torch.device('cuda:1'), 3)
    # The median of the timed calls, the warm-up left out.
    assert seconds == 2.0
    # The device is waited for around each timed call.
    timed = ['sync cuda:1', 'call', 'sync cuda:1']
    assert events == ['call', *timed, *timed, *timed]
    assert result == len(events) - 1
