import pytest
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


def test_unsupported_cpu_launcher():
    with pytest.raises(ValueError, match='--launcher mpi'):
        setup_cpu_distributed(Config(dict()), 'mpi')
