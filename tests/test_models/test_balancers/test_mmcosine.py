"""MMCosine: the cosine logits on hand values; one step through
BalancedOptimWrapper against a reference computed here as the authors'
``train_epoch`` does; prediction with the same scores; the effect of
``scaling``; the bias left out; the errors; the config; and under DDP (2
processes) identical ranks that equal one process holding the whole
batch."""
import copy
import os.path as osp

import pytest
import torch
import torch.nn.functional as F
from balancer_ddp import two_ranks_equal_one_process, whole_batch_options
from balancer_models import (THREE_ENCODERS, batch, build, sgd_step)
from conftest import REPO
from mmengine.config import Config

from mmdr.models.balancers import MMCosine, cosine_logits
from mmdr.utils import register_all_modules

register_all_modules()

#: The authors' optimiser (main_CD.py), with a larger rate so that one step
#: moves every parameter visibly.
SGD = dict(lr=0.1, momentum=0.9, weight_decay=1e-4)


def _mmcosine(scaling=10.0, **overrides):
    model = build(balancer=dict(type='MMCosine', scaling=scaling), **overrides)
    with torch.no_grad():  # a non-zero bias, to see that it takes no part
        model.cls_head.fc_cls.bias.copy_(torch.arange(4.0))
    return model


def _labels(data_samples):
    return torch.stack([s.gt_labels.item for s in data_samples]).view(-1)


def _authors_step(model, data, scaling):
    """The authors' train_epoch for one batch, on a copy of the model: the
    concatenation head's weight sliced per modality (audio 7 columns,
    visual 9), features and weight columns normalised, scaled and summed;
    the bias never enters, so the optimiser skips it."""
    model = copy.deepcopy(model)
    model.balancer = None
    model.cls_head.fc_cls.bias.requires_grad_(True)  # theirs is trainable
    optimizer = torch.optim.SGD(model.parameters(), **SGD)
    data = model.data_preprocessor(copy.deepcopy(data), True)
    torch.manual_seed(5)
    optimizer.zero_grad()
    feats = model.extract_feat(data['inputs'])
    a, v = feats['audio'], feats['visual']
    weight = model.cls_head.fc_cls.weight
    out_a = torch.mm(
        F.normalize(a, dim=1),
        F.normalize(torch.transpose(weight[:, :7], 0, 1), dim=0))
    out_v = torch.mm(
        F.normalize(v, dim=1),
        F.normalize(torch.transpose(weight[:, 7:], 0, 1), dim=0))
    out = out_a * scaling + out_v * scaling
    loss = F.cross_entropy(out, _labels(data['data_samples']))
    loss.backward()
    assert model.cls_head.fc_cls.bias.grad is None
    optimizer.step()
    return {n: p.detach() for n, p in model.named_parameters()}, loss


def test_cosine_logits_on_hand_values():
    feats = dict(a=torch.tensor([[3.0, 4.0]]), b=torch.tensor([[0.0, 2.0]]))
    weights = dict(
        a=torch.tensor([[1.0, 0.0], [0.0, -5.0]]),
        b=torch.tensor([[2.0, 2.0], [0.0, 1.0]]))
    logits = cosine_logits(feats, weights, scaling=10.0)
    torch.testing.assert_close(logits['a'], torch.tensor([[6.0, -8.0]]))
    torch.testing.assert_close(logits['b'], torch.tensor([[10 / 2**0.5,
                                                           10.0]]))


def test_one_step_equals_the_authors_train_epoch():
    data = batch()
    model = _mmcosine(scaling=10.0)
    expected, loss = _authors_step(model, data, 10.0)
    after, log_vars = sgd_step(model, data, **SGD)
    assert float(log_vars['loss_cls']) == pytest.approx(loss.item())
    assert after.keys() == expected.keys()
    for name, value in expected.items():
        torch.testing.assert_close(after[name], value, msg=name)
    # The bias kept its value, as the authors' (it has no gradient there).
    assert after['cls_head.fc_cls.bias'].tolist() == [0.0, 1.0, 2.0, 3.0]


def test_prediction_uses_the_summed_cosine_scores():
    model = _mmcosine().eval()
    data = model.data_preprocessor(batch(), False)
    with torch.no_grad():
        feats = model.extract_feat(data['inputs'])
        weight = model.cls_head.fc_cls.weight
        expected = 10.0 * (
            F.normalize(feats['audio'], dim=1) @ F.normalize(
                weight[:, :7], dim=1).t() +
            F.normalize(feats['visual'], dim=1) @ F.normalize(
                weight[:, 7:], dim=1).t())
        scores = model(data['inputs'], mode='tensor')
        samples = model(data['inputs'], data['data_samples'], mode='predict')
    torch.testing.assert_close(scores, expected)
    # Not the head's (biased, unnormalised) output.
    head = model.cls_head(model.fusion(feats))
    assert not torch.allclose(scores, head, atol=1e-2)
    # The head's predict_by_feat turns the scores into probabilities.
    probs = torch.stack([s.pred_scores.item for s in samples])
    torch.testing.assert_close(probs, expected.softmax(1))
    labels = [s.pred_labels.item.item() for s in samples]
    assert labels == expected.argmax(1).tolist()


@pytest.mark.parametrize('scaling', [1.0, 25.0])
def test_scaling_multiplies_training_and_prediction_scores(scaling):
    data = batch()
    default = _mmcosine().eval()
    scaled = _mmcosine(scaling=scaling).eval()
    inputs = default.data_preprocessor(data, False)['inputs']
    with torch.no_grad():
        torch.testing.assert_close(
            scaled(inputs, mode='tensor'),
            default(inputs, mode='tensor') * scaling / 10.0)
    expected, loss = _authors_step(scaled.train(), data, scaling)
    after, log_vars = sgd_step(scaled, data, **SGD)
    assert float(log_vars['loss_cls']) == pytest.approx(loss.item())
    for name, value in expected.items():
        torch.testing.assert_close(after[name], value, msg=name)


def test_the_bias_is_frozen_and_changes_no_score():
    model = _mmcosine()
    assert not model.cls_head.fc_cls.bias.requires_grad
    assert model.cls_head.fc_cls.weight.requires_grad
    inputs = model.data_preprocessor(batch(), False)['inputs']
    model.eval()
    with torch.no_grad():
        before = model(inputs, mode='tensor')
        model.cls_head.fc_cls.bias.add_(5.0)
        torch.testing.assert_close(model(inputs, mode='tensor'), before)


def test_three_modalities_sum_three_cosine_logits():
    model = build(
        encoders=THREE_ENCODERS, balancer=dict(type='MMCosine')).eval()
    inputs = {
        m: torch.randn(3, cfg['in_channels'])
        for m, cfg in THREE_ENCODERS.items()
    }
    with torch.no_grad():
        feats = model.extract_feat(inputs)
        weight = model.cls_head.fc_cls.weight
        start, expected = 0, 0
        for m in ('audio', 'visual', 'text'):
            width = feats[m].shape[1]
            expected = expected + 10.0 * F.normalize(
                feats[m], dim=1) @ (
                    F.normalize(weight[:, start:start + width], dim=1).t())
            start += width
        torch.testing.assert_close(model(inputs, mode='tensor'), expected)


def test_models_it_cannot_apply_to_are_refused_at_build():
    with pytest.raises(
            ValueError, match='MMCosine reads uni-modal logits.*'
            'SumFusion'):
        build(
            fusion=dict(type='SumFusion', out_channels=8),
            balancer=dict(type='MMCosine'))
    with pytest.raises(
            ValueError,
            match=r"MMCosine balances two or more modalities; the model "
            r"trains only \['audio'\]"):
        build(modalities=['audio'], balancer=dict(type='MMCosine'))
    with pytest.raises(ValueError, match='MMCosine: scaling=0 must be'):
        MMCosine(scaling=0)


def test_config_is_joint_training_plus_the_method_fragment():
    fragment = Config.fromfile(
        osp.join(REPO, 'configs/_base_/methods/mmcosine.py'))
    cfg = Config.fromfile(osp.join(REPO, 'configs/mmcosine_avdigits.py'))
    joint = Config.fromfile(osp.join(REPO, 'configs/jt_avdigits.py'))
    assert cfg.model.balancer == fragment.model.balancer == dict(
        type='MMCosine', scaling=10.0)
    cfg.model.pop('balancer')
    assert cfg.model == joint.model


@pytest.mark.slow
def test_ranks_stay_identical_and_equal_one_process_under_ddp(
        avdigits_root, tmp_path):
    """configs/mmcosine_avdigits.py under tools/train.py with 2 processes
    (torchrun, gloo, DDP without find_unused_parameters): the frozen bias
    is no parameter DDP waits for, both ranks end with the same
    parameters, and these equal one process that sees each step's 10
    samples at once."""
    two_ranks_equal_one_process(
        osp.join(REPO, 'configs/mmcosine_avdigits.py'), tmp_path,
        lambda size: whole_batch_options(avdigits_root, size))
