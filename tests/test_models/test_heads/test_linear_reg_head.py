import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmaction.structures import ActionDataSample

from mmdr.models.heads import LinearRegHead
from mmdr.registry import MODELS
from mmdr.utils import register_all_modules

register_all_modules()


def _samples(targets, key='sentiment'):
    samples = []
    for y in targets:
        first = np.asarray(y, dtype=np.float32).ravel()[0]
        sample = ActionDataSample().set_gt_labels(int(first >= 0))
        sample.set_metainfo({key: y})
        samples.append(sample)
    return samples


def _head(**kwargs):
    torch.manual_seed(0)
    cfg = dict(type='LinearRegHead', in_channels=8)
    cfg.update(kwargs)
    head = MODELS.build(cfg)
    head.init_weights()
    return head


def test_structure_and_default_init():
    head = _head()
    assert isinstance(head, LinearRegHead)
    # No class count: D&R's k comes from the data set (or num_clusters).
    assert not hasattr(head, 'num_classes')
    assert (head.fc_reg.in_features, head.fc_reg.out_features) == (8, 1)
    assert isinstance(head.dropout, torch.nn.Identity)
    assert torch.equal(head.fc_reg.bias, torch.zeros(1))
    assert 0 < head.fc_reg.weight.std().item() < 0.05
    x = torch.randn(3, 8)
    out = head(x)
    assert out.shape == (3, 1)
    torch.testing.assert_close(out, x @ head.fc_reg.weight.T)


@pytest.mark.parametrize('name,fn', [('l1', F.l1_loss), ('mse', F.mse_loss),
                                     ('smooth_l1', F.smooth_l1_loss)])
def test_loss_equals_torch_loss(name, fn):
    head = _head(loss=name)
    with torch.no_grad():
        head.fc_reg.weight.normal_(0, 1)
    feats = torch.randn(5, 8)
    targets = [-3.0, -0.4, 0.0, 1.2, 2.6]
    losses = head.loss(feats, _samples(targets))
    assert set(losses) == {'loss_reg'}
    expected = fn(head(feats).squeeze(1), torch.tensor(targets))
    torch.testing.assert_close(losses['loss_reg'], expected)
    assert losses['loss_reg'].ndim == 0
    losses['loss_reg'].backward()
    assert head.fc_reg.weight.grad.abs().sum() > 0


def test_target_types_and_key():
    head = _head(target_key='score')
    feats = torch.randn(4, 8)
    targets = [1.5, np.float32(-2.0), torch.tensor(0.25), torch.tensor([-1.])]
    losses = head.loss(feats, _samples(targets, key='score'))
    expected = F.l1_loss(
        head(feats).squeeze(1), torch.tensor([1.5, -2., 0.25, -1.]))
    torch.testing.assert_close(losses['loss_reg'], expected)


def test_bad_targets():
    head = _head()
    feats = torch.randn(2, 8)
    with pytest.raises(KeyError, match="'sentiment'"):
        head.loss(feats, _samples([1., 2.], key='label'))
    with pytest.raises(ValueError, match='holds 2 values'):
        head.loss(feats, _samples([1., [1., 2.]]))
    with pytest.raises(ValueError, match='2 scores but 3 data samples'):
        head.loss(feats, _samples([1., 2., 3.]))
    with pytest.raises(ValueError, match='loss must be one of'):
        _head(loss='huber')


def test_predict_sets_score_and_binary_label():
    head = _head()
    with torch.no_grad():
        head.fc_reg.weight.zero_()
        head.fc_reg.weight[0, 0] = 1.
    feats = torch.zeros(4, 8)
    feats[:, 0] = torch.tensor([-1.5, 0., 0.3, 2.])
    samples = _samples([-1., 0., 1., 2.])
    out = head.predict(feats, samples)
    assert out is samples
    for sample, score, label in zip(out, [-1.5, 0., 0.3, 2.], [0, 1, 1, 1]):
        item = sample.pred_scores.item
        assert item.shape == (1, ) and item.dtype == torch.float32
        assert not item.requires_grad
        torch.testing.assert_close(item, torch.tensor([score]))
        assert sample.pred_labels.item.tolist() == [label]
    # The targets stay where a metric reads them.
    assert [s.metainfo['sentiment'] for s in out] == [-1., 0., 1., 2.]


def test_dropout_is_active_in_training_only():
    head = _head(dropout=0.5)
    x = torch.ones(64, 8)
    head.eval()
    torch.testing.assert_close(head(x), head.fc_reg(x))
    head.train()
    torch.manual_seed(0)
    assert not torch.allclose(head(x), head.fc_reg(x))


# A MOSI-like recogniser: transformer (text, audio) and LSTM (vision) over
# word-aligned sequences, concatenation and the regression head.
N = 12
LEN = 50
WIDTHS = dict(text=300, audio=5, vision=20)
MODEL_CFG = dict(
    type='MultiModalRecognizer',
    encoders=dict(
        text=dict(
            type='SequenceTransformerEncoder',
            in_channels=WIDTHS['text'],
            embed_dims=16,
            num_layers=1,
            num_heads=4,
            dropout=0.0),
        audio=dict(
            type='SequenceTransformerEncoder',
            in_channels=WIDTHS['audio'],
            embed_dims=8,
            num_layers=1,
            num_heads=2,
            pooling='cls',
            pos_encoding='learned',
            input_norm=True,
            dropout=0.0),
        vision=dict(
            type='LSTMEncoder',
            in_channels=WIDTHS['vision'],
            hidden_channels=6,
            bidirectional=True)),
    fusion=dict(type='ConcatFusion'),
    cls_head=dict(type='LinearRegHead'))
FEAT_DIMS = dict(text=16, audio=8, vision=12)


def _batch(seed=0):
    """A dataloader batch: padded (L, d) sequences, padding on both sides,
    and a target that is a function of the text and audio inputs."""
    gen = torch.Generator().manual_seed(seed)
    inputs = {m: [] for m in WIDTHS}
    samples = []
    for _ in range(N):
        length = int(torch.randint(5, LEN + 1, (1, ), generator=gen))
        start = int(torch.randint(0, LEN - length + 1, (1, ), generator=gen))
        steps = []
        for m, width in WIDTHS.items():
            seq = torch.zeros(LEN, width)
            seq[start:start + length] = torch.randn(
                length, width, generator=gen)
            inputs[m].append(seq)
            steps.append(seq[start:start + length])
        target = 3 * torch.tanh(steps[0][:, 0].mean() * 4 +
                                steps[1][:, 1].mean())
        sample = ActionDataSample().set_gt_labels(int(target >= 0))
        sample.set_metainfo(dict(sentiment=float(target)))
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)


@pytest.fixture
def model():
    torch.manual_seed(0)
    model = MODELS.build(copy.deepcopy(MODEL_CFG))
    model.init_weights()
    return model


def test_recognizer_dims_and_modality_features(model):
    assert model.modalities == ('text', 'audio', 'vision')
    assert model.fusion.out_dim == 36
    assert model.cls_head.in_channels == 36
    feats = model.extract_modality_features(_batch())
    assert {
        m: tuple(f.shape)
        for m, f in feats.items()
    } == {
        m: (N, d)
        for m, d in FEAT_DIMS.items()
    }
    assert all(torch.isfinite(f).all() for f in feats.values())
    assert model.training  # restored


def test_recognizer_loss_decreases_with_sgd(model):
    data = model.data_preprocessor(_batch(), training=True)
    assert data['inputs']['text'].shape == (N, LEN, WIDTHS['text'])
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    model.train()
    losses = []
    for _ in range(15):
        loss = model(**data, mode='loss')['loss_reg']
        optimizer.zero_grad()
        loss.backward()
        if not losses:
            for m, encoder in model.encoders.items():
                assert all(p.grad is not None for p in encoder.parameters()), m
        optimizer.step()
        losses.append(loss.item())
    assert all(np.isfinite(losses))
    assert losses[-1] < 0.7 * losses[0], losses


def test_recognizer_predict_and_tensor_modes(model):
    model.eval()
    data = model.data_preprocessor(_batch(seed=1), training=False)
    with torch.no_grad():
        scores = model(**data, mode='tensor')
        preds = model(**copy.deepcopy(data), mode='predict')
    assert scores.shape == (N, 1)
    assert len(preds) == N
    for i, sample in enumerate(preds):
        item = sample.pred_scores.item
        assert item.shape == (1, )
        torch.testing.assert_close(item, scores[i])
        assert sample.pred_labels.item.tolist() == [int(scores[i] >= 0)]
        assert isinstance(sample.metainfo['sentiment'], float)
