"""Greedy: the connection against the authors' MMTM, the re-balancing
choice, training steps through BalancedOptimWrapper against the authors'
loop written here from their code, prediction, the documented effect of
every argument, the refusals, and identical replicas under DDP (2
processes)."""
import copy
import os.path as osp
from types import SimpleNamespace
from unittest import mock

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from balancer_models import batch, build
from balancer_test_hooks import parameter_dump_config
from conftest import REPO, data_root_cfg_options
from mmengine.model import MMDistributedDataParallel
from mmengine.optim import OptimWrapper
from runs import train_tool

from mmdr.engine.optimizers import BalancedOptimWrapper
from mmdr.models.balancers import Greedy
from mmdr.models.utils.greedy import (MMTMConnection, RebalancingState,
                                      next_rebalancing_state, speed_difference)
from mmdr.utils import register_all_modules

register_all_modules()

UNIMODAL_HEAD = dict(type='LinearClsHead', topk=(1, ))


def _greedy(model_overrides=None, **kwargs):
    """The balancer test model with Greedy; re-balancing from epoch 1."""
    kwargs.setdefault('starting_epoch', 1)
    return build(
        unimodal_head=UNIMODAL_HEAD,
        balancer=dict(type='Greedy', **kwargs),
        **(model_overrides or {}))


class AuthorsMMTM(nn.Module):
    """``MMTM_mitigate`` of the authors' ``src/balanced_mmtm.py``
    (``SEonly=False``, ``shareweight=False``) on any feature maps."""

    def __init__(self, dim_visual, dim_skeleton, ratio):
        super().__init__()
        dim = dim_visual + dim_skeleton
        dim_out = int(2 * dim / ratio)
        self.fc_squeeze = nn.Linear(dim, dim_out)
        self.fc_visual = nn.Linear(dim_out, dim_visual)
        self.fc_skeleton = nn.Linear(dim_out, dim_skeleton)
        self.running_avg_weight_visual = torch.zeros(dim_visual)
        self.running_avg_weight_skeleton = torch.zeros(dim_skeleton)
        self.step = 0

    def forward(self,
                visual,
                skeleton,
                curation_mode=False,
                caring_modality=0):
        squeeze_array = []
        for tensor in [visual, skeleton]:
            tview = tensor.view(tensor.shape[:2] + (-1, ))
            squeeze_array.append(torch.mean(tview, dim=-1))
        excitation = torch.relu(self.fc_squeeze(torch.cat(squeeze_array, 1)))
        vis_out = torch.sigmoid(self.fc_visual(excitation))
        sk_out = torch.sigmoid(self.fc_skeleton(excitation))
        self.running_avg_weight_visual = (
            vis_out.mean(0) +
            self.running_avg_weight_visual * self.step).detach() / (
                self.step + 1)
        # The authors' code averages vis_out here as well (a slip that
        # Greedy does not follow; see its docstring).
        self.running_avg_weight_skeleton = (
            sk_out.mean(0) +
            self.running_avg_weight_skeleton * self.step).detach() / (
                self.step + 1)
        self.step += 1
        if curation_mode and caring_modality == 0:
            vis_out = torch.stack(vis_out.shape[0] *
                                  [self.running_avg_weight_visual])
        if curation_mode and caring_modality == 1:
            sk_out = torch.stack(sk_out.shape[0] *
                                 [self.running_avg_weight_skeleton])
        vis_out = vis_out.view(vis_out.shape + (1, ) *
                               (visual.ndim - vis_out.ndim))
        sk_out = sk_out.view(sk_out.shape + (1, ) *
                             (skeleton.ndim - sk_out.ndim))
        return visual * vis_out, skeleton * sk_out


def _authors_mmtm_like(connection):
    a_dim, v_dim = (
        connection.excite[m].out_features for m in ('audio', 'visual'))
    mmtm = AuthorsMMTM(a_dim, v_dim, 4)
    mmtm.fc_squeeze.load_state_dict(connection.squeeze.state_dict())
    mmtm.fc_visual.load_state_dict(connection.excite['audio'].state_dict())
    mmtm.fc_skeleton.load_state_dict(connection.excite['visual'].state_dict())
    return mmtm


def test_the_connection_on_pooled_features_is_the_authors_last_mmtm():
    """On feature maps that are then average-pooled (the authors' mmtm4
    before ResNet's avgpool), the authors' MMTM gives the connection's
    gated pooled features, in a normal and a re-balancing step."""
    torch.manual_seed(0)
    connection = MMTMConnection(dict(audio=6, visual=5))
    mmtm = _authors_mmtm_like(connection)
    maps = dict(audio=torch.randn(3, 6, 4, 2), visual=torch.randn(3, 5, 3, 3))
    pooled = {m: x.flatten(2).mean(2) for m, x in maps.items()}
    for fixed, caring in ((None, 0), ('visual', 1), ('audio', 0)):
        gated, _ = connection(pooled, fixed=fixed, update_averages=True)
        out = mmtm(maps['audio'], maps['visual'], fixed is not None, caring)
        for m, x in zip(('audio', 'visual'), out):
            torch.testing.assert_close(gated[m], x.flatten(2).mean(2))
    torch.testing.assert_close(
        connection.average_gate('audio'), mmtm.running_avg_weight_visual)
    torch.testing.assert_close(
        connection.average_gate('visual'), mmtm.running_avg_weight_skeleton)
    assert int(connection.num_averaged) == 3


def test_rebalancing_state_follows_the_authors_callback():
    idle = RebalancingState(False, 0, 0)
    # |d| > epsilon: modality 0's gate is fixed when d > 0, 1's when d < 0.
    assert next_rebalancing_state(idle, 0.2, 0.1, 3) == (True, 0, 0)
    assert next_rebalancing_state(idle, -0.2, 0.1, 3) == (True, 1, 0)
    assert next_rebalancing_state(idle, 0.1, 0.1, 3) == (False, 0, 0)
    assert next_rebalancing_state(idle, float('nan'), 0.1, 3) == (False, 0, 0)
    # A window counts its steps and ends after window_size of them.
    state = RebalancingState(True, 1, 0)
    state = next_rebalancing_state(state, None, 0.1, 2)
    assert state == (True, 1, 1)
    assert next_rebalancing_state(state, None, 0.1, 2) == (False, 1, 2)
    assert speed_difference([1.0, 10.0], [10.0, 1.0]) == pytest.approx(-2.0)
    assert speed_difference([0.0, 1.0], [1.0, 1.0]) == float('-inf')


class AuthorsModel(nn.Module):
    """``MMTM_MVCNN`` of the authors' ``src/model.py`` with the balancer
    test model's encoders and heads as the two branches, and the MMTM on
    their pooled features."""

    def __init__(self, model):
        super().__init__()
        self.net_view_0 = nn.ModuleDict(
            dict(
                encoder=copy.deepcopy(model.encoders['audio']),
                fc=copy.deepcopy(model.unimodal_heads['audio'])))
        self.net_view_1 = nn.ModuleDict(
            dict(
                encoder=copy.deepcopy(model.encoders['visual']),
                fc=copy.deepcopy(model.unimodal_heads['visual'])))
        self.mmtm = _authors_mmtm_like(model.balancer.connection)

    def forward(self, inputs, curation_mode, caring_modality):
        x_0 = self.net_view_0['encoder'](inputs['audio'])
        x_1 = self.net_view_1['encoder'](inputs['visual'])
        x_0, x_1 = self.mmtm(x_0, x_1, curation_mode, caring_modality)
        x_0, x_1 = self.net_view_0['fc'](x_0), self.net_view_1['fc'](x_1)
        return (x_0 + x_1) / 2, [x_0, x_1]


class AuthorsCallback:
    """``Bias_Mitigation_Strong`` of the authors' ``src/callbacks.py``."""

    def __init__(self, model, epsilon, curation_windowsize):
        self.model, self.epsilon = model, epsilon
        self.curation_windowsize = curation_windowsize
        self.branchnames = ['net_view_0', 'net_view_1']
        self.MMTMnames = ['visual', 'skeleton']
        self.M_bypass_modal_0 = self.M_bypass_modal_1 = 0
        self.M_main_modal_0 = self.M_main_modal_1 = 0
        self.curation_mode, self.caring_modality = False, None
        self.unlock = True  # starting_epoch 1

    def compute_BDR(self):
        wn_main, wn_bypass = [0] * 2, [0] * 2
        gn_main, gn_bypass = [0] * 2, [0] * 2
        for name, parameter in self.model.named_parameters():
            wn = (parameter**2).sum().item()
            gn = (parameter.grad.data**2).sum().item()
            if 'mmtm' in name:
                shared = True
                for ind, modal in enumerate(self.MMTMnames):
                    if modal in name:
                        wn_bypass[ind] += wn
                        gn_bypass[ind] += gn
                        shared = False
                if shared:
                    for ind in range(2):
                        wn_bypass[ind] += wn
                        gn_bypass[ind] += gn
            else:
                for ind, modal in enumerate(self.branchnames):
                    if modal in name:
                        wn_main[ind] += wn
                        gn_main[ind] += gn
        self.M_bypass_modal_0 += gn_bypass[0] / wn_bypass[0]
        self.M_bypass_modal_1 += gn_bypass[1] / wn_bypass[1]
        self.M_main_modal_0 += gn_main[0] / wn_main[0]
        self.M_main_modal_1 += gn_main[1] / wn_main[1]
        BDR_0 = np.log10(self.M_bypass_modal_0 / self.M_main_modal_0)
        BDR_1 = np.log10(self.M_bypass_modal_1 / self.M_main_modal_1)
        return BDR_0 - BDR_1

    def on_backward_end(self):
        if not self.curation_mode:
            self.d_BDR = self.compute_BDR()
            if abs(self.d_BDR) > self.epsilon:
                self.curation_mode = True
                self.curation_step = 0
                self.caring_modality = 1 if np.sign(self.d_BDR) == -1 else 0
            else:
                self.curation_mode, self.caring_modality = False, 0
        else:
            self.curation_step += 1
            if self.curation_step == self.curation_windowsize:
                self.curation_mode = False


def _adam(params):
    return torch.optim.Adam(params, lr=0.01)


def _authors_loop(model, batches, optimizer, window_size, epsilon=0.01):
    """The authors' Model_.train_loop with their blend_loss, on a copy:
    the parameters after the steps and whether each step re-balanced."""
    net = AuthorsModel(model)
    optimizer = optimizer(net.parameters())
    callback = AuthorsCallback(net, epsilon, window_size)
    modes = []
    for i, data in enumerate(batches):
        data = model.data_preprocessor(copy.deepcopy(data), True)
        labels = torch.stack([s.gt_labels.item for s in data['data_samples']])
        # Their torch's zero_grad() zeroes gradients, it does not clear them.
        optimizer.zero_grad(set_to_none=False)
        torch.manual_seed(100 + i)  # the dropout masks of mmdr's step
        modes.append(callback.curation_mode)
        _, pred_y = net(data['inputs'], callback.curation_mode,
                        callback.caring_modality)
        loss = sum(F.cross_entropy(y, labels.view(-1)) for y in pred_y)
        loss.backward()
        callback.on_backward_end()
        optimizer.step()
    return net, modes, callback


def _mmdr_steps(model, batches, optimizer=_adam):
    wrapper = BalancedOptimWrapper(optimizer=optimizer(model.parameters()))
    modes = []
    for i, data in enumerate(batches):
        torch.manual_seed(100 + i)
        log_vars = model.train_step(copy.deepcopy(data), wrapper)
        modes.append(bool(log_vars['greedy_rebalancing']))
    return modes


@pytest.mark.parametrize(
    'optimizer', [
        lambda params: torch.optim.Adam(params, lr=0.05), lambda params: torch.
        optim.SGD(params, lr=0.1, momentum=0.9, weight_decay=1e-3)
    ],
    ids=['adam', 'sgd-momentum'])
def test_training_steps_equal_the_authors_loop(optimizer, epoch):
    """Ten steps with windows of 2: the same re-balancing steps and
    bit-identical parameters and running means as the authors' loop; their
    zeroed gradients move the unused excitation layer through Adam's
    moments or SGD's momentum and weight decay, and so does mmdr's zero
    gradient."""
    model = _greedy(window_size=2)
    batches = [batch(seed=s) for s in range(10)]
    net, expected_modes, callback = _authors_loop(model, batches, optimizer, 2)
    modes = _mmdr_steps(model, batches, optimizer)
    assert modes == expected_modes
    assert modes.count(True) >= 4  # windows of both lengths ran
    pairs = {
        'encoders.audio': net.net_view_0['encoder'],
        'unimodal_heads.audio': net.net_view_0['fc'],
        'encoders.visual': net.net_view_1['encoder'],
        'unimodal_heads.visual': net.net_view_1['fc'],
        'balancer.connection.squeeze': net.mmtm.fc_squeeze,
        'balancer.connection.excite.audio': net.mmtm.fc_visual,
        'balancer.connection.excite.visual': net.mmtm.fc_skeleton,
    }
    state = model.state_dict()
    for prefix, module in pairs.items():
        for name, value in module.state_dict().items():
            assert torch.equal(state[f'{prefix}.{name}'], value), name
    connection = model.balancer.connection
    assert torch.equal(
        connection.average_gate('audio'), net.mmtm.running_avg_weight_visual)
    assert torch.equal(
        connection.average_gate('visual'),
        net.mmtm.running_avg_weight_skeleton)
    balancer = model.balancer
    assert balancer.bypass_speed.tolist() == [
        callback.M_bypass_modal_0, callback.M_bypass_modal_1
    ]
    assert balancer.main_speed.tolist() == [
        callback.M_main_modal_0, callback.M_main_modal_1
    ]
    assert float(balancer.speed_difference) == callback.d_BDR


def test_prediction_gates_from_the_batch_and_averages_the_heads(epoch):
    """Even while re-balancing, prediction uses every gate from the batch,
    leaves the running means alone and scores with the mean of the two
    heads' logits."""
    model = _greedy()
    _mmdr_steps(model, [batch(seed=0)])
    model.balancer._set_state(RebalancingState(True, 1, 0))
    averages = copy.deepcopy(model.balancer.connection.state_dict())
    model.eval()
    data = model.data_preprocessor(batch(seed=3), False)
    with torch.no_grad():
        scores = model(data['inputs'], mode='tensor')
        feats = model.extract_feat(data['inputs'])
        gated, _ = model.balancer.connection(feats)
        expected = (model.unimodal_heads['audio'](gated['audio']) +
                    model.unimodal_heads['visual'](gated['visual'])) / 2
    torch.testing.assert_close(scores, expected)
    for name, value in model.balancer.connection.state_dict().items():
        assert torch.equal(value, averages[name]), name


def _modes(model, steps=9):
    return _mmdr_steps(model, [batch(seed=s) for s in range(steps)])


@pytest.mark.parametrize('window_size, pattern', [(2, 'ottottott'),
                                                  (3, 'otttottto')])
def test_window_size_counts_the_rebalancing_steps(window_size, pattern, epoch):
    """epsilon 0: every measured step starts a window of window_size
    re-balancing steps ('t'); then one normal step ('o') measures again."""
    modes = _modes(_greedy(epsilon=0.0, window_size=window_size))
    assert ''.join('t' if m else 'o' for m in modes) == pattern


def test_epsilon_is_the_threshold_and_the_sign_picks_the_fixed_gate(epoch):
    model = _greedy(epsilon=1e9)
    assert _modes(model) == [False] * 9
    assert float(model.balancer.speed_difference) != 0  # measured, too small
    for threshold in (0.0, 0.01):
        model = _greedy(epsilon=threshold, window_size=1)
        wrapper = BalancedOptimWrapper(optimizer=_adam(model.parameters()))
        model.train_step(batch(seed=0), wrapper)
        difference = float(model.balancer.speed_difference)
        assert abs(difference) > threshold
        fixed = 'audio' if difference > 0 else 'visual'
        log_vars = model.train_step(batch(seed=1), wrapper)
        assert log_vars['greedy_rebalancing'] == 1
        assert log_vars[f'greedy_fixed_{fixed}'] == 1
        other = 'visual' if fixed == 'audio' else 'audio'
        assert log_vars[f'greedy_fixed_{other}'] == 0


def test_starting_epoch_delays_rebalancing_not_the_measurement(epoch):
    model = _greedy(epsilon=0.0, starting_epoch=2)
    assert _modes(model, 3) == [False] * 3
    assert (model.balancer.bypass_speed > 0).all()
    first_epoch_speeds = model.balancer.main_speed.clone()
    epoch(2)
    assert _modes(model, 3) == [False, True, True]
    assert (model.balancer.main_speed > first_epoch_speeds).all()


def test_the_random_variant_draws_every_step_from_seed_and_iteration(
        epoch, monkeypatch):
    """Uniform among a normal step and a re-balancing step of either
    modality, from the run's seed and the iteration alone; nothing is
    drawn before starting_epoch and no speed is measured."""
    iteration = iter(range(1000))
    monkeypatch.setattr(Greedy, 'current_iter',
                        staticmethod(lambda: next(iteration)))

    def draws(seed):
        balancer = build(
            seed=seed,
            unimodal_head=UNIMODAL_HEAD,
            balancer=dict(type='Greedy', variant='random')).balancer
        return [tuple(balancer._draw_state()) for _ in range(60)]

    first = draws(seed=0)
    assert set(first) == {(False, 0, 0), (True, 0, 0), (True, 1, 0)}
    iteration = iter(range(1000))
    assert draws(seed=0) == first
    assert draws(seed=1) != first
    iteration = iter(range(1000))
    model = _greedy(variant='random', epsilon=0.0, starting_epoch=2)
    assert _modes(model, 3) == [False] * 3
    assert not model.balancer.main_speed.any()  # never measured
    epoch(2)
    iteration = iter(range(3, 1000))
    wrapper = BalancedOptimWrapper(optimizer=_adam(model.parameters()))
    model.train_step(batch(seed=0), wrapper)  # draws at iteration 3
    assert tuple(model.balancer.state) == first[3]


@pytest.mark.parametrize('reduction, hidden', [(4, 8), (2, 16), (0.5, 64)])
def test_reduction_sets_the_connections_width(reduction, hidden):
    """int(2 * (7 + 9) / reduction) hidden units (the encoders' widths)."""
    connection = _greedy(reduction=reduction).balancer.connection
    assert connection.hidden_dim == hidden
    assert connection.squeeze.weight.shape == (hidden, 16)
    assert connection.excite['visual'].weight.shape == (9, hidden)


def test_models_it_cannot_train_are_refused_at_build():
    with pytest.raises(
            ValueError, match='Greedy needs one linear head per encoder'):
        build(balancer=dict(type='Greedy'))
    model = _greedy()
    model.encoders['visual'].requires_grad_(False)
    with pytest.raises(
            ValueError,
            match="the encoder of 'visual' has no parameter with "
            'requires_grad'):
        model.balancer.check_model(model)
    with pytest.raises(ValueError, match='reduction=100 leaves no hidden'):
        _greedy(reduction=100)


@pytest.mark.parametrize('kwargs, message', [
    (dict(variant='greedy'), "variant='greedy' is not one of"),
    (dict(epsilon=-0.1), 'epsilon=-0.1 must not be negative'),
    (dict(window_size=0), 'window_size=0 must be an int >= 1'),
    (dict(starting_epoch=1.5), 'starting_epoch=1.5 must be an int'),
    (dict(reduction=0), 'reduction=0 must be positive'),
])
def test_bad_arguments_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=f'Greedy: {message}'):
        Greedy(**kwargs)


def test_wrappers_it_cannot_train_with_are_refused_at_the_first_step():
    model = _greedy()
    plain = OptimWrapper(optimizer=torch.optim.SGD(model.parameters(), 1))
    with pytest.raises(RuntimeError, match="optim_wrapper.type='Balanced"):
        model.train_step(batch(), plain)
    accumulating = BalancedOptimWrapper(
        optimizer=torch.optim.SGD(model.parameters(), 1),
        accumulative_counts=2)
    with pytest.raises(
            ValueError, match='accumulative_counts=2 accumulates 2 batches'):
        model.train_step(batch(), accumulating)


@pytest.mark.slow
def test_replicas_stay_identical_under_ddp(avdigits_root, tmp_path):
    """2 processes, 5 steps of 2 samples each, re-balancing at every
    measured step (epsilon 0, windows of 2): the gates' batch means are
    averaged over the ranks and the speeds come from DDP's averaged
    gradients, so both ranks end with the same parameters, running means
    and re-balancing state; without the average the ranks' running means
    differ (each sees half the batch)."""
    config = parameter_dump_config(
        tmp_path, osp.join(REPO, 'configs/greedy_avdigits.py'))
    work = tmp_path / 'work'
    result = train_tool(
        work, [
            *data_root_cfg_options(avdigits_root), 'train_cfg.max_epochs=1',
            'train_dataloader.batch_size=2', 'model.balancer.starting_epoch=1',
            'model.balancer.epsilon=0.0', 'model.balancer.window_size=2'
        ],
        nproc=2,
        config=config)
    assert 'greedy_rebalancing' in result.stdout + result.stderr
    ranks = [torch.load(work / f'rank{r}_parameters.pth') for r in (0, 1)]
    assert ranks[0].keys() == ranks[1].keys()
    # Steps: normal, window, window, normal, window (its first step).
    assert int(ranks[0]['balancer.connection.num_averaged']) == 5
    assert bool(ranks[0]['balancer.rebalancing'])
    assert int(ranks[0]['balancer.rebalancing_step']) == 1
    for name, value in ranks[0].items():
        assert torch.equal(value, ranks[1][name]), name


@pytest.mark.parametrize('find_unused', [True, False])
def test_ddp_without_find_unused_parameters_is_refused(find_unused):
    model = build(
        unimodal_head=dict(type='LinearClsHead'), balancer=dict(type='Greedy'))
    ddp = mock.Mock(spec=MMDistributedDataParallel)
    ddp.find_unused_parameters = find_unused
    runner = SimpleNamespace(model=ddp)
    if find_unused:
        model.balancer.before_train_epoch(runner)
    else:
        with pytest.raises(
                RuntimeError,
                match='Greedy leaves some parameters without gradients in a '
                'step, which DDP refuses unless find_unused_parameters=True'):
            model.balancer.before_train_epoch(runner)
