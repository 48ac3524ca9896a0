"""PMR: the documented effect of every argument (alpha, momentum, the epoch
window, proto_fraction), through the balancer's public interface only
(``compute_prototypes``, ``prototypes``, ``loss`` via the recogniser,
``before_train_epoch``)."""
import types

import pytest
import torch
from balancer_models import NUM_CLASSES, batch, build
from mmengine.runner import EpochBasedTrainLoop

from mmdr.models.balancers import PMR
from mmdr.utils import register_all_modules

register_all_modules()

#: Four batches of 12 samples, each holding every class (seeds chosen so).
BATCHES = [batch(n=12, seed=seed) for seed in (2, 3, 4, 5)]


def _labels(data):
    return torch.stack([s.gt_labels.item for s in data['data_samples']])


def test_every_batch_holds_every_class():
    for data in BATCHES:
        assert set(_labels(data).view(-1).tolist()) == set(range(NUM_CLASSES))


def _pmr(**kwargs):
    return build(balancer=dict(type='PMR', **kwargs))


def _losses(model, data):
    """The training losses of a batch (recogniser in training mode)."""
    data = model.data_preprocessor(data, True)
    torch.manual_seed(3)  # the same dropout masks in every call
    return model(**data, mode='loss')


@pytest.mark.parametrize('alpha', [0.0, 0.4, 2.5])
def test_alpha_weighs_the_weaker_modalitys_prototype_loss(alpha, epoch):
    """alpha times the weaker modality's prototype cross entropy; the
    dominant one adds nothing. The default is 1."""
    model = _pmr(alpha=alpha, proto_fraction=1.0)
    model.balancer.compute_prototypes(model, BATCHES, 1)
    epoch(1)
    losses = _losses(model, BATCHES[0])
    # pmr_ratio is the first modality's (audio's) score over the second's.
    weaker = 'visual' if losses['pmr_ratio'] > 1 else 'audio'
    dominant = 'audio' if weaker == 'visual' else 'visual'
    assert losses[f'pmr_ce_{weaker}'] > 0
    torch.testing.assert_close(losses[f'loss_proto_{weaker}'],
                               alpha * losses[f'pmr_ce_{weaker}'])
    assert losses[f'loss_proto_{dominant}'].item() == 0
    assert PMR().alpha == 1.0


def _scale_encoders(model, factor):
    """Change the encoders between passes, so that prototypes move."""
    with torch.no_grad():
        for p in model.encoders.parameters():
            p.mul_(factor)


@pytest.mark.parametrize('momentum', [0.0, 0.6])
def test_momentum_blends_the_previous_prototypes_from_epoch_3(momentum):
    """Passes for epochs 1 and 2 take plain means; from epoch 3 on
    ``(1 - momentum) * means + momentum * previous``."""
    blended = _pmr(momentum=momentum, proto_fraction=1.0)
    means = _pmr(momentum=0.0, proto_fraction=1.0)  # plain class means
    previous = None
    for epoch, factor in ((1, 1.0), (2, 1.5), (3, 0.5), (4, 1.2)):
        for model in (blended, means):
            _scale_encoders(model, factor)
            model.balancer.compute_prototypes(model, BATCHES, epoch)
        for m in ('audio', 'visual'):
            mean = means.balancer.prototypes(m)
            expected = mean if epoch < 3 else ((1 - momentum) * mean +
                                               momentum * previous[m])
            torch.testing.assert_close(
                blended.balancer.prototypes(m), expected)
            if epoch >= 3:  # the blend is visible: the means moved
                assert not torch.allclose(mean, previous[m])
        previous = {
            m: blended.balancer.prototypes(m).clone()
            for m in ('audio', 'visual')
        }
    assert PMR().momentum == 0.2


def test_the_prototype_loss_acts_from_begin_epoch_to_end_epoch(epoch):
    """Inclusive, counted from 1; the fused loss is trained in every
    epoch."""
    model = _pmr(begin_epoch=2, end_epoch=3, proto_fraction=1.0)
    fused = []
    for current, active in ((1, False), (2, True), (3, True), (4, False)):
        if current <= 3:  # prototypes are needed up to end_epoch
            model.balancer.compute_prototypes(model, BATCHES, current)
        epoch(current)
        losses = _losses(model, BATCHES[1])
        proto = [k for k in losses if 'proto' in k or 'pmr' in k]
        assert bool(proto) == active, current
        fused.append(losses['loss_cls'])
    for loss in fused[1:]:
        torch.testing.assert_close(loss, fused[0])
    defaults = PMR()
    assert (defaults.begin_epoch, defaults.end_epoch) == (1, 101)


def test_no_prototype_pass_after_end_epoch():
    """The pass before an epoch after ``end_epoch`` is skipped: its
    prototypes would never be used."""
    model = _pmr(end_epoch=2, proto_fraction=1.0)
    model.balancer.compute_prototypes(model, BATCHES, 2)
    before = model.balancer.prototypes('audio').clone()
    # Two epochs done: the pass would be for epoch 3. Nothing but the loop
    # type and the epoch is there to read.
    runner = types.SimpleNamespace(
        train_loop=EpochBasedTrainLoop.__new__(EpochBasedTrainLoop), epoch=2)
    model.balancer.before_train_epoch(runner)
    assert int(model.balancer.proto_epoch) == 2
    torch.testing.assert_close(model.balancer.prototypes('audio'), before)


@pytest.mark.parametrize('fraction, batches', [(0.1, 1), (0.25, 1), (0.5, 2),
                                               (0.74, 2), (0.75, 3), (1.0, 4)])
def test_proto_fraction_reads_its_share_of_the_batches(fraction, batches):
    """``max(1, floor(fraction * number of batches))`` batches per pass."""
    model = _pmr(proto_fraction=fraction)
    seen = model.balancer.compute_prototypes(model, BATCHES, 1)
    assert seen == 12 * batches
    assert PMR().proto_fraction == 0.1
