"""PMR: prototypes against class means computed here, the loss terms against
a hand computation as the authors' code does them, the errors, the
prototypes in real checkpoints (tools/train.py and the Runner on AV-Digits)
and identical ranks under DDP (2 processes)."""
import glob
import os.path as osp

import pytest
import torch
import torch.nn.functional as F
from balancer_models import NUM_CLASSES, WIDTHS, build
from balancer_test_hooks import parameter_dump_config
from conftest import REPO, data_root_cfg_options
from mmaction.structures import ActionDataSample
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from runs import build_runner, train_tool

from mmdr.registry import DATASETS, MODELS
from mmdr.utils import register_all_modules

register_all_modules()
CONFIG = osp.join(REPO, 'configs/pmr_avdigits.py')


def _pmr(**kwargs):
    return build(balancer=dict(type='PMR', **kwargs))


def _batch(labels, seed):
    """A batch as a dataloader yields it: per modality a list of samples."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.tensor(labels)
    return dict(
        inputs={
            m:
            list(
                torch.randn(len(labels), w, generator=g) +
                labels[:, None].float())
            for m, w in WIDTHS.items()
        },
        data_samples=[ActionDataSample().set_gt_labels(y) for y in labels])


#: Four batches; the first two lack class 3.
BATCHES = [
    _batch([0, 1, 2, 0, 1], 1),
    _batch([2, 2, 1, 0], 2),
    _batch([3, 0, 3, 1, 2], 3),
    _batch([1, 3, 0, 2, 2, 3], 4)
]


def _class_means(model, batches):
    """Eval-mode encoder outputs, averaged per class with plain loops."""
    model.eval()
    sums = {m: [0.0] * NUM_CLASSES for m in WIDTHS}
    counts = [0] * NUM_CLASSES
    with torch.no_grad():
        for data in batches:
            for m in WIDTHS:
                feats = model.encoders[m](torch.stack(data['inputs'][m]))
                for f, s in zip(feats, data['data_samples']):
                    sums[m][int(s.gt_labels.item)] += f
            for s in data['data_samples']:
                counts[int(s.gt_labels.item)] += 1
    model.train()
    return {
        m: torch.stack([sums[m][c] / counts[c] for c in range(NUM_CLASSES)])
        for m in WIDTHS
    }


def test_buffers_have_a_prototype_per_class_and_modality():
    model = _pmr()
    state = model.state_dict()
    assert state['balancer.prototypes_audio'].shape == (NUM_CLASSES, 7)
    assert state['balancer.prototypes_visual'].shape == (NUM_CLASSES, 9)
    assert int(state['balancer.proto_epoch']) == 0


def test_prototypes_are_class_means_then_blended_with_momentum():
    model = _pmr(momentum=0.25, proto_fraction=1.0)
    assert model.balancer.compute_prototypes(model, BATCHES, 1) == 20
    first = _class_means(model, BATCHES)
    for m in WIDTHS:
        torch.testing.assert_close(model.balancer.prototypes(m), first[m])
    assert model.training  # the pass restores the mode

    # The code's second pass (its epoch 0 after training) takes plain
    # means too; from epoch 3 on the previous prototypes are blended in.
    with torch.no_grad():
        for p in model.encoders.parameters():
            p.mul_(1.5)
    model.balancer.compute_prototypes(model, BATCHES, 2)
    second = _class_means(model, BATCHES)
    for m in WIDTHS:
        torch.testing.assert_close(model.balancer.prototypes(m), second[m])
    with torch.no_grad():
        for p in model.encoders.parameters():
            p.mul_(0.5)
    model.balancer.compute_prototypes(model, BATCHES, 3)
    third = _class_means(model, BATCHES)
    for m in WIDTHS:
        torch.testing.assert_close(
            model.balancer.prototypes(m), 0.75 * third[m] + 0.25 * second[m])
    assert int(model.balancer.proto_epoch) == 3


def test_a_pass_reads_its_fraction_of_batches_and_keeps_unseen_classes():
    model = _pmr(momentum=0.0, proto_fraction=0.5)
    # The first pass: two of four batches lack class 3, so the pass is
    # redone on all batches.
    assert model.balancer.compute_prototypes(model, BATCHES, 1) == 20
    everything = _class_means(model, BATCHES)
    for m in WIDTHS:
        torch.testing.assert_close(model.balancer.prototypes(m), everything[m])
    # Later passes read the first half; class 3 keeps its prototype.
    with torch.no_grad():
        for p in model.encoders.parameters():
            p.add_(0.1)
    assert model.balancer.compute_prototypes(model, BATCHES, 4) == 9
    # Rows 0-2 are the means of the first two batches; the extra class-3
    # sample only keeps row 3 defined.
    half = _class_means(model, BATCHES[:2] + [_batch([3], 9)])
    for m in WIDTHS:
        got = model.balancer.prototypes(m)
        torch.testing.assert_close(got[:3], half[m][:3])
        torch.testing.assert_close(got[3], everything[m][3])


def test_a_class_without_training_samples_is_an_error():
    model = _pmr(proto_fraction=1.0)
    with pytest.raises(ValueError, match=r'no sample of classes \[3\]'):
        model.balancer.compute_prototypes(model, BATCHES[:2], 1)


def _hand_loss(model, feats, labels, alpha):
    """The authors' train_epoch terms, written out: EU_dist, softmax scores,
    ratio audio / visual, alpha times the weaker one's cross entropy."""
    logits, scores = {}, {}
    for m in WIDTHS:
        protos = model.balancer.prototypes(m)
        dist = torch.stack([
            torch.stack([torch.sqrt(torch.dot(f - p, f - p)) for p in protos])
            for f in feats[m]
        ])
        logits[m] = -dist
        prob = F.softmax(-dist, dim=1)
        scores[m] = sum(prob[i, labels[i]] for i in range(len(labels)))
    ratio = scores['audio'] / scores['visual']
    beta = 0.0 if ratio > 1 else alpha  # audio
    lam = alpha if ratio > 1 else 0.0  # visual
    ce = {m: F.cross_entropy(logits[m], labels) for m in WIDTHS}
    return dict(audio=beta * ce['audio'], visual=lam * ce['visual']), ratio


@pytest.mark.parametrize('weaker', ['audio', 'visual'])
def test_loss_adds_the_weaker_modalitys_prototype_loss(weaker, epoch):
    alpha = 1.7
    model = _pmr(alpha=alpha, proto_fraction=1.0)
    model.balancer.compute_prototypes(model, BATCHES, 1)
    epoch(1)
    data = BATCHES[3]
    labels = torch.stack([s.gt_labels.item
                          for s in data['data_samples']]).view(-1)
    torch.manual_seed(0)
    feats = {
        m: torch.randn(len(labels), model.encoders[m].feat_dim)
        for m in WIDTHS
    }
    # The other modality's features sit on their class prototypes.
    other = 'visual' if weaker == 'audio' else 'audio'
    feats[other] = model.balancer.prototypes(
        other)[labels] + 0.01 * feats[other]
    feats = {m: f.requires_grad_() for m, f in feats.items()}

    losses = model.balancer.loss(model, feats, data['data_samples'])
    expected, ratio = _hand_loss(model, feats, labels, alpha)
    assert (ratio > 1) == (weaker == 'visual')
    torch.testing.assert_close(losses[f'loss_proto_{weaker}'],
                               expected[weaker])
    assert expected[weaker] > 0
    assert losses[f'loss_proto_{other}'].item() == 0
    assert not losses[f'loss_proto_{other}'].requires_grad
    torch.testing.assert_close(losses['pmr_ratio'], ratio.detach())
    fused = model.cls_head.loss(model.fusion(feats), data['data_samples'])
    torch.testing.assert_close(losses['loss_cls'], fused['loss_cls'])
    # Only the weaker modality's features get the prototype gradient.
    losses[f'loss_proto_{weaker}'].backward()
    assert feats[weaker].grad.abs().sum() > 0 and feats[other].grad is None


def test_outside_its_epochs_the_loss_is_the_fused_loss(epoch):
    model = _pmr(begin_epoch=2, end_epoch=3, proto_fraction=1.0)
    model.balancer.compute_prototypes(model, BATCHES, 1)
    epoch(1)
    data = BATCHES[0]
    feats = model.extract_feat({
        m: torch.stack(x)
        for m, x in data['inputs'].items()
    })
    losses = model.balancer.loss(model, feats, data['data_samples'])
    assert not [k for k in losses if 'proto' in k or 'pmr' in k]
    torch.testing.assert_close(
        losses['loss_cls'],
        model.cls_head.loss(model.fusion(feats),
                            data['data_samples'])['loss_cls'])
    epoch(4)  # after end_epoch: no prototypes needed
    model.balancer.loss(model, feats, data['data_samples'])


def test_training_without_fresh_prototypes_names_the_hook(epoch):
    model = _pmr()
    data = BATCHES[0]
    inputs = {m: torch.stack(x) for m, x in data['inputs'].items()}
    with pytest.raises(RuntimeError, match='never computed.*BalancerHook'):
        model.loss(inputs, data['data_samples'])
    model.balancer.compute_prototypes(model, BATCHES, 1)
    epoch(2)
    with pytest.raises(RuntimeError, match='last computed for epoch 1'):
        model.loss(inputs, data['data_samples'])


def test_bad_values_are_refused_at_build():
    with pytest.raises(ValueError, match='PMR: momentum=1.0 is invalid'):
        _pmr(momentum=1.0)
    with pytest.raises(ValueError, match='PMR: proto_fraction=0 is invalid'):
        _pmr(proto_fraction=0)


def _pmr_with(**overrides):
    return build(balancer=dict(type='PMR'), **overrides)


# ----------------------------------------------------------------------
# real runs on AV-Digits (20 training samples: one batch, so the shipped
# proto_fraction=0.1 reads all of them)
# ----------------------------------------------------------------------
def _checkpoint_class_means(path, data_root):
    """Class means of the training features of a checkpoint's encoders,
    computed here: eval mode, every training sample."""
    cfg = Config.fromfile(CONFIG)
    model = MODELS.build(cfg.model)
    model.load_state_dict(torch.load(path)['state_dict'])
    model.eval()
    dataset_cfg = cfg.train_dataloader.dataset
    dataset_cfg.data_root = data_root
    dataset = DATASETS.build(dataset_cfg)
    data = model.data_preprocessor(
        pseudo_collate([dataset[i] for i in range(len(dataset))]), False)
    labels = torch.stack([s.gt_labels.item
                          for s in data['data_samples']]).view(-1)
    with torch.no_grad():
        return {
            m:
            torch.stack([
                model.encoders[m](data['inputs'][m])[labels == c].mean(0)
                for c in range(10)
            ])
            for m in model.modalities
        }


def test_checkpoints_hold_the_prototypes_of_the_previous_epoch(
        avdigits_root, tmp_path):
    """The Runner, 3 epochs: epoch_E.pth holds the prototypes epoch E
    trained with: plain class means of epoch_1.pth's encoders in
    epoch_2.pth, then momentum 0.2 in epoch_3.pth."""
    work = tmp_path / 'work'
    runner = build_runner(
        CONFIG, work,
        [*data_root_cfg_options(avdigits_root), 'train_cfg.max_epochs=3'])
    runner.train()
    (log, ) = glob.glob(str(work / '*' / '*.log'))
    log = open(log).read()
    assert 'PMR: prototypes for epoch 3 from 20 training samples' in log
    assert 'loss_proto_audio' in log and 'pmr_ratio' in log
    ckpt = {
        e: torch.load(work / f'epoch_{e}.pth')['state_dict']
        for e in (1, 2, 3)
    }
    for e, state in ckpt.items():
        assert int(state['balancer.proto_epoch']) == e
    means = {
        e: _checkpoint_class_means(work / f'epoch_{e}.pth', avdigits_root)
        for e in (1, 2)
    }
    for m in ('audio', 'visual'):
        second = ckpt[2][f'balancer.prototypes_{m}']
        third = ckpt[3][f'balancer.prototypes_{m}']
        torch.testing.assert_close(second, means[1][m])
        torch.testing.assert_close(third, 0.8 * means[2][m] + 0.2 * second)


@pytest.mark.slow
def test_ranks_hold_identical_prototypes_and_weights_under_ddp(
        avdigits_root, tmp_path):
    """2 processes, 10 samples each: every rank ends with the same
    parameters and prototypes, and these are the class means of all 20
    samples (the sums are all-reduced) under the main process's encoders
    and BatchNorm statistics (the checkpoint's)."""
    config = parameter_dump_config(tmp_path, CONFIG)
    work = tmp_path / 'work'
    train_tool(
        work,
        [*data_root_cfg_options(avdigits_root), 'train_cfg.max_epochs=2'],
        nproc=2,
        config=config)
    ranks = [torch.load(work / f'rank{r}_parameters.pth') for r in (0, 1)]
    assert ranks[0].keys() == ranks[1].keys()
    assert 'balancer.prototypes_audio' in ranks[0]
    for name, value in ranks[0].items():
        assert torch.equal(value, ranks[1][name]), name
    means = _checkpoint_class_means(work / 'epoch_1.pth', avdigits_root)
    for m, value in means.items():
        torch.testing.assert_close(ranks[0][f'balancer.prototypes_{m}'], value)
