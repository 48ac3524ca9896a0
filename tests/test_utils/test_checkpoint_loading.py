import io
import pickle
import pickletools

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer, MessageHub

import mmdr  # noqa: F401  (registers the safe globals)


def _globals_in(data: bytes) -> set:
    return {
        arg
        for op, arg, _ in pickletools.genops(data)
        if op.name in ('GLOBAL', 'STACK_GLOBAL') and arg
    }


def _message_hub_state():
    hub = MessageHub.get_instance('test_checkpoint_loading')
    hub.update_scalar('train/loss', 0.5)
    hub.update_scalar('train/loss', np.float64(0.25))
    hub.update_info('best_score', np.float64(0.9))
    return hub.state_dict()


def test_history_buffer_round_trips_under_weights_only(tmp_path):
    state = _message_hub_state()
    path = tmp_path / 'ckpt.pth'
    torch.save(dict(message_hub=state, meta=dict(seed=np.int64(3))), path)
    loaded = torch.load(path)  # weights_only=True is torch's default
    buffer = loaded['message_hub']['log_scalars']['train/loss']
    assert isinstance(buffer, HistoryBuffer)
    assert buffer.mean() == pytest.approx(0.375)
    assert buffer.current() == pytest.approx(0.25)
    assert loaded['meta']['seed'] == 3
    assert loaded['message_hub']['runtime_info']['best_score'] == 0.9


def test_checkpoints_reference_no_getattr():
    buffer = HistoryBuffer([1.0, 2.0], [1, 1])
    names = _globals_in(pickle.dumps(buffer, protocol=2))
    assert not any('getattr' in name for name in names), names


def test_other_globals_stay_forbidden(tmp_path):
    path = tmp_path / 'evil.pth'
    torch.save(dict(obj=io.BytesIO(b'x')), path)
    with pytest.raises(pickle.UnpicklingError, match='BytesIO'):
        torch.load(path)
