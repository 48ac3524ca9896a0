import numpy as np
import pytest
import torch
from mmengine.config import Config

from mmdr.utils import setup_cpu_distributed, slurm_env_to_torch_env


def test_slurm_env_translation():
    env = dict(
        SLURM_PROCID='3',
        SLURM_NTASKS='8',
        SLURM_LOCALID='1',
        SLURM_NODELIST='node[1-2]',
        MASTER_ADDR='node1')
    assert slurm_env_to_torch_env(env) == dict(
        RANK='3',
        WORLD_SIZE='8',
        LOCAL_RANK='1',
        MASTER_ADDR='node1',
        MASTER_PORT='29500')


def test_slurm_env_outside_srun_is_explained():
    with pytest.raises(RuntimeError, match='through srun') as err:
        slurm_env_to_torch_env(dict(SLURM_PROCID='0'))
    assert 'SLURM_NTASKS' in str(err.value)


def test_non_distributed_run_is_left_alone():
    cfg = Config(dict(model_wrapper_cfg=None))
    setup_cpu_distributed(cfg, 'none')
    assert cfg.model_wrapper_cfg is None


@pytest.mark.skipif(
    torch.cuda.is_available(), reason='only machines without CUDA use gloo')
def test_unsupported_cpu_launcher():
    with pytest.raises(ValueError, match='--launcher mpi'):
        setup_cpu_distributed(Config(dict()), 'mpi')


def test_gather_restores_data_set_order(monkeypatch):
    import mmengine.dist

    from mmdr.utils import gather_in_sampler_order

    # 5 samples on 2 ranks: DefaultSampler pads with sample 0 and gives
    # rank 0 samples 0, 2, 4 and rank 1 samples 1, 3, 0.
    rows = np.arange(5 * 2).reshape(5, 2)
    parts = [rows[[0, 2, 4]], rows[[1, 3, 0]]]
    monkeypatch.setattr(mmengine.dist, 'get_world_size', lambda: 2)
    monkeypatch.setattr(mmengine.dist, 'all_gather_object', lambda p: parts)
    np.testing.assert_array_equal(gather_in_sampler_order(parts[0], 5), rows)
    labels = [np.array([7, 9, 8]), np.array([6, 5, 7])]
    monkeypatch.setattr(mmengine.dist, 'all_gather_object', lambda p: labels)
    assert gather_in_sampler_order(labels[0], 5).tolist() == [7, 6, 9, 5, 8]
