"""MultiModalRecognizer with real mmaction2 backbones and data preprocessor.

Three modalities: a feature vector ('tab', MLP), frames ('visual', 2D
ResNet-18 per frame) and a spectrogram ('audio', 1-channel ResNet-18).
"""
import copy
import math

import pytest
import torch
import torch.nn.functional as F
from mmaction.structures import ActionDataSample
from mmcv.cnn import ConvModule
from pretrained_checkpoint import (backbone_items, channel_mean,
                                   write_mmaction_checkpoint)

from mmdr.models.balancers import UnimodalAuxLoss
from mmdr.models.recognizers import MultiModalRecognizer
from mmdr.registry import MODELS
from mmdr.utils import register_all_modules

register_all_modules()

N = 3
NUM_CLASSES = 5
TAB_IN = 10
MODEL_CFG = dict(
    type='MultiModalRecognizer',
    encoders=dict(
        tab=dict(
            type='MLPEncoder', in_channels=TAB_IN, hidden_channels=(16, )),
        visual=dict(
            type='FrameEncoder',
            backbone=dict(type='ResNet', depth=18, pretrained=None),
            feat_dim=512),
        audio=dict(
            type='SpectrogramEncoder',
            backbone=dict(
                type='ResNet', depth=18, in_channels=1, pretrained=None),
            feat_dim=512)),
    fusion=dict(type='ConcatFusion'),
    cls_head=dict(type='LinearClsHead', num_classes=NUM_CLASSES))
FEAT_DIMS = dict(tab=16, visual=512, audio=512)


def _build(**overrides):
    cfg = copy.deepcopy(MODEL_CFG)
    cfg.update(copy.deepcopy(overrides))
    torch.manual_seed(0)
    return MODELS.build(cfg)


def _batch(seed=0, drop=()):
    """A batch as the dataloader yields it: lists of per-sample tensors."""
    gen = torch.Generator().manual_seed(seed)
    inputs = dict(
        tab=[torch.randn(TAB_IN, generator=gen) for _ in range(N)],
        visual=[torch.randn(2, 3, 32, 32, generator=gen) for _ in range(N)],
        audio=[torch.randn(1, 32, 24, generator=gen) for _ in range(N)])
    for m in drop:
        del inputs[m]
    labels = [0, 3, 4]
    return dict(
        inputs=inputs,
        data_samples=[ActionDataSample().set_gt_labels(y) for y in labels])


@pytest.fixture(scope='module')
def model():
    model = _build()
    model.init_weights()
    return model


def test_dims_filled_in_automatically(model):
    assert isinstance(model, MultiModalRecognizer)
    assert model.modalities == ('tab', 'visual', 'audio')
    assert {m: e.feat_dim for m, e in model.encoders.items()} == FEAT_DIMS
    assert model.fusion.in_dims == FEAT_DIMS
    assert model.fusion.modalities == ('tab', 'visual', 'audio')
    assert model.fusion.out_dim == 16 + 512 + 512
    assert model.cls_head.in_channels == 1040
    assert model.cls_head.fc_cls.weight.shape == (NUM_CLASSES, 1040)


def test_data_preprocessor_stacks_every_modality(model):
    data = model.data_preprocessor(_batch(), training=True)
    inputs = data['inputs']
    assert set(inputs) == {'tab', 'visual', 'audio'}
    assert inputs['tab'].shape == (N, TAB_IN)
    assert inputs['visual'].shape == (N, 2, 3, 32, 32)
    assert inputs['audio'].shape == (N, 1, 32, 24)
    assert all(v.dtype == torch.float32 for v in inputs.values())
    # No normalisation by default.
    raw = _batch()['inputs']
    assert torch.equal(inputs['visual'][1], raw['visual'][1])


def test_loss_mode_and_gradients_reach_every_encoder(model):
    model.train()
    model.zero_grad()
    data = model.data_preprocessor(_batch(), training=True)
    losses = model(**data, mode='loss')
    assert isinstance(losses, dict)
    assert 'loss_cls' in losses
    loss = losses['loss_cls']
    assert loss.ndim == 0 and torch.isfinite(loss)
    assert loss.item() > 0
    loss.backward()
    for m, encoder in model.encoders.items():
        grads = [p.grad for p in encoder.parameters() if p.requires_grad]
        assert grads and all(g is not None for g in grads), m
        assert sum(g.abs().sum() for g in grads) > 0, m
    assert model.cls_head.fc_cls.weight.grad.abs().sum() > 0
    model.zero_grad()


def test_loss_equals_cross_entropy_of_tensor_mode(model):
    model.eval()
    data = model.data_preprocessor(_batch(seed=1), training=False)
    with torch.no_grad():
        logits = model(**data, mode='tensor')
        losses = model(**data, mode='loss')
    labels = torch.tensor([0, 3, 4])
    torch.testing.assert_close(losses['loss_cls'],
                               F.cross_entropy(logits, labels))


def test_predict_and_tensor_modes(model):
    model.eval()
    data = model.data_preprocessor(_batch(seed=2), training=False)
    with torch.no_grad():
        logits = model(**data, mode='tensor')
        preds = model(**copy.deepcopy(data), mode='predict')
    assert logits.shape == (N, NUM_CLASSES)
    assert len(preds) == N
    probs = F.softmax(logits, dim=1)
    for i, sample in enumerate(preds):
        scores = sample.pred_scores.item
        assert scores.shape == (NUM_CLASSES, )
        torch.testing.assert_close(scores.sum(), torch.tensor(1.))
        torch.testing.assert_close(scores, probs[i], rtol=1e-4, atol=1e-6)
        assert sample.pred_labels.item.item() == probs[i].argmax().item()
    # test_step (data preprocessor + predict) gives the same predictions.
    stepped = model.test_step(_batch(seed=2))
    for a, b in zip(stepped, preds):
        torch.testing.assert_close(a.pred_scores.item, b.pred_scores.item)


def test_invalid_mode_and_input_type(model):
    data = model.data_preprocessor(_batch(), training=False)
    with pytest.raises(RuntimeError, match='Invalid mode "features"'):
        model(**data, mode='features')
    with pytest.raises(TypeError, match='dict of modality batches'):
        model(data['inputs']['tab'], mode='tensor')


def _encoder_outputs_eval(model, data):
    was_training = model.training
    model.eval()
    with torch.no_grad():
        inputs = model.data_preprocessor(data, training=False)['inputs']
        out = {m: e(inputs[m]) for m, e in model.encoders.items()}
    model.train(was_training)
    return out


@pytest.mark.parametrize('training', [True, False], ids=['train', 'eval'])
def test_extract_modality_features(model, training):
    model.train(training)
    bn = model.encoders['visual'].backbone.conv1.bn
    running_mean = bn.running_mean.clone()

    feats = model.extract_modality_features(_batch(seed=3))

    assert list(feats) == ['tab', 'visual', 'audio']
    for m, f in feats.items():
        assert f.shape == (N, FEAT_DIMS[m]), m
        assert not f.requires_grad, m
        assert f.grad_fn is None, m
    # Mode restored, down to the submodules; BN statistics untouched.
    assert model.training is training
    assert all(mod.training is training for mod in model.modules())
    assert torch.equal(bn.running_mean, running_mean)

    expected = _encoder_outputs_eval(model, _batch(seed=3))
    for m in feats:
        torch.testing.assert_close(feats[m], expected[m], rtol=1e-5, atol=1e-6)
    model.eval()


def test_extract_modality_features_uses_eval_mode_in_training(model):
    """In training mode the BN would use batch statistics: the features must
    not, so they differ from a train-mode forward of the encoder."""
    model.train()
    feats = model.extract_modality_features(_batch(seed=4))
    inputs = model.data_preprocessor(_batch(seed=4), training=False)['inputs']
    state = copy.deepcopy(model.encoders['tab'].state_dict())
    with torch.no_grad():
        train_mode = model.encoders['tab'](inputs['tab'])
    model.encoders['tab'].load_state_dict(state)  # undo running-stat update
    assert not torch.allclose(train_mode, feats['tab'])
    model.eval()


def test_extract_modality_features_subset(model):
    feats = model.extract_modality_features(
        _batch(seed=5), modalities=['audio', 'tab'])
    assert list(feats) == ['audio', 'tab']
    expected = _encoder_outputs_eval(model, _batch(seed=5))
    torch.testing.assert_close(
        feats['audio'], expected['audio'], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(feats['tab'], expected['tab'])
    # Modalities that were not asked for need not be in the batch.
    only_tab = model.extract_modality_features(
        _batch(seed=5, drop=('visual', 'audio')), modalities=['tab'])
    torch.testing.assert_close(only_tab['tab'], expected['tab'])


def test_extract_modality_features_unknown_modality(model):
    model.train()
    with pytest.raises(KeyError) as err:
        model.extract_modality_features(_batch(), modalities=['tab', 'depth'])
    assert "['depth']" in str(err.value)
    assert "['tab', 'visual', 'audio']" in str(err.value)
    assert model.training  # nothing was changed
    model.eval()


def test_batch_lacking_a_modality(model):
    model.train()
    with pytest.raises(KeyError) as err:
        model.extract_modality_features(_batch(drop=('audio', )))
    msg = str(err.value)
    assert "lacks the modalities ['audio']" in msg
    assert "['tab', 'visual']" in msg
    assert model.training  # restored after the error too

    data = model.data_preprocessor(_batch(drop=('visual', )), training=True)
    for mode in ('loss', 'predict', 'tensor'):
        with pytest.raises(KeyError, match=r"\['visual'\]"):
            model(**data, mode=mode)
    model.eval()


def test_explicit_wrong_head_in_channels():
    with pytest.raises(ValueError) as err:
        _build(
            cls_head=dict(
                type='LinearClsHead', num_classes=NUM_CLASSES,
                in_channels=512))
    msg = str(err.value)
    assert 'cls_head.in_channels=512' in msg
    assert 'ConcatFusion output width 1040' in msg


def test_explicit_right_head_in_channels_is_accepted():
    cfg = dict(
        encoders=dict(tab=MODEL_CFG['encoders']['tab']),
        cls_head=dict(
            type='LinearClsHead', num_classes=NUM_CLASSES, in_channels=16))
    model = _build(**cfg)
    assert model.cls_head.in_channels == 16
    assert model.modalities == ('tab', )


def test_no_encoder_is_an_error():
    with pytest.raises(ValueError, match='at least one encoder'):
        _build(encoders={})


@pytest.mark.parametrize(
    'fusion,out_dim', [
        (dict(type='SumFusion', out_channels=32), 32),
        (dict(type='FiLMFusion', condition='tab', out_channels=24), 24),
        (dict(type='GatedFusion', gate='audio', out_channels=8), 8),
    ],
    ids=['sum', 'film', 'gated'])
def test_fusion_swapped_by_config(fusion, out_dim):
    model = _build(fusion=fusion)
    assert type(model.fusion).__name__ == fusion['type']
    assert model.fusion.in_dims == FEAT_DIMS
    assert model.fusion.out_dim == out_dim
    assert model.cls_head.in_channels == out_dim
    assert model.cls_head.fc_cls.weight.shape == (NUM_CLASSES, out_dim)
    model.eval()
    data = model.data_preprocessor(_batch(), training=False)
    with torch.no_grad():
        feats = model.extract_feat(data['inputs'])
        fused = model.fusion(feats)
        logits = model(**data, mode='tensor')
    assert fused.shape == (N, out_dim)
    assert logits.shape == (N, NUM_CLASSES)
    torch.testing.assert_close(logits, model.cls_head(fused))


# ------------------------------------------------------------ init_weights
# The top-level call, as the Runner makes it, must reach every encoder,
# backbone and conv block, and load Pretrained encoders.
SENTINEL = 123.0


def _model_cfg(checkpoint=None):
    audio = dict(
        type='SpectrogramEncoder',
        backbone=dict(type='ResNet', depth=18, in_channels=1, pretrained=None),
        feat_dim=512)
    if checkpoint is not None:
        audio['init_cfg'] = dict(
            type='Pretrained', checkpoint=checkpoint, prefix='backbone.')
    return dict(
        type='MultiModalRecognizer',
        encoders=dict(
            audio=audio,
            visual=dict(
                type='FrameEncoder',
                feat_dim=64,
                backbone=dict(type='SmallCNN', channels=(32, 64),
                              num_convs=2)),
            tab=dict(type='MLPEncoder', in_channels=6, hidden_channels=(8, ))),
        fusion=dict(type='SumFusion', out_channels=16),
        cls_head=dict(type='LinearClsHead', num_classes=4))


def _build_poisoned(cfg):
    """Build a model and set every parameter to a value no init produces."""
    torch.manual_seed(0)
    model = MODELS.build(cfg)
    with torch.no_grad():
        for param in model.parameters():
            param.fill_(SENTINEL)
    return model


def _untouched(module):
    return [
        name for name, param in module.named_parameters()
        if (param == SENTINEL).any()
    ]


def test_top_level_call_loads_the_pretrained_encoder(tmp_path):
    path = tmp_path / 'tsn_r18_rgb.pth'
    expected = backbone_items(write_mmaction_checkpoint(path))
    model = _build_poisoned(_model_cfg(str(path)))

    model.init_weights()

    loaded = model.encoders['audio'].backbone.state_dict()
    assert set(loaded) == set(expected)
    for key, value in expected.items():
        if key == 'conv1.conv.weight':  # RGB -> 1 channel
            value = channel_mean(value, 1)
        assert torch.equal(loaded[key], value), key


def test_top_level_call_runs_every_own_initialisation():
    model = _build_poisoned(_model_cfg())

    model.init_weights()

    # mmaction2's ResNet: Kaiming convolutions, BatchNorm weight 1, bias 0.
    resnet = model.encoders['audio'].backbone
    assert _untouched(resnet) == []
    for name, module in resnet.named_modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            assert torch.equal(module.weight, torch.ones_like(module.weight))
            assert torch.equal(module.bias, torch.zeros_like(module.bias))

    # SmallCNN's ConvModules (inside mmengine Sequential / ModuleList).
    small_cnn = model.encoders['visual'].backbone
    assert _untouched(small_cnn) == []
    blocks = [m for m in small_cnn.modules() if isinstance(m, ConvModule)]
    assert len(blocks) == 4
    for block in blocks:
        assert block.conv.bias is None  # 'auto': no bias before a norm
        assert torch.equal(block.norm.weight,
                           torch.ones_like(block.norm.weight))
        assert torch.equal(block.norm.bias, torch.zeros_like(block.norm.bias))
    # ConvModule's kaiming_init: normal, fan_out, std sqrt(2 / fan_out); torch
    # would draw U(+-1 / sqrt(fan_in)), std 0.58 / sqrt(fan_in).
    weight = blocks[-1].conv.weight  # (64, 64, 3, 3)
    assert weight.std().item() == pytest.approx(
        math.sqrt(2 / (64 * 9)), rel=0.05)

    # The head's Normal(std=0.01) init_cfg.
    fc = model.cls_head.fc_cls
    assert _untouched(model.cls_head) == []
    assert torch.equal(fc.bias, torch.zeros_like(fc.bias))
    assert fc.weight.std().item() == pytest.approx(0.01, rel=0.3)
    # Plain torch layers without an init of their own (MLP, fusion) keep
    # what they were given: mmdr sets no init for them.
    assert _untouched(model.encoders['tab'])
    assert _untouched(model.fusion)


def test_head_slices_add_up_to_the_fused_logits():
    from balancer_models import batch, build
    model = build()
    model.eval()
    data = model.data_preprocessor(batch(), False)
    feats = model.extract_feat(data['inputs'])
    slices = model.unimodal_logits(feats, 'fused_head')
    assert {
        m: s.shape
        for m, s in slices.items()
    } == {
        'audio': (12, 4),
        'visual': (12, 4)
    }
    fused = model.cls_head(model.fusion(feats))
    torch.testing.assert_close(slices['audio'] + slices['visual'], fused)
    # Each slice is its modality's features times its part of the weight.
    fc = model.cls_head.fc_cls
    torch.testing.assert_close(
        slices['visual'], feats['visual'] @ fc.weight[:, 7:].t() + fc.bias / 2)
    weights = model.fused_head_slices()
    assert torch.equal(
        torch.cat([weights['audio'], weights['visual']], 1), fc.weight)
    assert weights['audio'].shape == (4, 7)


def test_uni_modal_heads_on_a_regression_head_are_refused():
    with pytest.raises(
            ValueError,
            match='model.unimodal_head takes num_classes from '
            'model.cls_head, but LinearRegHead has none'):
        _build(
            cls_head=dict(type='LinearRegHead'),
            unimodal_head=dict(type='LinearClsHead'))


def test_unimodal_heads_classify_each_encoder_alone():
    from balancer_models import batch, build
    model = build(unimodal_head=dict(type='LinearClsHead', dropout=0.5))
    assert {
        m: h.fc_cls.in_features
        for m, h in model.unimodal_heads.items()
    } == dict(
        audio=7, visual=9)
    assert all(h.num_classes == 4 for h in model.unimodal_heads.values())
    model.eval()
    feats = model.extract_feat(
        model.data_preprocessor(batch(), False)['inputs'])
    logits = model.unimodal_logits(feats, 'unimodal_heads')
    torch.testing.assert_close(
        logits['audio'], model.unimodal_heads['audio'].fc_cls(feats['audio']))
    with pytest.raises(ValueError, match="unknown source .*'slices'"):
        model.unimodal_logits(feats, 'slices')


def test_modalities_builds_and_trains_a_subset_of_the_encoders():
    from balancer_models import batch, build
    model = build(modalities=['visual'])
    assert model.modalities == ('visual', )
    assert [n for n, _ in model.named_children() if n == 'encoders'] and list(
        model.encoders) == ['visual']
    assert model.fusion.in_dims == dict(visual=9)
    # The data still hold every modality; the default preprocessor stacks
    # them all and the model reads its own.
    losses = model(**model.data_preprocessor(batch(), True), mode='loss')
    assert losses['loss_cls'].requires_grad
    with pytest.raises(
            ValueError,
            match=r"model.modalities=\['text'\] must "
            r"name some of the configured encoders \['audio', "):
        build(modalities=['text'])


@MODELS.register_module()
class _SumOfSliceLogits(UnimodalAuxLoss):
    """Predicts with the sum of the uni-modal heads' logits."""

    def predict_scores(self, model, feats):
        return sum(model.unimodal_logits(feats, 'unimodal_heads').values())


def test_a_balancer_with_its_own_scores_changes_prediction():
    """predict and tensor modes use the balancer's scores where it defines
    them, and the head's on the fused feature where it does not."""
    own = _build(
        unimodal_head=dict(type='LinearClsHead'),
        balancer=dict(type='_SumOfSliceLogits'))
    plain = _build(
        unimodal_head=dict(type='LinearClsHead'),
        balancer=dict(type='UnimodalAuxLoss'))
    plain.load_state_dict(own.state_dict())
    for model in (own, plain):
        model.eval()
    data = own.data_preprocessor(_batch(seed=4), training=False)
    with torch.no_grad():
        feats = own.extract_feat(data['inputs'])
        expected = sum(own.unimodal_logits(feats, 'unimodal_heads').values())
        fused = own.cls_head(own.fusion(feats))
        torch.testing.assert_close(own(**data, mode='tensor'), expected)
        torch.testing.assert_close(plain(**data, mode='tensor'), fused)
        preds = own(**copy.deepcopy(data), mode='predict')
    assert not torch.allclose(expected, fused)
    for i, sample in enumerate(preds):
        torch.testing.assert_close(sample.pred_scores.item,
                                   F.softmax(expected[i], dim=0))
