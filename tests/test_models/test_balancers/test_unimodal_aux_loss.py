"""UnimodalAuxLoss: the fused loss plus one weighted cross entropy per
encoder's own head, against the same losses computed here."""
import copy

import pytest
import torch
import torch.nn.functional as F
from balancer_models import batch, build

from mmdr.utils import register_all_modules

register_all_modules()

HEAD = dict(type='LinearClsHead', topk=(1, ))


def test_losses_equal_the_fused_and_weighted_unimodal_cross_entropies():
    weight = dict(audio=0.5, visual=2.0)
    model = build(
        unimodal_head=HEAD,
        balancer=dict(type='UnimodalAuxLoss', weight=weight))
    data = model.data_preprocessor(batch(), True)
    torch.manual_seed(3)
    losses = model(**copy.deepcopy(data), mode='loss')

    torch.manual_seed(3)  # the same dropout masks
    feats = model.extract_feat(data['inputs'])
    labels = torch.stack([s.gt_labels.item
                          for s in data['data_samples']]).view(-1)
    fused = model.cls_head(model.fusion(feats))
    torch.testing.assert_close(losses['loss_cls'],
                               F.cross_entropy(fused, labels))
    for m, w in weight.items():
        head = model.unimodal_heads[m].fc_cls
        assert head.in_features == feats[m].shape[1]
        torch.testing.assert_close(losses[f'loss_unimodal_{m}'],
                                   w * F.cross_entropy(head(feats[m]), labels))


def test_one_weight_scales_every_unimodal_loss():
    """A float weight multiplies each uni-modal cross entropy (default 1:
    the plain cross entropy); the fused loss stays."""
    losses = {}
    for weight in (None, 1.0, 0.25):
        kwargs = {} if weight is None else dict(weight=weight)
        model = build(
            unimodal_head=HEAD,
            balancer=dict(type='UnimodalAuxLoss', **kwargs))
        data = model.data_preprocessor(batch(), True)
        torch.manual_seed(3)  # the same dropout masks
        losses[weight] = model(**data, mode='loss')
    torch.testing.assert_close(losses[0.25]['loss_cls'],
                               losses[None]['loss_cls'])
    for m in ('audio', 'visual'):
        key = f'loss_unimodal_{m}'
        assert losses[None][key] > 0
        torch.testing.assert_close(losses[1.0][key], losses[None][key])
        torch.testing.assert_close(losses[0.25][key], 0.25 * losses[None][key])


def test_every_loss_trains_its_own_head_and_encoder():
    model = build(unimodal_head=HEAD, balancer=dict(type='UnimodalAuxLoss'))
    data = model.data_preprocessor(batch(), True)
    losses = model(**data, mode='loss')
    losses['loss_unimodal_audio'].backward()
    grads = {
        n: p.grad
        for n, p in model.named_parameters() if p.grad is not None
    }
    assert any(n.startswith('unimodal_heads.audio.') for n in grads)
    assert any(n.startswith('encoders.audio.') for n in grads)
    assert not any('visual' in n or n.startswith('cls_head') for n in grads)


def test_missing_heads_and_wrong_weights_are_named_at_build():
    with pytest.raises(
            ValueError,
            match='UnimodalAuxLoss needs one linear '
            r"head per encoder; set model.unimodal_head="):
        build(balancer=dict(type='UnimodalAuxLoss'))
    with pytest.raises(ValueError, match=r"weight names \['audio', 'text'\]"):
        build(
            unimodal_head=HEAD,
            balancer=dict(
                type='UnimodalAuxLoss', weight=dict(audio=1, text=1)))
