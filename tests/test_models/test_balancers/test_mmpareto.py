"""MMPareto: the encoder gradients after one step through
BalancedOptimWrapper against a reference computed here as the authors'
``train_epoch`` does (one backward per loss), with two and with three
modalities; gamma's factor; the errors; the config; and under DDP (2
processes) identical ranks that equal one process holding the whole
batch."""
import copy
import json
import os
import os.path as osp
import re
import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F
from balancer_models import batch, build
from balancer_test_hooks import parameter_dump_config
from conftest import REPO, data_root_cfg_options
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.optim import OptimWrapper
from runs import build_runner, free_port, train_tool

from mmdr.engine.optimizers import BalancedOptimWrapper
from mmdr.registry import MODELS
from mmdr.utils import register_all_modules

register_all_modules()

HEAD = dict(type='LinearClsHead', topk=(1, ))
GAMMA = 1.5


def _mmpareto(seed=2, gamma=GAMMA, **overrides):
    """The balancer test model with MMPareto; the audio head is set against
    the fused head's audio slice, so its gradient conflicts with the fused
    one (cosine about -0.8), while the visual ones agree (seed 2)."""
    model = build(
        seed=seed,
        unimodal_head=HEAD,
        balancer=dict(type='MMPareto', gamma=gamma),
        **overrides)
    with torch.no_grad():
        width = model.unimodal_heads['audio'].fc_cls.in_features
        fused = model.cls_head.fc_cls.weight[:, :width]
        gen = torch.Generator().manual_seed(0)
        noise = torch.randn(fused.shape, generator=gen)
        model.unimodal_heads['audio'].fc_cls.weight.copy_(-2 * fused +
                                                          fused.std() * noise)
    return model


def _step(model, data, **wrapper_kwargs):
    """mmengine's train_step through BalancedOptimWrapper (SGD); returns the
    gradients the optimiser stepped with, per name, and the logged values."""
    wrapper = BalancedOptimWrapper(
        optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
        **wrapper_kwargs)
    names = {p: n for n, p in model.named_parameters()}
    stepped = {}

    def capture(optimizer, args, kwargs):
        for group in optimizer.param_groups:
            for p in group['params']:
                stepped[names[p]] = p.grad.clone()

    wrapper.optimizer.register_step_pre_hook(capture)
    torch.manual_seed(5)  # the same dropout masks as the reference
    log_vars = model.train_step(copy.deepcopy(data), wrapper)
    return stepped, log_vars


def _authors_weights(g_mm, g_uni):
    """Their rule: equal weights for a positive cosine, else the min-norm
    point c g_mm + (1 - c) g_uni, c = <g_uni - g_mm, g_uni> / ||g_mm -
    g_uni||^2 (no clipping is reached for conflicting non-zero vectors)."""
    cos = F.cosine_similarity(g_mm, g_uni, dim=0).item()
    if cos > 0:
        return (0.5, 0.5), cos
    c = ((g_uni - g_mm) @ g_uni / (g_mm - g_uni).pow(2).sum()).item()
    assert 0 < c < 1
    return (c, 1 - c), cos


def _reference(model, data):
    """The authors' train_epoch for one batch, on a copy of the model."""
    model = copy.deepcopy(model)
    model.balancer = None
    data = model.data_preprocessor(copy.deepcopy(data), True)
    torch.manual_seed(5)
    feats = model.extract_feat(data['inputs'])
    labels = torch.stack([s.gt_labels.item
                          for s in data['data_samples']]).view(-1)
    losses = dict(
        both=F.cross_entropy(model.cls_head(model.fusion(feats)), labels))
    for m in model.modalities:
        losses[m] = F.cross_entropy(model.unimodal_heads[m](feats[m]), labels)
    grads = {}
    for key, loss in losses.items():
        loss.backward(retain_graph=True)
        grads[key] = {
            n: p.grad.clone()
            for n, p in model.named_parameters() if p.grad is not None
        }
        model.zero_grad()
    weights, cos = {}, {}
    for m in model.modalities:
        names = [
            n for n, _ in model.named_parameters()
            if n.startswith(f'encoders.{m}.')
        ]
        weights[m], cos[m] = _authors_weights(
            torch.cat([grads['both'][n].flatten() for n in names]),
            torch.cat([grads[m][n].flatten() for n in names]))
    sum(losses.values()).backward()
    expected, summed = {}, {}
    for name, p in model.named_parameters():
        summed[name] = p.grad.clone()
        if not name.startswith('encoders.'):
            expected[name] = p.grad.clone()  # heads: the summed loss's
            continue
        m = name.split('.')[1]
        (k_mm, k_uni) = weights[m]
        three_norm = torch.norm(p.grad)
        new_grad = 2 * k_mm * grads['both'][name] + 2 * k_uni * grads[m][name]
        diff = three_norm / torch.norm(new_grad)
        expected[name] = (
            diff * new_grad * GAMMA if diff > 1 else new_grad * GAMMA)
    return expected, weights, cos, summed


def test_one_step_integrates_the_encoder_gradients_as_the_authors():
    model, data = _mmpareto(), batch()
    expected, weights, cos, summed = _reference(model, data)
    # Both of the authors' branches are taken: audio conflicts (min-norm
    # weights), visual agrees (0.5 each).
    assert cos['audio'] < -0.5 and cos['visual'] > 0.1
    assert weights['visual'] == (0.5, 0.5)
    assert abs(weights['audio'][0] - 0.5) > 0.03
    stepped, log_vars = _step(model, data)
    assert stepped.keys() == expected.keys()
    for name, grad in expected.items():
        torch.testing.assert_close(stepped[name], grad, msg=name)
    # Agreeing: gamma times the summed-loss gradient; conflicting: another
    # direction.
    for name, grad in summed.items():
        if name.startswith('encoders.visual.'):
            torch.testing.assert_close(stepped[name], GAMMA * grad)
        if name.startswith('encoders.audio.') and grad.dim() == 2:
            cos_to_summed = F.cosine_similarity(
                stepped[name].flatten(), grad.flatten(), dim=0)
            assert cos_to_summed < 0.999, name
    for m in model.modalities:
        assert log_vars[f'mmpareto_cos_{m}'] == pytest.approx(cos[m], rel=1e-4)
        assert log_vars[f'mmpareto_mm_weight_{m}'] == pytest.approx(
            weights[m][0], rel=1e-4)
    # The optimised loss is the fused plus both uni-modal losses.
    assert log_vars['loss'].item() == pytest.approx(
        sum(log_vars[k].item() for k in ('loss_cls', 'loss_unimodal_audio',
                                         'loss_unimodal_visual')),
        rel=1e-6)
    # Nothing of this batch is left for a later step.
    assert model.balancer._directions == []


def test_three_modalities_each_encoder_against_its_own_loss():
    encoders = dict(
        audio=dict(type='MLPEncoder', in_channels=6, hidden_channels=(8, 7)),
        visual=dict(type='MLPEncoder', in_channels=5, hidden_channels=(9, )),
        text=dict(type='MLPEncoder', in_channels=3, hidden_channels=(4, )))
    model = _mmpareto(encoders=encoders)
    data = batch()
    gen = torch.Generator().manual_seed(3)
    labels = [s.gt_labels.item for s in data['data_samples']]
    data['inputs']['text'] = [
        torch.randn(3, generator=gen) + y.float() for y in labels
    ]
    expected, weights, _, _ = _reference(model, data)
    assert set(weights) == {'audio', 'visual', 'text'}
    stepped, log_vars = _step(model, data)
    for name, grad in expected.items():
        torch.testing.assert_close(stepped[name], grad, msg=name)
    assert {k
            for k in log_vars if k.startswith('loss_unimodal_')
            } == {f'loss_unimodal_{m}'
                  for m in ('audio', 'visual', 'text')}


def test_gamma_scales_the_integrated_encoder_gradients():
    """Every encoder gradient is gamma times the rescaled direction; the
    heads keep the summed-loss gradient. The default is the authors' 1.5."""
    assert MODELS.build(dict(type='MMPareto')).gamma == GAMMA == 1.5
    data = batch()
    default, _ = _step(_mmpareto(), data)
    smaller, log_vars = _step(_mmpareto(gamma=0.5), data)
    # Both branches of the weights are taken (see the reference test).
    assert log_vars['mmpareto_cos_audio'] < 0 < log_vars['mmpareto_cos_visual']
    assert any(n.startswith('encoders.') for n in default)
    for name, grad in default.items():
        factor = 0.5 / GAMMA if name.startswith('encoders.') else 1.0
        torch.testing.assert_close(smaller[name], factor * grad, msg=name)


def test_errors_are_named_before_training():
    with pytest.raises(
            ValueError, match='MMPareto needs one linear head per encoder'):
        build(balancer=dict(type='MMPareto'))
    with pytest.raises(ValueError, match='MMPareto: gamma=0 must be'):
        build(unimodal_head=HEAD, balancer=dict(type='MMPareto', gamma=0))
    model = _mmpareto()
    plain = OptimWrapper(optimizer=torch.optim.SGD(model.parameters(), 1))
    with pytest.raises(RuntimeError, match="optim_wrapper.type='Balanced"):
        model.train_step(batch(), plain)
    with pytest.raises(
            ValueError, match='optim_wrapper.accumulative_counts=2'):
        _step(model, batch(), accumulative_counts=2)


def test_config_is_joint_training_plus_the_method_fragment():
    fragment = Config.fromfile(
        osp.join(REPO, 'configs/_base_/methods/mmpareto.py'))
    cfg = Config.fromfile(osp.join(REPO, 'configs/mmpareto_avdigits.py'))
    joint = Config.fromfile(osp.join(REPO, 'configs/jt_avdigits.py'))
    assert cfg.model.balancer == fragment.model.balancer == dict(
        type='MMPareto', gamma=1.5)
    assert cfg.model.unimodal_head == fragment.model.unimodal_head
    assert cfg.model.encoders == joint.model.encoders
    assert cfg.optim_wrapper.type == 'BalancedOptimWrapper'


def _ddp_options(data_root, batch_size):
    """Two SGD steps on the 20 training samples; the SmallCNNs without
    BatchNorm (whose batch statistics would differ between one process's
    whole batch and each rank's half), so 2 x 5 per step is exactly the
    same gradient as 10 in one process (up to rounding)."""
    return [
        *data_root_cfg_options(data_root),
        'train_cfg.max_epochs=1',
        f'train_dataloader.batch_size={batch_size}',
        'optim_wrapper.optimizer.type=SGD',
        'optim_wrapper.optimizer.lr=0.1',
        'model.encoders.audio.backbone.norm_cfg=None',
        'model.encoders.visual.backbone.norm_cfg=None',
        # Seed 4: min-norm weights for both encoders in the first step,
        # for one of them in the second.
        'randomness.seed=4',
        'default_hooks.logger.interval=1',
    ]


@pytest.mark.slow
def test_ranks_stay_identical_and_equal_one_process_under_ddp(
        avdigits_root, tmp_path):
    """configs/mmpareto_avdigits.py under tools/train.py with 2 processes
    (torchrun, gloo): the per-loss gradients are averaged over the ranks,
    so both ranks take the same weights and end with the same parameters;
    and these equal one process that sees each step's 10 samples at once.
    The per-loss gradients come from autograd.grad inside DDP's forward:
    had that fired DDP's hooks, the run would fail ("mark a variable ready
    only once") or reduce the wrong gradients."""
    config = parameter_dump_config(
        tmp_path, osp.join(REPO, 'configs/mmpareto_avdigits.py'))
    two = tmp_path / 'two'
    result = train_tool(
        two, _ddp_options(avdigits_root, 5), nproc=2, config=config)
    log = result.stdout + result.stderr
    assert 'Distributed training: True' in log
    assert 'mmpareto_cos_visual' in log
    ranks = [torch.load(two / f'rank{r}_parameters.pth') for r in (0, 1)]
    assert ranks[0].keys() == ranks[1].keys()
    assert any(k.startswith('unimodal_heads.') for k in ranks[0])
    for name, value in ranks[0].items():
        assert torch.equal(value, ranks[1][name]), name

    # Both of the authors' branches ran: fused-loss weights other than 0.5.
    weights = re.findall(r'mmpareto_mm_weight_(\w+): ([0-9.]+)', log)
    assert {m for m, w in weights if w != '0.5000'} == {'audio', 'visual'}

    one = tmp_path / 'one'
    runner = build_runner(config, one, _ddp_options(avdigits_root, 10))
    initial = _InitialParameters()
    runner.register_hook(initial)
    runner.train()
    single = torch.load(one / 'rank0_parameters.pth')
    assert single.keys() == ranks[0].keys()
    for name, value in single.items():
        # Equal up to the rounding of 2 half-batch means against one mean;
        # far apart compared to what the two steps changed.
        gap = (ranks[0][name] - value).abs().max()
        change = (value - initial.state[name]).abs().max()
        assert gap < 1e-6 and gap < 1e-3 * change, (name, gap, change)


class _InitialParameters(Hook):
    """The parameters as training starts (after init_weights)."""

    def before_train(self, runner) -> None:
        self.state = {
            n: p.detach().clone()
            for n, p in runner.model.named_parameters()
        }


#: Two ranks of plain DDP: is a gradient taken with autograd.grad after the
#: forward (when DDP's hooks are armed) left out of DDP's reduction? As a
#: control, the authors' extra backward pass does take the reduction, and
#: the real backward then stays this rank's own gradient.
DDP_HOOK_WORKER = """\
import json
import os
import sys

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

dist.init_process_group('gloo')
torch.manual_seed(0)
net = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Linear(3, 2))
ddp = DistributedDataParallel(net)
params = list(net.parameters())
gen = torch.Generator().manual_seed(dist.get_rank())
x = torch.randn(6, 4, generator=gen)
# This rank's gradient, and the average DDP's backward should produce.
local = torch.autograd.grad(net(x).pow(2).mean(), params)
average = [g.clone() for g in local]
for g in average:
    dist.all_reduce(g)
    g /= dist.get_world_size()

result = {}
for first in ('autograd.grad', 'backward'):
    net.zero_grad()
    loss = ddp(x).pow(2).mean()  # DDP's hooks are armed after its forward
    if first == 'autograd.grad':
        torch.autograd.grad(loss, params, retain_graph=True)
        result['untouched'] = all(p.grad is None for p in params)
    else:  # the authors' per-loss backward: it fires the hooks
        loss.backward(retain_graph=True)
        net.zero_grad()
    loss.backward()
    result[first] = [
        kind for kind, ref in (('average', average), ('local', local))
        if all(torch.allclose(p.grad, g) for p, g in zip(params, ref))
    ]
with open(f'{sys.argv[1]}/rank{dist.get_rank()}.json', 'w') as f:
    json.dump(result, f)
# Both ranks have written their results. The interpreter's teardown with
# DDP's reducer and gloo's threads alive can abort a rank ("terminate called
# without an active exception") after the work is done: leave without it.
dist.barrier()
sys.stdout.flush()
os._exit(0)
"""


@pytest.mark.slow
def test_autograd_grad_leaves_ddp_reduction_to_the_backward(tmp_path):
    worker = tmp_path / 'worker.py'
    worker.write_text(DDP_HOOK_WORKER)
    result = subprocess.run([
        sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node=2',
        f'--master_port={free_port()}',
        str(worker),
        str(tmp_path)
    ],
                            capture_output=True,
                            text=True,
                            env=dict(os.environ, OMP_NUM_THREADS='1'))
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    ranks = [json.load(open(tmp_path / f'rank{r}.json')) for r in (0, 1)]
    assert ranks == [
        dict(
            untouched=True,
            **{
                'autograd.grad': ['average'],
                'backward': ['local']
            })
    ] * 2
