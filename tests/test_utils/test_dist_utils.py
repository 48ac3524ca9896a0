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


@pytest.mark.parametrize('rank', [0, 1])
def test_gather_restores_data_set_order_on_the_main_rank(monkeypatch, rank):
    import mmengine.dist

    from mmdr.utils import gather_in_sampler_order

    # 5 samples on 2 ranks: DefaultSampler pads with sample 0 and gives
    # rank 0 samples 0, 2, 4 and rank 1 samples 1, 3, 0.
    rows = torch.arange(5 * 2).reshape(5, 2)
    parts = [rows[[0, 2, 4]], rows[[1, 3, 0]]]
    monkeypatch.setattr(mmengine.dist, 'get_world_size', lambda: 2)
    monkeypatch.setattr(mmengine.dist, 'is_main_process', lambda: rank == 0)
    # mmengine's gather returns the parts on the destination rank only.
    monkeypatch.setattr(mmengine.dist, 'gather', lambda p, dst: parts
                        if rank == dst else [])
    gathered = gather_in_sampler_order(parts[rank], 5)
    if rank == 1:
        assert gathered is None
        return
    assert torch.equal(gathered, rows)
    labels = [torch.tensor([7, 9, 8]), torch.tensor([6, 5, 7])]
    monkeypatch.setattr(mmengine.dist, 'gather', lambda p, dst: labels)
    assert gather_in_sampler_order(labels[0], 5).tolist() == [7, 6, 9, 5, 8]


def _variants():
    torch.manual_seed(0)
    tensors = [torch.randn(4, 3), torch.randn(5).half(), torch.arange(3)]
    flipped = [t.clone() for t in tensors]
    # One bit of one float: the smallest possible change.
    flipped[0].view(torch.int32)[1, 2] ^= 1
    swapped = [t.clone() for t in tensors]
    swapped[1][[0, 1]] = swapped[1][[1, 0]]
    # -0.0 and 0.0 compare equal but are different weights.
    signed = [t.clone() for t in tensors]
    signed[0][0, 0] = 0.0
    negzero = [t.clone() for t in signed]
    negzero[0][0, 0] = -0.0
    return tensors, [flipped, swapped], (signed, negzero)


def test_fingerprint_sees_every_bit():
    from mmdr.utils import tensors_fingerprint

    tensors, changed, (signed, negzero) = _variants()
    base = tensors_fingerprint(tensors)
    assert base == tensors_fingerprint([t.clone() for t in tensors])
    for other in changed:
        assert tensors_fingerprint(other) != base
    assert tensors_fingerprint(signed) != tensors_fingerprint(negzero)


def test_device_bit_sums_see_every_bit():
    # What accelerators compute, run here on the CPU.
    from mmdr.utils.dist_utils import bit_sums

    def sums(ts):
        return torch.stack([bit_sums(t, i) for i, t in enumerate(ts)])

    tensors, changed, (signed, negzero) = _variants()
    base = sums(tensors)
    assert base.dtype == torch.int64
    assert torch.equal(base, sums([t.clone() for t in tensors]))
    for other in changed:
        assert not torch.equal(sums(other), base)
    assert not torch.equal(sums(signed), sums(negzero))


class _TwoRanks:
    """mmengine.dist as rank ``rank`` of 2 sees it: broadcasts deliver the
    main process's values, given here."""

    def __init__(self, monkeypatch, rank, main_values=None, gathered=None):
        import mmengine.dist
        self.main_values = list(main_values or [])
        monkeypatch.setattr(mmengine.dist, 'get_world_size', lambda: 2)
        monkeypatch.setattr(mmengine.dist, 'is_main_process',
                            lambda: rank == 0)
        monkeypatch.setattr(mmengine.dist, 'broadcast', self.broadcast)
        monkeypatch.setattr(mmengine.dist, 'broadcast_object_list',
                            self.broadcast_object_list)
        monkeypatch.setattr(mmengine.dist, 'all_gather_object',
                            lambda obj: [obj, gathered or obj])
        self.rank = rank

    def broadcast(self, tensor, src):
        tensor.copy_(self.main_values.pop(0))

    def broadcast_object_list(self, objects, src):
        if self.rank != 0:
            objects[:] = self.main_values.pop(0)


def _bn():
    bn = torch.nn.BatchNorm1d(2)
    bn.running_mean.fill_(1.0)
    return bn


@pytest.mark.parametrize('restore', [False, True])
def test_main_process_buffers_shares_and_optionally_restores(
        monkeypatch, restore):
    from mmdr.utils import main_process_buffers
    bn = _bn()
    own = [b.clone() for b in bn.buffers()]
    main = [torch.full((2, ), 5.0), torch.full((2, ), 6.0), torch.tensor(7)]
    _TwoRanks(monkeypatch, rank=1, main_values=main)
    with main_process_buffers([bn], restore=restore):
        # Inside the block: the main process's buffers.
        assert [b.tolist() for b in bn.buffers()] == [[5.0, 5.0], [6.0, 6.0],
                                                      7]
    after = own if restore else main
    assert all(torch.equal(b, a) for b, a in zip(bn.buffers(), after))


def test_main_process_buffers_in_one_process_changes_nothing():
    from mmdr.utils import main_process_buffers
    bn = _bn()
    with main_process_buffers([bn]):
        assert bn.running_mean.tolist() == [1.0, 1.0]


def test_main_process_result_is_every_ranks_and_errors_are_raised(monkeypatch):
    from mmdr.utils import main_process_result
    assert main_process_result(lambda: 41 + 1) == 42

    def fail():
        raise FloatingPointError('bad features')

    with pytest.raises(
            RuntimeError, match='^FloatingPointError: bad '
            'features$') as err:
        main_process_result(fail)
    assert isinstance(err.value.__cause__, FloatingPointError)
    # Another rank does not compute; it gets the main process's result, or
    # its error.
    _TwoRanks(
        monkeypatch,
        rank=1,
        main_values=[[('ok', 42)], [('error', 'ValueError: no')]])
    assert main_process_result(fail) == 42
    with pytest.raises(
            RuntimeError,
            match=r'^ValueError: no \(raised on the main process\)$'):
        main_process_result(fail)


def test_check_same_on_ranks_names_what_differs(monkeypatch):
    from mmdr.utils import check_same_on_ranks, tensors_fingerprint
    tensors = {'audio': [torch.ones(2)], 'visual': [torch.zeros(2)]}
    check_same_on_ranks(tensors, 'unused: one process')
    other = dict(
        audio=tensors_fingerprint([torch.ones(2)]),
        visual=tensors_fingerprint([torch.full((2, ), 1e-9)]))
    _TwoRanks(monkeypatch, rank=0, gathered=other)
    with pytest.raises(
            RuntimeError,
            match=r"^the encoders \['visual'\] differ "
            'between ranks$'):
        check_same_on_ranks(tensors, 'the encoders')
    _TwoRanks(
        monkeypatch,
        rank=0,
        gathered={
            m: tensors_fingerprint(t)
            for m, t in tensors.items()
        })
    check_same_on_ranks(tensors, 'the encoders')
