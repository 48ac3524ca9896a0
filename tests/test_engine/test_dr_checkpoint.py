"""The ``'dr_hook'`` entry of checkpoints: theta_init and the history,
taken, saved and resumed."""
import pytest
import torch

from mmdr.engine.dr_checkpoint import (STATE_VERSION, checkpoint_entry,
                                       resume_entry, take_init_state)


def _encoders():
    torch.manual_seed(0)
    return dict(
        audio=torch.nn.Sequential(
            torch.nn.Linear(2, 3), torch.nn.BatchNorm1d(3)),
        visual=torch.nn.Linear(3, 1))


def test_init_state_is_a_copy_on_the_device_asked():
    encoders = _encoders()
    init = take_init_state(encoders, torch.device('meta'))
    assert list(init) == ['audio', 'visual']
    assert init['audio']['0.weight'].device.type == 'meta'
    init = take_init_state(encoders)
    assert init['visual']['weight'].device.type == 'cpu'
    with torch.no_grad():
        encoders['visual'].weight.add_(1)
    # A copy: training the encoder does not move theta_init.
    assert not torch.equal(init['visual']['weight'], encoders['visual'].weight)
    assert set(init['audio']) == set(encoders['audio'].state_dict())


def test_entry_round_trip_and_device():
    init = take_init_state(_encoders())
    history = [dict(index=1, epoch=2, modalities={})]
    entry = checkpoint_entry(init, history)
    assert entry['version'] == STATE_VERSION == 2
    history.append('later')  # the entry holds a copy
    assert entry['history'] == [dict(index=1, epoch=2, modalities={})]
    resumed, resumed_history = resume_entry(entry, ['visual', 'audio'],
                                            torch.device('meta'))
    assert resumed_history == entry['history']
    assert resumed['visual']['weight'].device.type == 'meta'
    resumed, _ = resume_entry(entry, ('audio', 'visual'))
    for m in init:
        for key, value in init[m].items():
            assert torch.equal(resumed[m][key], value)


@pytest.mark.parametrize('modalities',
                         [['audio'], ['audio', 'visual', 'depth']])
def test_resume_with_other_modalities_names_both_lists(modalities):
    entry = checkpoint_entry(take_init_state(_encoders()), [])
    with pytest.raises(ValueError) as err:
        resume_entry(entry, modalities)
    assert str(err.value).startswith(
        "DRHook: the checkpoint resumed from diagnosed the modalities "
        f"['audio', 'visual'], this run diagnoses {modalities!r}; ")
