"""OPM: the drop probabilities and the rescaled features on hand values;
one step through BalancedOptimWrapper against a reference computed here as
the authors' ``Classifier.forward`` and ``train`` do; the documented effect
of every argument; the draws' stream; the errors; the config; the journal's
OGM as OGMGE with its script's settings; and under DDP (2 processes)
identical ranks that equal one process holding the whole batch."""
import copy
import math
import os.path as osp
import re

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from balancer_ddp import two_ranks_equal_one_process, whole_batch_options
from balancer_models import (WIDTHS, assert_predicts_as_joint_training,
                             assert_same_parameters, batch, build, sgd_step)
from conftest import REPO
from mmengine.config import Config

from mmdr.models.balancers import (OPM, drop_features, drop_probabilities,
                                   modulation_coefficients)
from mmdr.models.encoders import BaseEncoder
from mmdr.registry import MODELS
from mmdr.utils import register_all_modules

register_all_modules()


@pytest.fixture
def epoch(runtime_info):
    """The balancers' epoch and iteration (conftest's ``runtime_info``),
    epoch 7 until the test sets another: within OPM's and the journal OGM's active epochs."""
    runtime_info(7)
    return runtime_info


def test_drop_probabilities_follow_calcu_q():
    # visual (index 1) dominates: q = q_base * (1 + lam * tanh(2 - 1)).
    probs = drop_probabilities(torch.tensor([3.0, 6.0]), 0.5, 0.5)
    assert probs.tolist() == pytest.approx(
        [0.0, 0.5 * (1 + 0.5 * math.tanh(1.0))])
    probs = drop_probabilities(torch.tensor([6.0, 4.0]), 0.4, 1.0)
    assert probs.tolist() == pytest.approx([0.4 * (1 + math.tanh(0.5)), 0])
    # A tie drops nothing; a large q is clipped to 1.
    assert drop_probabilities(torch.tensor([2.0, 2.0]), 0.5,
                              0.5).tolist() == [0.0, 0.0]
    assert drop_probabilities(torch.tensor([1.0, 9.0]), 0.9,
                              1.0).tolist() == [0.0, 1.0]


def test_drop_features_zeroes_dropped_samples_and_rescales_all():
    feats = dict(a=torch.ones(2, 2), v=torch.full((2, 6), 2.0))
    keep = dict(a=torch.tensor([1.0, 1.0]), v=torch.tensor([1.0, 0.0]))
    # theta = (2 * 0 + 6 * 0.5) / 8 = 0.375
    out = drop_features(feats, keep, dict(a=0.0, v=0.5))
    torch.testing.assert_close(out['a'], torch.full((2, 2), 1 / 0.625))
    torch.testing.assert_close(out['v'][0], torch.full((6, ), 2 / 0.625))
    assert out['v'][1].tolist() == [0.0] * 6


def _opm(**kwargs):
    kwargs.setdefault('begin_epoch', 1)
    return build(balancer=dict(type='OPM', **kwargs))


def _authors_performances(model, out_1, out_2, label):
    """The journal code's per-modality scores (Classifier.forward): the
    true class's softmax summed over the batch, under each modality's slice
    of the detached concatenation head, half the bias each."""
    w = model.cls_head.fc_cls.weight.clone().detach()
    b = model.cls_head.fc_cls.bias.clone().detach()
    width = out_1.shape[1]
    t1 = torch.mm(out_1, torch.transpose(w[:, :width], 0, 1)) + b / 2
    t2 = torch.mm(out_2, torch.transpose(w[:, width:], 0, 1)) + b / 2
    performance_1 = sum(
        [F.softmax(t1, 1)[i][int(label[i])] for i in range(t1.shape[0])])
    performance_2 = sum(
        [F.softmax(t2, 1)[i][int(label[i])] for i in range(t2.shape[0])])
    return performance_1, performance_2


def _authors_step(model, data, q_base=0.5, lam=0.5, p_exe=0.7, draws=0):
    """The authors' Classifier.forward (use_adam_drop, after the warm-up)
    and train for one batch, on a copy of the model. Their draws
    (np.random and torch's global stream) are taken from the documented
    stream instead: a CPU generator seeded with run seed * 1000003 +
    iteration (build() seeds 0), first whether to drop, then the mask.

    Returns:
        tuple: Parameters after the step, the drop probabilities, whether
        the drop ran, and the mask (None if it did not).
    """
    model = copy.deepcopy(model)
    model.balancer = None
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    data = model.data_preprocessor(copy.deepcopy(data), True)
    label = torch.stack([s.gt_labels.item for s in data['data_samples']])
    label = label.view(-1)
    torch.manual_seed(5)
    feats = model.extract_feat(data['inputs'])
    out_1, out_2 = feats['audio'], feats['visual']
    performance_1, performance_2 = _authors_performances(
        model, out_1, out_2, label)
    # calcu_q
    q = torch.tensor([0.0, 0.0])
    ratio_1 = torch.tanh(F.relu(performance_1 / performance_2 - 1))
    ratio_2 = torch.tanh(F.relu(performance_2 / performance_1 - 1))
    q[0] = q_base * (1 + lam * ratio_1) if ratio_1 > 0 else 0
    q[1] = q_base * (1 + lam * ratio_2) if ratio_2 > 0 else 0
    q = torch.clip(q, 0.0, 1.0)
    # Modality_drop.execute_drop, per modality (their torch.stack needs
    # equal widths).
    generator = torch.Generator().manual_seed(draws)
    exe_drop = torch.rand((), generator=generator) >= 1 - p_exe
    mask = None
    if exe_drop:
        dim_list = torch.tensor([7.0, 9.0])
        theta = sum(dim_list * q) / sum(dim_list)
        mask = torch.bernoulli(
            (1 - q).expand(len(label), 2), generator=generator)
        out_1 = out_1 * mask[:, :1] / (1 - theta.item())
        out_2 = out_2 * mask[:, 1:] / (1 - theta.item())
        update_flag = torch.sum(mask, dim=1) > 0
        out_1, out_2, label = (out_1[update_flag], out_2[update_flag],
                               label[update_flag])
    out = model.cls_head(model.fusion(dict(audio=out_1, visual=out_2)))
    F.cross_entropy(out, label).backward()
    optimizer.step()
    params = {n: p.detach() for n, p in model.named_parameters()}
    return params, q, bool(exe_drop), mask


def test_one_step_drops_as_the_authors_code(epoch):
    data = batch()
    model = _opm()
    expected, q, executed, mask = _authors_step(model, data)
    assert executed and q.max() > 0.5 and (mask == 0).any()  # a real drop
    after, log_vars = sgd_step(model, data)
    assert_same_parameters(after, expected)
    assert log_vars['opm_executed'] == 1.0
    assert [log_vars['opm_q_audio'],
            log_vars['opm_q_visual']] == pytest.approx(q.tolist())
    plain, _ = sgd_step(build(), data)
    assert not torch.allclose(plain['cls_head.fc_cls.weight'],
                              after['cls_head.fc_cls.weight'])


@pytest.mark.parametrize('q_base, lam', [(0.2, 0.5), (0.5, 0.0), (0.3, 2.0)])
def test_q_base_and_lam_set_the_dominant_drop_probability(q_base, lam, epoch):
    data = batch()
    model = _opm(q_base=q_base, lam=lam, p_exe=1.0)
    expected, q, executed, _ = _authors_step(
        model, data, q_base=q_base, lam=lam, p_exe=1.0)
    after, log_vars = sgd_step(model, data)
    assert_same_parameters(after, expected)
    ratio = float(log_vars['opm_ratio'])
    dominant = 'visual' if ratio > 1 else 'audio'
    ratio = max(ratio, 1 / ratio)
    assert log_vars[f'opm_q_{dominant}'] == pytest.approx(
        min(1.0, q_base * (1 + lam * math.tanh(ratio - 1))))
    other = 'audio' if dominant == 'visual' else 'visual'
    assert log_vars[f'opm_q_{other}'] == 0.0


def test_p_exe_is_the_probability_that_a_batch_drops(epoch):
    data = batch()
    plain, _ = sgd_step(build(), data)
    never, log_vars = sgd_step(_opm(p_exe=0.0), data)
    assert log_vars['opm_executed'] == 0.0
    assert_same_parameters(never, plain)
    executed = []
    for iteration in range(40):
        epoch(7, iteration)
        generator = OPM(p_exe=0.5).drop_generator()
        executed.append(float(torch.rand((), generator=generator)) >= 0.5)
    assert 10 < sum(executed) < 30
    epoch(7, 0)
    _, log_vars = sgd_step(_opm(p_exe=1.0), data)
    assert log_vars['opm_executed'] == 1.0


def test_drops_from_begin_epoch_to_end_epoch_inclusive(epoch):
    data = batch()
    plain, _ = sgd_step(build(), data)
    for number, drops in ((1, False), (2, True), (3, True), (4, False)):
        epoch(number)
        after, log_vars = sgd_step(
            _opm(p_exe=1.0, begin_epoch=2, end_epoch=3), data)
        assert ('opm_executed' in log_vars) == drops
        if not drops:
            assert_same_parameters(after, plain)
    epoch(6)  # the authors' warm-up: their epochs 0 to 5
    assert not OPM().active()
    epoch(500)
    assert OPM().active()


def test_draws_are_a_stream_per_run_seed_and_iteration(epoch):
    """The same seed and iteration draw the same (every rank, a resumed
    run); another iteration or seed other draws."""

    def draws(seed, iteration):
        epoch(7, iteration)
        balancer = build(seed=seed, balancer=dict(type='OPM')).balancer
        return torch.rand(8, generator=balancer.drop_generator())

    first = draws(0, 3)
    torch.testing.assert_close(draws(0, 3), first)
    assert not torch.allclose(draws(0, 4), first)
    assert not torch.allclose(draws(1, 3), first)


def test_prediction_is_joint_trainings(epoch):
    assert_predicts_as_joint_training(_opm(p_exe=1.0))


def test_models_it_cannot_apply_to_are_refused_at_build():
    with pytest.raises(
            ValueError, match='OPM reads uni-modal logits.*SumFusion'):
        build(
            fusion=dict(type='SumFusion', out_channels=8),
            balancer=dict(type='OPM'))
    with pytest.raises(
            ValueError, match=r'OPM: q_base=1.5 is not a probability'):
        OPM(q_base=1.5)
    with pytest.raises(
            ValueError, match=r'OPM: p_exe=-0.1 is not a probability'):
        OPM(p_exe=-0.1)
    with pytest.raises(ValueError, match='OPM: lam=-1 must not be negative'):
        OPM(lam=-1)


def test_config_is_joint_training_plus_the_method_fragment():
    fragment = Config.fromfile(osp.join(REPO, 'configs/_base_/methods/opm.py'))
    cfg = Config.fromfile(osp.join(REPO, 'configs/opm_avdigits.py'))
    joint = Config.fromfile(osp.join(REPO, 'configs/jt_avdigits.py'))
    assert cfg.model.balancer == fragment.model.balancer == dict(
        type='OPM',
        q_base=0.5,
        lam=0.5,
        p_exe=0.7,
        begin_epoch=3,
        end_epoch=None)
    cfg.model.pop('balancer')
    assert cfg.model == joint.model


@MODELS.register_module()
class PlaneConvEncoder(BaseEncoder):
    """A 2-D convolution (a 4-d kernel, as the journal code's ResNet-18
    kernels) and a linear layer on a feature vector read as a 1 x w plane.

    Args:
        in_channels (int): Width of the input vector.
    """

    def __init__(self, in_channels: int) -> None:
        super().__init__(feat_dim=4)
        self.conv = nn.Conv2d(1, 2, (1, 3))
        self.fc = nn.Linear(2 * (in_channels - 2), 4)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        planes = x.float()[:, None, None]
        return self.fc(torch.relu(self.conv(planes)).flatten(1))


#: The journal's scripts/train_ogm.sh: alpha 0.8, modulation in its epochs
#: 0 to 60 after the warm-up of epochs 0 to 5, 4-d kernels; ``enhancement``
#: False (their --modulation OGM) so that the step is exact.
JOURNAL_OGM = dict(
    type='OGMGE',
    alpha=0.8,
    begin_epoch=7,
    end_epoch=61,
    modulated_params='conv',
    enhancement=False)


def _journal_ogm_step(model, data, epoch_from_0):
    """The journal's train() for one batch with --use_modulation and
    --modulation OGM, on a copy of the model (SGD)."""
    model = copy.deepcopy(model)
    model.balancer = None
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    data = model.data_preprocessor(copy.deepcopy(data), True)
    label = torch.stack([s.gt_labels.item for s in data['data_samples']])
    label = label.view(-1)
    feats = model.extract_feat(data['inputs'])
    performance_1, performance_2 = _authors_performances(
        model, feats['audio'], feats['visual'], label)
    out = model.cls_head(model.fusion(feats))
    F.cross_entropy(out, label).backward()
    warm_up = 1 if epoch_from_0 <= 5 else 0
    radio_1 = performance_1 / performance_2
    radio_2 = performance_2 / performance_1
    if radio_1 > 1:
        coeff_1, coeff_2 = 1 - torch.tanh(0.8 * F.relu(radio_1)), 1
    else:
        coeff_1, coeff_2 = 1, 1 - torch.tanh(0.8 * F.relu(radio_2))
    if warm_up == 0 and 0 <= epoch_from_0 <= 60:
        for name, parms in model.named_parameters():
            coeff = dict(
                audio=coeff_1, visual=coeff_2).get(
                    name.split('.')[1] if name.startswith('encoders.') else '')
            if coeff is not None and len(parms.grad.size()) == 4:
                parms.grad *= coeff
    optimizer.step()
    return {n: p.detach() for n, p in model.named_parameters()}


def test_the_journals_ogm_is_ogmge_with_its_script_settings(epoch):
    """Its scores, coefficient, kernels and epochs are OGMGE's with
    JOURNAL_OGM (noise aside, which both draw alike but from other
    streams)."""
    encoders = {
        m: dict(type='PlaneConvEncoder', in_channels=w)
        for m, w in WIDTHS.items()
    }
    data = batch()
    # epochs counted from 1 here, from 0 in their code
    for number in (6, 7, 61, 62):
        epoch(number)
        model = build(encoders=encoders, balancer=JOURNAL_OGM)
        expected = _journal_ogm_step(model, data, number - 1)
        after, log_vars = sgd_step(model, data)
        assert_same_parameters(after, expected)
    # The rule is OGM-GE's: 1 - tanh(alpha * ratio) for the dominant one.
    scores = torch.tensor([2.0, 3.0])
    assert modulation_coefficients(scores, 0.8).tolist() == pytest.approx(
        [1.0, 1 - math.tanh(0.8 * 1.5)])


@pytest.mark.slow
def test_ranks_stay_identical_and_equal_one_process_under_ddp(
        avdigits_root, tmp_path):
    """configs/opm_avdigits.py under tools/train.py with 2 processes,
    dropping in both steps (p_exe 1, from the first epoch): the scores are
    summed over the ranks and every rank keeps its rows of the whole
    batch's mask, so both ranks end identical and equal one process that
    sees each step's 10 samples at once (each rank's own scores would give
    other drop probabilities)."""
    log = two_ranks_equal_one_process(
        osp.join(REPO, 'configs/opm_avdigits.py'), tmp_path, lambda size: [
            *whole_batch_options(avdigits_root, size),
            'model.balancer.begin_epoch=1', 'model.balancer.p_exe=1.0'
        ])
    probs = re.findall(r'opm_q_(\w+): ([0-9.]+)', log)
    assert probs and any(float(q) > 0.5 for _, q in probs)
