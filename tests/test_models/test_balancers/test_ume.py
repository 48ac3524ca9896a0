"""UME: steps through BalancedOptimWrapper equal each modality trained alone
with its own optimiser, as the paper trains its uni-modal models (and what
couples them: clipping by the global norm); the prediction is the mean of
the uni-modal heads' logits; the fused head is frozen; the errors; and
identical replicas under DDP (2 processes)."""
import copy
import os.path as osp
from itertools import chain

import pytest
import torch
import torch.nn.functional as F
from balancer_models import THREE_ENCODERS, batch, build
from balancer_test_hooks import parameter_dump_config
from conftest import REPO, data_root_cfg_options
from runs import train_tool

from mmdr.engine.optimizers import BalancedOptimWrapper
from mmdr.models.balancers import ensemble_logits
from mmdr.utils import register_all_modules

register_all_modules()

HEAD = dict(type='LinearClsHead', topk=(1, ))
MODALITIES = ('audio', 'visual')


def _ume(**overrides):
    return build(unimodal_head=HEAD, balancer=dict(type='UME'), **overrides)


def _labels(data):
    return torch.stack([s.gt_labels.item
                        for s in data['data_samples']]).view(-1)


def _alone(model, make_optimizer):
    """Per modality a copy of the model's encoder and head and their own
    optimiser: the uni-modal model the paper trains by itself."""
    alone = {}
    for m in MODALITIES:
        encoder = copy.deepcopy(model.encoders[m])
        head = copy.deepcopy(model.unimodal_heads[m])
        alone[m] = (encoder, head,
                    make_optimizer(
                        chain(encoder.parameters(), head.parameters())))
    return alone


def _train_alone(model, alone, data, seed, clip=None):
    """One step of every uni-modal model on the batch: cross entropy of its
    head, backward, its own clipping, step. The encoders run in the
    model's order after one seed, so dropout draws the same masks."""
    prepared = model.data_preprocessor(copy.deepcopy(data), True)
    labels = _labels(prepared)
    torch.manual_seed(seed)
    feats = {m: alone[m][0](prepared['inputs'][m]) for m in MODALITIES}
    for m, (encoder, head, optimizer) in alone.items():
        optimizer.zero_grad()
        F.cross_entropy(head(feats[m]), labels).backward()
        if clip is not None:
            torch.nn.utils.clip_grad_norm_(
                chain(encoder.parameters(), head.parameters()), clip)
        optimizer.step()


def _adam(params):
    return torch.optim.Adam(params, lr=0.01, weight_decay=1e-2)


def test_steps_equal_each_modality_trained_alone():
    """Three Adam steps (with weight decay, per-tensor state) of the joint
    model equal three steps of each uni-modal model with its own Adam."""
    model = _ume()
    alone = _alone(model, _adam)
    wrapper = BalancedOptimWrapper(optimizer=_adam(model.parameters()))
    fused_before = copy.deepcopy(model.cls_head.state_dict())
    for step in range(3):
        data = batch(seed=step)
        torch.manual_seed(step)
        log_vars = model.train_step(copy.deepcopy(data), wrapper)
        _train_alone(model, alone, data, seed=step)
    assert set(log_vars) == {
        'loss', 'loss_unimodal_audio', 'loss_unimodal_visual'
    }
    for m, (encoder, head, _) in alone.items():
        for ours, theirs in ((model.encoders[m], encoder),
                             (model.unimodal_heads[m], head)):
            for name, value in theirs.state_dict().items():
                assert torch.equal(ours.state_dict()[name], value), (m, name)
    # Neither the fusion nor the fused head trains.
    for name, value in model.cls_head.state_dict().items():
        assert torch.equal(value, fused_before[name]), name


def test_clipping_by_the_global_norm_couples_the_modalities():
    """What the docstring says of adam_40e_mult.py: one clipping norm over
    both modalities scales each by a factor the other decides, so the
    joint step differs from the uni-modal models clipped alone."""
    max_norm = 0.05
    model = _ume()
    alone = _alone(model, lambda p: torch.optim.SGD(p, lr=1.0))
    data = batch()
    wrapper = BalancedOptimWrapper(
        optimizer=torch.optim.SGD(model.parameters(), lr=1.0),
        clip_grad=dict(max_norm=max_norm))
    # The gradients of the step, from the same forward on a copy.
    copied = copy.deepcopy(model)
    torch.manual_seed(0)
    losses = copied(
        **copied.data_preprocessor(copy.deepcopy(data), True), mode='loss')
    sum(losses.values()).backward()
    grads = {
        n: p.grad
        for n, p in copied.named_parameters() if p.grad is not None
    }
    total = torch.linalg.vector_norm(
        torch.stack([torch.linalg.vector_norm(g) for g in grads.values()]))
    assert total > max_norm
    torch.manual_seed(0)
    model.train_step(copy.deepcopy(data), wrapper)
    params = dict(model.named_parameters())
    for name, grad in grads.items():
        update = dict(copied.named_parameters())[name].detach() - params[name]
        torch.testing.assert_close(update, grad * max_norm / (total + 1e-6))
    _train_alone(model, alone, data, seed=0, clip=max_norm)
    for m in MODALITIES:
        ours = model.encoders[m].state_dict()
        assert not all(
            torch.equal(ours[name], value)
            for name, value in alone[m][0].state_dict().items()), m


def test_prediction_is_the_mean_of_the_unimodal_logits():
    model = _ume().eval()
    data = model.data_preprocessor(batch(), False)
    with torch.no_grad():
        scores = model(data['inputs'], mode='tensor')
        feats = model.extract_feat(data['inputs'])
        heads = {m: model.unimodal_heads[m](feats[m]) for m in MODALITIES}
        samples = model(**data, mode='predict')
    torch.testing.assert_close(scores, (heads['audio'] + heads['visual']) / 2)
    torch.testing.assert_close(ensemble_logits(heads), scores)
    # The fused head's scores are another thing.
    assert not torch.allclose(scores, model.cls_head(model.fusion(feats)))
    assert [s.pred_labels.item.item()
            for s in samples] == scores.argmax(1).tolist()


def test_fusion_and_fused_head_are_frozen_at_build():
    model = _ume()
    frozen = [n for n, p in model.named_parameters() if not p.requires_grad]
    assert frozen == [
        n for n, _ in model.cls_head.named_parameters(prefix='cls_head')
    ]
    losses = model(**model.data_preprocessor(batch(), True), mode='loss')
    sum(losses.values()).backward()
    assert all(p.grad is None for p in model.cls_head.parameters())
    assert all(p.grad is not None for p in model.encoders.parameters())
    assert all(p.grad is not None for p in model.unimodal_heads.parameters())


def test_any_number_of_modalities_but_heads_are_needed():
    model = _ume(encoders=THREE_ENCODERS)
    assert set(model.unimodal_heads) == {'audio', 'visual', 'text'}
    with pytest.raises(
            ValueError, match='UME needs one linear head per encoder'):
        build(balancer=dict(type='UME'))
    with pytest.raises(
            ValueError,
            match=r"balances two or more modalities; the model "
            r"trains only \['audio'\]"):
        _ume(modalities=['audio'])


@pytest.mark.slow
def test_replicas_stay_identical_under_ddp(avdigits_root, tmp_path):
    """2 processes through tools/train.py: UME computes nothing from its
    batch but the losses, whose gradients DDP averages; the frozen fused
    head is what lets DDP, which expects a gradient for every parameter
    that requires one, step at all."""
    config = parameter_dump_config(tmp_path,
                                   osp.join(REPO, 'configs/ume_avdigits.py'))
    work = tmp_path / 'work'
    result = train_tool(
        work,
        [*data_root_cfg_options(avdigits_root), 'train_cfg.max_epochs=1'],
        nproc=2,
        config=config)
    assert 'loss_unimodal_visual' in result.stdout + result.stderr
    ranks = [torch.load(work / f'rank{r}_parameters.pth') for r in (0, 1)]
    assert ranks[0].keys() == ranks[1].keys()
    for name, value in ranks[0].items():
        assert torch.equal(value, ranks[1][name]), name
