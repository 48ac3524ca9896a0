import pytest
import torch
import torch.nn.functional as F
from mmaction.structures import ActionDataSample

from mmdr.models.heads import LinearClsHead
from mmdr.registry import MODELS
from mmdr.utils import register_all_modules

register_all_modules()


def _samples(labels):
    return [ActionDataSample().set_gt_labels(int(y)) for y in labels]


def _head(**kwargs):
    torch.manual_seed(0)
    cfg = dict(type='LinearClsHead', num_classes=5, in_channels=8)
    cfg.update(kwargs)
    head = MODELS.build(cfg)
    head.init_weights()
    return head


def test_structure_and_default_init():
    head = _head()
    assert isinstance(head, LinearClsHead)
    assert (head.fc_cls.in_features, head.fc_cls.out_features) == (8, 5)
    assert isinstance(head.dropout, torch.nn.Identity)
    assert torch.equal(head.fc_cls.bias, torch.zeros(5))
    assert 0 < head.fc_cls.weight.std().item() < 0.05
    x = torch.randn(3, 8)
    torch.testing.assert_close(head(x), x @ head.fc_cls.weight.T)


def test_loss_equals_torch_cross_entropy():
    head = _head()
    with torch.no_grad():
        head.fc_cls.weight.normal_(0, 1)
        head.fc_cls.bias.normal_(0, 1)
    torch.manual_seed(1)
    feats = torch.randn(6, 8)
    labels = torch.tensor([0, 1, 2, 3, 4, 1])
    losses = head.loss(feats, _samples(labels))
    logits = head(feats)
    expected = F.cross_entropy(logits, labels)
    assert set(losses) == {'loss_cls', 'top1_acc', 'top5_acc'}
    torch.testing.assert_close(losses['loss_cls'], expected)
    top1 = (logits.argmax(1) == labels).double().mean()
    torch.testing.assert_close(losses['top1_acc'].double(), top1)
    assert losses['top5_acc'].item() == 1.0  # 5 classes: always in top 5
    losses['loss_cls'].backward()
    assert head.fc_cls.weight.grad is not None


def test_loss_batch_of_one_and_label_smoothing():
    head = _head(topk=(1, ))
    torch.manual_seed(2)
    feats = torch.randn(1, 8)
    losses = head.loss(feats, _samples([3]))
    torch.testing.assert_close(losses['loss_cls'],
                               F.cross_entropy(head(feats), torch.tensor([3])))

    smooth = _head(label_smooth_eps=0.1, topk=(1, ))
    feats = torch.randn(4, 8)
    labels = torch.tensor([0, 2, 4, 1])
    losses = smooth.loss(feats, _samples(labels))
    torch.testing.assert_close(
        losses['loss_cls'],
        F.cross_entropy(smooth(feats), labels, label_smoothing=0.1))


def test_predict_sets_probabilities_and_argmax():
    head = _head()
    with torch.no_grad():
        head.fc_cls.weight.normal_(0, 1)
    head.eval()
    torch.manual_seed(3)
    feats = torch.randn(4, 8)
    samples = _samples([0, 1, 2, 3])
    out = head.predict(feats, samples)
    assert out is samples and len(out) == 4
    probs = F.softmax(head(feats), dim=1)
    for i, sample in enumerate(out):
        scores = sample.pred_scores.item
        assert scores.shape == (5, )
        assert (scores >= 0).all()
        torch.testing.assert_close(scores.sum(), torch.tensor(1.))
        torch.testing.assert_close(scores, probs[i])
        assert sample.pred_labels.item.tolist() == [int(probs[i].argmax())]
        assert sample.gt_labels.item.tolist() == [i]


def test_predict_with_score_averaging_gives_logits():
    head = _head(average_clips='score')
    feats = torch.randn(2, 8)
    out = head.predict(feats, _samples([0, 1]))
    logits = head(feats)
    for i, sample in enumerate(out):
        torch.testing.assert_close(sample.pred_scores.item, logits[i])
        assert sample.pred_labels.item.item() == logits[i].argmax().item()


def test_dropout_is_active_in_training_only():
    head = _head(dropout=0.5)
    assert isinstance(head.dropout, torch.nn.Dropout)
    x = torch.ones(64, 8)
    head.eval()
    torch.testing.assert_close(head(x), head.fc_cls(x))
    head.train()
    torch.manual_seed(0)
    assert not torch.allclose(head(x), head.fc_cls(x))


def test_wrong_feature_width_fails():
    head = _head()
    with pytest.raises(RuntimeError):
        head(torch.randn(2, 7))
