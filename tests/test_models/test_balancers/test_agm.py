"""AGM: the Shapley outputs and coefficients against the authors' formulas,
two training steps (two and three modalities) through BalancedOptimWrapper
against the authors' GradMod and train loop re-implemented here, the
documented effect of every argument, the refusals at build, and identical
replicas under DDP (2 processes)."""
import copy
import math
import os.path as osp
from itertools import combinations

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from balancer_models import (THREE_ENCODERS, WIDTHS, assert_same_parameters,
                             batch, build)
from balancer_test_hooks import parameter_dump_config
from conftest import REPO, data_root_cfg_options
from mmengine.optim import OptimWrapper
from runs import train_tool

from mmdr.engine.optimizers import BalancedOptimWrapper
from mmdr.models.balancers import AGM
from mmdr.models.balancers.agm import (modulation_coefficients,
                                       shapley_contributions,
                                       update_running_average)
from mmdr.utils import register_all_modules

register_all_modules()


def _coalitions(modalities, seed=0):
    g = torch.Generator().manual_seed(seed)
    return {
        frozenset(c): torch.randn(4, 3, generator=g)
        for size in range(1,
                          len(modalities) + 1)
        for c in combinations(modalities, size)
    }


def test_shapley_outputs_are_the_authors_modality_formulas():
    v = _coalitions(('a', 'v'))
    total, only_a, only_v = v[frozenset('av')], v[frozenset('a')], v[frozenset(
        'v')]
    out = shapley_contributions(v, ('a', 'v'))
    # Modality_Audio / Modality_Visual: pad_visual_out holds audio alone.
    torch.testing.assert_close(out['a'], 0.5 * (total - only_v + only_a))
    torch.testing.assert_close(out['v'], 0.5 * (total - only_a + only_v))

    v = _coalitions(('a', 'v', 't'))
    s = {k: v[frozenset(k)] for k in ('avt', 'av', 'at', 'vt', 'a', 'v', 't')}
    out = shapley_contributions(v, ('a', 'v', 't'))
    # URFunny_net.py's Modality_Text/Audio/Visual (pad_x_out: x padded).
    text = (s['avt'] - s['av'] + s['t']) / 3 + (s['at'] - s['v'] + s['vt'] -
                                                s['a']) / 6
    audio = (s['avt'] - s['vt'] + s['a']) / 3 + (s['at'] - s['v'] + s['av'] -
                                                 s['t']) / 6
    visual = (s['avt'] - s['at'] + s['v']) / 3 + (s['vt'] - s['a'] + s['av'] -
                                                  s['t']) / 6
    torch.testing.assert_close(out['t'], text)
    torch.testing.assert_close(out['a'], audio)
    torch.testing.assert_close(out['v'], visual)
    # Efficiency: the outputs add up to the full model's logits.
    torch.testing.assert_close(out['a'] + out['v'] + out['t'], s['avt'])


def test_coefficients_follow_the_authors_code():
    # CREMA-D: exp(alpha * min(exp(avg_v - avg_a) - exp(s_v - s_a), 10)).
    scores = torch.tensor([1.2, 0.7], dtype=torch.float64)
    averages = torch.tensor([0.9, 1.0], dtype=torch.float64)
    coeffs = modulation_coefficients(scores, averages, 0.5, 10)
    expected = [
        math.exp(0.5 * min(math.exp(1.0 - 0.9) - math.exp(0.7 - 1.2), 10)),
        math.exp(0.5 * min(math.exp(0.9 - 1.0) - math.exp(1.2 - 0.7), 10))
    ]
    assert coeffs.tolist() == pytest.approx(expected, rel=1e-12)
    assert coeffs.dtype == torch.float64
    # The cap: a gap of exp(5 - 0) - exp(0) > 10 enters as 10.
    averages = torch.tensor([0.0, 5.0])
    coeffs = modulation_coefficients(torch.zeros(2), averages, 0.1, 10)
    assert coeffs[0].item() == pytest.approx(math.exp(0.1 * 10))
    uncapped = modulation_coefficients(torch.zeros(2), averages, 0.1, None)
    assert uncapped[0].item() == pytest.approx(
        math.exp(0.1 * (math.exp(5.0) - 1)))
    # UR-Funny: exp((mean - s_i) * 3 / 2), cap 7.
    s = [0.4, 1.1, 0.8]
    avg = [0.6, 0.6, 0.9]
    coeffs = modulation_coefficients(
        torch.tensor(s), torch.tensor(avg), 2.0, 7)
    mean, opt_mean = sum(s) / 3, sum(avg) / 3
    expected = [
        math.exp(2.0 * min(
            math.exp((opt_mean - a) * 1.5) - math.exp((mean - x) * 1.5), 7))
        for x, a in zip(s, avg)
    ]
    assert coeffs.tolist() == pytest.approx(expected, rel=1e-6)


def test_running_average_is_the_mean_of_all_batches():
    average = torch.zeros(2, dtype=torch.float64)
    values = [torch.tensor([1.0, 4.0]), torch.tensor([2.0, 0.0])]
    values.append(torch.tensor([6.0, 2.0]))
    for t, value in enumerate(values, 1):
        average = update_running_average(average, value.double(), t)
    assert average.tolist() == pytest.approx([3.0, 2.0])


# ---------------------------------------------------------------------------
# one step against the authors' loop
# ---------------------------------------------------------------------------


def _agm(seed=0, **kwargs):
    overrides = kwargs.pop('model', {})
    kwargs.setdefault('end_epoch', 99)
    return build(seed=seed, balancer=dict(type='AGM', **kwargs), **overrides)


def _train(model, batches, lr=0.5):
    """mmengine's train_step on each batch with SGD: the parameters and
    the logged values of the last step."""
    wrapper = BalancedOptimWrapper(
        optimizer=torch.optim.SGD(model.parameters(), lr=lr))
    for i, data in enumerate(batches):
        torch.manual_seed(5 + i)  # the same dropout masks as the reference
        log_vars = model.train_step(copy.deepcopy(data), wrapper)
    return {
        n: p.detach().clone()
        for n, p in model.named_parameters()
    }, log_vars


class _AuthorsGradMod(nn.Module):
    """The authors' GradMod around our recogniser: identity modules whose
    full backward hooks scale the gradient of each modality's output."""

    def __init__(self, net, modalities):
        super().__init__()
        self.net = net
        self.modalities = modalities
        self.outs = nn.ModuleDict({m: nn.Identity() for m in modalities})
        self.scale = {m: 1.0 for m in modalities}
        for m in modalities:
            self.outs[m].register_full_backward_hook(self._hook(m))

    def _hook(self, m):

        def hook(module, ginp, gout):
            return ginp[0].clone() * self.scale[m],

        return hook

    def run(self, inputs, padded):
        feats = {
            m: e(torch.zeros_like(inputs[m]) if m in padded else inputs[m])
            for m, e in self.net.encoders.items()
        }
        return self.net.cls_head(self.net.fusion(feats))

    def forward(self, inputs):
        total = self.run(inputs, ())
        self.net.eval()
        pad = {
            frozenset(p): self.run(inputs, p)
            for size in range(1,
                              len(self.modalities) + 1)
            for p in combinations(self.modalities, size)
        }
        self.net.train()

        def p(*names):  # the output with these modalities padded
            return pad[frozenset(names)]

        if len(self.modalities) == 2:  # CREMAD_net.py
            a, v = self.modalities
            m_out = {
                a: 0.5 * (total - p(a) + p(v)),
                v: 0.5 * (total - p(v) + p(a))
            }
        else:  # URFunny_net.py
            a, v, t = self.modalities
            m_out = {
                t: (total - p(t) + p(v, a)) / 3 +
                (p(v) - p(a, t) + p(a) - p(v, t)) / 6,
                a: (total - p(a) + p(v, t)) / 3 +
                (p(v) - p(a, t) + p(t) - p(v, a)) / 6,
                v: (total - p(v) + p(a, t)) / 3 +
                (p(a) - p(v, t) + p(t) - p(v, a)) / 6,
            }
        m_out = {m: self.outs[m](x) for m, x in m_out.items()}
        return m_out, sum(m_out.values())


def _authors_loop(model, batches, alpha, cap, clip, lr=0.5):
    """The authors' train loop (CREMAD_main.py, URFunny_main.py ``train``)
    over the batches, on a copy of the model."""
    model = copy.deepcopy(model)
    model.balancer = None
    mod = _AuthorsGradMod(model, model.modalities)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    train_score = {m: 0. for m in model.modalities}
    n = len(model.modalities)
    for i, data in enumerate(batches, 1):
        data = model.data_preprocessor(copy.deepcopy(data), True)
        label = torch.stack([s.gt_labels.item
                             for s in data['data_samples']]).view(-1)
        torch.manual_seed(5 + i - 1)
        m_out, out = mod(data['inputs'])
        loss = F.cross_entropy(out, label)
        score = {}
        for m, o in m_out.items():
            s = 0.
            for k in range(o.size(0)):
                p = F.softmax(o, 1)[k][label[k]]
                if torch.isinf(torch.log(p)) or p < 1e-8:
                    s += -torch.log(torch.tensor(1e-8))
                else:
                    s += -torch.log(p)
            score[m] = (s / o.size(0)).item()
        mean = sum(score.values()) / n
        opt_mean = sum(train_score.values()) / n
        for m in model.modalities:
            if n == 2:
                other = [o for o in model.modalities if o != m][0]
                ratio = math.exp(score[other] - score[m])
                optimal = math.exp(train_score[other] - train_score[m])
            else:
                ratio = math.exp((mean - score[m]) * 3 / 2)
                optimal = math.exp((opt_mean - train_score[m]) * 3 / 2)
            mod.scale[m] = math.exp(alpha * min(optimal - ratio, cap))
        for m in model.modalities:
            train_score[m] = train_score[m] * (i - 1) / i + score[m] / i
        optimizer.zero_grad()
        loss.backward()
        grad = model.cls_head.fc_cls.weight.grad
        if grad.max() > clip or grad.min() < -clip:
            nn.utils.clip_grad_norm_(model.parameters(), max_norm=clip)
        optimizer.step()
    params = {n: p.detach().clone() for n, p in model.named_parameters()}
    return params, dict(mod.scale), train_score


def _three_modality_batch(seed):
    """batch() of the two test modalities plus a 3-wide ``text``."""
    data = batch(seed=seed)
    g = torch.Generator().manual_seed(seed)
    data['inputs']['text'] = [
        torch.randn(3, generator=g) + s.gt_labels.item.float()
        for s in data['data_samples']
    ]
    return data


@pytest.mark.parametrize('modalities', [2, 3])
def test_two_steps_equal_the_authors_loop(modalities):
    """Two batches (the second with non-zero running averages): the
    parameters, the coefficients and the averages are the authors'. Two
    modalities as CREMA-D (cap 10, clip 1), three as UR-Funny (cap 7,
    clip 5)."""
    if modalities == 2:
        model = _agm(alpha=1.5)
        batches, cap, clip = [batch(seed=1), batch(seed=2)], 10, 1.0
    else:
        model = _agm(
            alpha=1.5,
            max_gap=7,
            head_grad_clip=5.0,
            model=dict(encoders=THREE_ENCODERS))
        batches = [_three_modality_batch(seed=s) for s in (3, 4)]
        cap, clip = 7, 5.0
    expected, scales, train_score = _authors_loop(model, batches, 1.5, cap,
                                                  clip)
    params, log_vars = _train(model, batches)
    assert_same_parameters(params, expected)
    for m, scale in scales.items():
        assert log_vars[f'agm_coeff_{m}'] == pytest.approx(scale, rel=1e-5)
    assert max(abs(math.log(s)) for s in scales.values()) > 0.1  # modulated
    torch.testing.assert_close(
        model.balancer.average_scores,
        torch.tensor(list(train_score.values()), dtype=torch.float64))
    assert model.balancer.num_batches.item() == 2


def test_outside_its_epochs_the_step_is_plain_joint_training(epoch):
    """Plain joint training's parameters exactly; the averages still follow
    every batch."""
    batches = [batch(seed=1), batch(seed=2)]
    plain, _ = _train(build(), batches)
    for current, begin, end in ((1, 2, 3), (4, 2, 3)):
        epoch(current)
        model = _agm(begin_epoch=begin, end_epoch=end, head_grad_clip=None)
        params, _ = _train(model, batches)
        for name, value in plain.items():
            assert torch.equal(params[name], value), name
        assert model.balancer.num_batches.item() == 2
        assert (model.balancer.average_scores > 0).all()
    epoch(2)
    model = _agm(begin_epoch=2, end_epoch=3, head_grad_clip=None)
    params, _ = _train(model, batches)
    assert not torch.allclose(params['encoders.audio.layers.2.weight'],
                              plain['encoders.audio.layers.2.weight'])


def _update_ratio(model, plain, data):
    """Per encoder, the norm of this step's update over plain joint
    training's (one step from the same weights)."""
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    params, log_vars = _train(model, [data])
    ratios = {}
    for m in ('audio', 'visual'):
        names = [n for n in before if n.startswith(f'encoders.{m}.')]
        ours = torch.cat([(before[n] - params[n]).flatten() for n in names])
        base = torch.cat([(before[n] - plain[n]).flatten() for n in names])
        ratios[m] = (ours.norm() / base.norm()).item()
    return ratios, log_vars


def test_alpha_sets_the_strength_and_zero_is_joint_training():
    data = batch(seed=1)
    plain, _ = _train(build(), [data])
    ratios, log_vars = _update_ratio(
        _agm(alpha=0.0, head_grad_clip=None), plain, data)
    assert log_vars['agm_coeff_audio'] == log_vars['agm_coeff_visual'] == 1
    assert ratios == pytest.approx(dict(audio=1.0, visual=1.0), rel=1e-4)
    coeffs = {}
    for alpha in (0.5, 3.0):
        _, log_vars = _update_ratio(
            _agm(alpha=alpha, head_grad_clip=None), plain, data)
        coeffs[alpha] = {m: log_vars[f'agm_coeff_{m}'] for m in WIDTHS}
    # The same gap: log(coefficient) is proportional to alpha.
    for m in WIDTHS:
        assert math.log(coeffs[3.0][m]) == pytest.approx(
            6 * math.log(coeffs[0.5][m]), rel=1e-4)
        assert abs(math.log(coeffs[0.5][m])) > 1e-3


def test_max_gap_caps_the_exponent():
    """A cap of 0 leaves the lagging modality (positive gap) at 1 and the
    other's coefficient as without a cap."""
    data = batch(seed=1)
    _, free = _train(_agm(max_gap=None), [data])
    _, capped = _train(_agm(max_gap=0.0), [data])
    lagging = max(WIDTHS, key=lambda m: free[f'agm_coeff_{m}'])
    leading = min(WIDTHS, key=lambda m: free[f'agm_coeff_{m}'])
    assert free[f'agm_coeff_{lagging}'] > 1
    assert capped[f'agm_coeff_{lagging}'] == 1.0
    assert capped[f'agm_coeff_{leading}'] == pytest.approx(
        free[f'agm_coeff_{leading}'])


def test_head_grad_clip_clips_all_gradients_when_the_head_exceeds_it():
    data = batch(seed=1)
    model = _agm(head_grad_clip=None)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    free, _ = _train(copy.deepcopy(model), [data], lr=1.0)
    norm = torch.cat([(before[n] - free[n]).flatten() for n in before]).norm()
    head = (before['cls_head.fc_cls.weight'] - free['cls_head.fc_cls.weight'])
    limit = 0.5 * head.abs().max().item()
    model.balancer.head_grad_clip = limit  # exceeded: clipped to the norm
    clipped, _ = _train(copy.deepcopy(model), [data], lr=1.0)
    for n in before:
        torch.testing.assert_close(before[n] - clipped[n],
                                   (before[n] - free[n]) * limit / norm)
    model.balancer.head_grad_clip = 2 * head.abs().max().item()  # not
    unclipped, _ = _train(copy.deepcopy(model), [data], lr=1.0)
    assert_same_parameters(unclipped, free)


def test_running_averages_are_checkpointed_buffers():
    model = _agm()
    _train(model, [batch(seed=1)])
    state = model.state_dict()
    assert state['balancer.num_batches'].item() == 1
    assert state['balancer.average_scores'].dtype == torch.float64
    resumed = _agm(seed=3)
    resumed.load_state_dict(state)
    torch.testing.assert_close(resumed.balancer.average_scores,
                               model.balancer.average_scores)


# ---------------------------------------------------------------------------
# refusals
# ---------------------------------------------------------------------------


def test_a_head_without_classes_is_refused_at_build():
    with pytest.raises(
            ValueError,
            match='AGM scores each modality.*'
            'LinearRegHead predicts no classes'):
        _agm(model=dict(cls_head=dict(type='LinearRegHead')))


def test_head_grad_clip_needs_a_linear_head_layer():
    with pytest.raises(
            ValueError,
            match=r"AGM\(head_grad_clip=1.0\) watches the gradient of the "
            r"head's last linear layer \(fc_cls\)"):
        agm = AGM()
        model = build()
        model.cls_head.fc_cls = nn.Identity()
        agm.check_model(model)


def test_one_modality_and_bad_arguments_are_refused():
    with pytest.raises(
            ValueError,
            match=r"AGM balances two or more "
            r"modalities; the model trains only \['audio'\]"):
        _agm(model=dict(modalities=['audio']))
    with pytest.raises(ValueError, match='AGM: alpha=-1 must not be'):
        AGM(alpha=-1)
    with pytest.raises(ValueError, match='AGM: head_grad_clip=0 must be'):
        AGM(head_grad_clip=0)


def test_a_plain_optim_wrapper_is_refused_before_the_first_step():
    model = _agm()
    wrapper = OptimWrapper(optimizer=torch.optim.SGD(model.parameters(), 1))
    with pytest.raises(RuntimeError, match="optim_wrapper.type='Balanced"):
        model.train_step(batch(), wrapper)


def test_the_loss_needs_the_inputs_of_the_training_pass():
    model = _agm()
    model.balancer.step_owner = object()
    data = model.data_preprocessor(batch(), True)
    feats = model.extract_feat(data['inputs'])
    model.balancer.loss(model, feats, data['data_samples'])  # kept: fine
    with pytest.raises(RuntimeError, match='AGM reruns the encoders'):
        model.balancer.loss(model, feats, data['data_samples'])


@pytest.mark.slow
def test_replicas_stay_identical_under_ddp(avdigits_root, tmp_path):
    """2 processes: the scores are summed over ranks, so both ranks end
    with the same parameters and the same running averages; without the
    sum each rank's averages are those of its half of the batch."""
    config = parameter_dump_config(tmp_path,
                                   osp.join(REPO, 'configs/agm_avdigits.py'))
    work = tmp_path / 'work'
    result = train_tool(
        work,
        [*data_root_cfg_options(avdigits_root), 'train_cfg.max_epochs=1'],
        nproc=2,
        config=config)
    assert 'agm_coeff_visual' in result.stdout + result.stderr
    ranks = [torch.load(work / f'rank{r}_parameters.pth') for r in (0, 1)]
    assert ranks[0].keys() == ranks[1].keys()
    assert 'balancer.average_scores' in ranks[0]
    assert ranks[0]['balancer.num_batches'].item() > 0
    for name, value in ranks[0].items():
        assert torch.equal(value, ranks[1][name]), name
