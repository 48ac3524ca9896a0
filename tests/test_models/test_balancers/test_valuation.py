"""Sample-level and modality-level valuation: the contributions and the
re-sampling rules on hand values; an epoch (valuation and its batches)
through BalancedOptimWrapper against a reference written here as the
authors' code does it; the documented effect of every argument; the errors;
the configs; and under DDP (2 processes) identical ranks that equal one
process holding the whole batch."""
import copy
import os.path as osp

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from balancer_ddp import two_ranks_equal_one_process, whole_batch_options
from balancer_models import WIDTHS, batch, build, sharpen_head
from conftest import REPO
from mmengine.config import Config
from test_configs.test_resume_every_config import \
    test_interrupted_and_resumed_run_is_bit_identical as \
    resumed_run_is_bit_identical

from mmdr.analysis.shapley import shapley_values
from mmdr.engine.optimizers import BalancedOptimWrapper
from mmdr.models.balancers import SampleValuation
from mmdr.models.balancers.valuation import (modality_level_copies,
                                             sample_contributions,
                                             sample_level_copies)
from mmdr.utils import register_all_modules

register_all_modules()

#: Encoders without BatchNorm and dropout: a copy forwarded again (the
#: authors) has the features of its sample (here, reused).
PLAIN_ENCODERS = {
    m:
    dict(
        type='MLPEncoder',
        in_channels=w,
        hidden_channels=(8, ),
        input_norm=False)
    for m, w in WIDTHS.items()
}
NUM_SAMPLES = 24
BATCH = 8


def _model(**kwargs):
    model = build(
        encoders=PLAIN_ENCODERS,
        balancer=dict(
            type='SampleValuation', **{
                'warmup_epochs': 0,
                **kwargs
            }))
    # A head far from uniform that weighs audio more: the modalities
    # contribute unequally.
    sharpen_head(model)
    with torch.no_grad():
        model.cls_head.fc_cls.weight[:, :8] *= 4
    return model


def _batches():
    """The training set in batches as a loader yields them, each data
    sample with its sample_idx."""
    data = batch(NUM_SAMPLES, seed=4)
    for i, sample in enumerate(data['data_samples']):
        sample.set_metainfo(dict(sample_idx=i))
    return [
        dict(
            inputs={
                m: x[s:s + BATCH]
                for m, x in data['inputs'].items()
            },
            data_samples=data['data_samples'][s:s + BATCH])
        for s in range(0, NUM_SAMPLES, BATCH)
    ]


def _params(model):
    return {n: p.detach().clone() for n, p in model.named_parameters()}


def _epoch(model, batches, number=1):
    """The method's epoch: the valuation, then a train_step per batch."""
    model.balancer.value(model, batches, NUM_SAMPLES, number, seed=0)
    wrapper = BalancedOptimWrapper(
        optimizer=torch.optim.SGD(model.parameters(), lr=0.1))
    for data in batches:
        log_vars = model.train_step(copy.deepcopy(data), wrapper)
    return _params(model), log_vars


def _authors_forward(model, audio, visual, drop):
    """code/models/models.py's forward: features, drop 1 zeroes audio's,
    drop 2 visual's, the concatenation head."""
    a = model.encoders['audio'](audio).clone()
    v = model.encoders['visual'](visual).clone()
    for i in range(len(drop or ())):
        if drop[i] == 1:
            a[i, :] = 0.0
        elif drop[i] == 2:
            v[i, :] = 0.0
    return a, v, model.cls_head(model.fusion(dict(audio=a, visual=v)))


def _authors_epoch(model, batches, level, part_ratio=0.2, alpha=1.0, number=1):
    """The authors' epoch on a copy of the model: execute_modulation's
    valuation, the re-sampled data set's copies (AV_KS_Dataset_sample_level
    / _modality_level: appended (index, drop) entries), then train_epoch's
    batches, each holding its samples' entries (their loader shuffles the
    entries over the epoch; here a sample's copies ride with it). Their
    np.random.choice draws are taken from the documented stream."""
    model = copy.deepcopy(model)
    model.balancer = None
    data = [model.data_preprocessor(copy.deepcopy(b), False) for b in batches]
    contribution = {}
    model.eval()
    with torch.no_grad():
        for b in data:
            label = [int(s.gt_labels.item) for s in b['data_samples']]
            a, v, out = _authors_forward(model, b['inputs']['audio'],
                                         b['inputs']['visual'], None)
            zero = dict(audio=torch.zeros_like(a), visual=torch.zeros_like(v))
            out_v = model.cls_head(
                model.fusion(dict(audio=zero['audio'], visual=v)))
            out_a = model.cls_head(
                model.fusion(dict(audio=a, visual=zero['visual'])))
            for i, s in enumerate(b['data_samples']):
                value_all = 2.0 if int(out[i].argmax()) == label[i] else 0.0
                value_v = 1.0 if int(out_v[i].argmax()) == label[i] else 0.0
                value_a = 1.0 if int(out_a[i].argmax()) == label[i] else 0.0
                contribution[s.sample_idx] = ((value_a + value_all - value_v) /
                                              2.0,
                                              (value_v + value_all - value_a) /
                                              2.0)
    entries = []  # (index, drop)
    length = NUM_SAMPLES
    if level == 'sample':
        for i in range(length):
            contrib_a, contrib_v = contribution[i]
            for contrib, drop in ((contrib_a, 2), (contrib_v, 1)):
                if 0.4 < contrib < 1:
                    entries += [(i, drop)]
                elif -0.1 < contrib < 0.4:
                    entries += [(i, drop)] * 2
                elif contrib < -0.1:
                    entries += [(i, drop)] * 3
    else:
        g = torch.Generator().manual_seed(number)  # epoch_seed(0, epoch)
        num = int(length * part_ratio)
        choice = torch.randint(length, (num, ), generator=g).tolist()
        part_cona = sum(contribution[i][0] for i in choice) / num
        part_conv = sum(contribution[i][1] for i in choice) / num
        gap_a, gap_v = 1.0 - part_cona, 1.0 - part_conv
        difference = (abs(gap_a - gap_v) / 3 * 2) * alpha
        resample_num = int(difference * length)
        for i in torch.randint(length, (resample_num, ), generator=g).tolist():
            entries.append((i, 2 if gap_a > gap_v else 1))
    model.train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    for b in data:
        index = [s.sample_idx for s in b['data_samples']]
        items = [(i, 0) for i in index] + [e for e in entries if e[0] in index]
        rows = torch.tensor([index.index(i) for i, _ in items])
        label = torch.stack(
            [b['data_samples'][r].gt_labels.item for r in rows]).view(-1)
        optimizer.zero_grad()
        _, _, out = _authors_forward(model, b['inputs']['audio'][rows],
                                     b['inputs']['visual'][rows],
                                     [d for _, d in items])
        F.cross_entropy(out, label).backward()
        optimizer.step()
    return _params(model), contribution, entries


def test_contributions_are_the_authors_shapley_values():
    # Every combination of (full, audio alone, visual alone) correct.
    full = torch.tensor([1, 1, 1, 1, 0, 0, 0, 0], dtype=torch.bool)
    audio = torch.tensor([1, 1, 0, 0, 1, 1, 0, 0], dtype=torch.bool)
    visual = torch.tensor([1, 0, 1, 0, 1, 0, 1, 0], dtype=torch.bool)
    values = sample_contributions(full, torch.stack([audio, visual]))
    torch.testing.assert_close(
        values,
        torch.tensor([[1.0, 1.5, 0.5, 1.0, 0.0, 0.5, -0.5, 0.0],
                      [1.0, 0.5, 1.5, 1.0, 0.0, -0.5, 0.5, 0.0]]))
    # mmdr's general Shapley values of the game v(S) = |S| if S predicts.
    general = shapley_values(
        ['audio', 'visual'], {
            frozenset(): 0.0,
            frozenset({'audio'}): audio.double().numpy(),
            frozenset({'visual'}): visual.double().numpy(),
            frozenset({'audio', 'visual'}): 2.0 * full.double().numpy()
        })
    torch.testing.assert_close(
        values,
        torch.from_numpy(np.stack([general['audio'],
                                   general['visual']])).float())
    # Efficiency: they add up to v(full) - v(empty).
    torch.testing.assert_close(values.sum(0), 2.0 * full.float())
    assert torch.equal(
        sample_level_copies(values),
        torch.tensor([[0, 0, 1, 0, 2, 1, 3, 2], [0, 1, 0, 0, 2, 3, 1, 2]]))


def test_modality_level_copies_keep_the_less_contributing_modality():
    contributions = torch.tensor([[0.0] * 10, [1.0] * 10])
    copies = modality_level_copies(contributions, 0.5, 1.0,
                                   torch.Generator().manual_seed(0))
    # Gaps 1 and 0: floor(2 / 3 * 10) = 6 copies keeping modality 0.
    assert copies[1].sum() == 0 and copies[0].sum() == 6
    copies = modality_level_copies(
        contributions.flip(0), 0.5, 1.0,
        torch.Generator().manual_seed(0))
    assert copies[0].sum() == 0 and copies[1].sum() == 6
    # alpha scales the number; equal contributions add none.
    assert modality_level_copies(contributions, 0.5, 1.5,
                                 torch.Generator()).sum() == 10
    assert modality_level_copies(
        torch.zeros(2, 10), 0.5, 1.0, torch.Generator()).sum() == 0


@pytest.mark.parametrize('level', ['sample', 'modality'])
def test_one_epoch_equals_the_authors_loop(level, epoch):
    # Enough samples in the estimate, and copies, for the modality level.
    options = dict(part_ratio=0.5, alpha=2.0) if level == 'modality' else {}
    model = _model(level=level, **options)
    expected, contribution, entries = _authors_epoch(model, _batches(), level,
                                                     **options)
    after, log_vars = _epoch(model, _batches())
    copies = model.balancer.copies
    assert int(copies.sum()) == len(entries) > 0
    for row, drop in ((0, 2), (1, 1)):
        assert copies[row].tolist() == [
            entries.count((i, drop)) for i in range(NUM_SAMPLES)
        ]
    assert 'valuation_copies_audio' in log_vars
    assert after.keys() == expected.keys()
    for name, value in expected.items():
        torch.testing.assert_close(after[name], value, msg=name)


def test_modality_level_arguments_change_the_copies(epoch):
    batches = _batches()

    def copies(**kwargs):
        model = _model(level='modality', **kwargs)
        model.balancer.value(model, batches, NUM_SAMPLES, 1)
        return model.balancer.copies

    base = copies(part_ratio=0.5)
    assert int(base.sum()) > 0
    assert int(copies(part_ratio=0.5, alpha=0.0).sum()) == 0
    assert int(copies(part_ratio=0.5, alpha=2.0).sum()) > int(base.sum())
    assert not torch.equal(copies(part_ratio=0.9), base)
    # The sample level copies per sample, not from the mean.
    sample = _model(level='sample')
    sample.balancer.value(sample, batches, NUM_SAMPLES, 1)
    assert not torch.equal(sample.balancer.copies, base)


def test_warmup_epochs_train_jointly_then_need_the_valuation(epoch):
    model = _model(warmup_epochs=2)
    data = model.data_preprocessor(_batches()[0], True)
    feats = model.extract_feat(data['inputs'])
    epoch(2)
    assert not model.balancer.active()
    torch.testing.assert_close(
        model.balancer.loss(model, feats, data['data_samples'])['loss_cls'],
        model.balancer.fused_loss(model, feats,
                                  data['data_samples'])['loss_cls'])
    epoch(3)
    with pytest.raises(
            RuntimeError, match='epoch 3 trains on copies.*'
            'BalancerHook'):
        model.balancer.loss(model, feats, data['data_samples'])
    model.balancer.value(model, _batches(), NUM_SAMPLES, 3)
    losses = model.balancer.loss(model, feats, data['data_samples'])
    assert float(losses['valuation_copies_audio'] +
                 losses['valuation_copies_visual']) > 0


def test_valuation_needs_every_sample_index_once(epoch):
    model = _model()
    with pytest.raises(RuntimeError, match='read 8 training samples never'):
        model.balancer.value(model, _batches()[:2], NUM_SAMPLES, 1)
    data = batch(4)
    with pytest.raises(KeyError, match='sample_idx'):
        model.balancer.value(model, [data], 4, 1)


def test_models_it_cannot_apply_to_are_refused_at_build():
    with pytest.raises(
            ValueError, match='SampleValuation reads uni-modal logits.*Sum'):
        build(
            fusion=dict(type='SumFusion', out_channels=8),
            balancer=dict(type='SampleValuation'))
    with pytest.raises(ValueError, match="level='dataset' is neither"):
        SampleValuation(level='dataset')
    with pytest.raises(ValueError, match='warmup_epochs=-1 must be'):
        SampleValuation(warmup_epochs=-1)
    with pytest.raises(ValueError, match=r'part_ratio=0 must be in \(0, 1\]'):
        SampleValuation(part_ratio=0)
    with pytest.raises(ValueError, match='alpha=-1 must not be negative'):
        SampleValuation(alpha=-1)


@pytest.mark.parametrize('name', ['sample_valuation', 'modality_valuation'])
def test_config_is_joint_training_plus_the_method_fragment(name):
    fragment = Config.fromfile(
        osp.join(REPO, f'configs/_base_/methods/{name}.py'))
    cfg = Config.fromfile(
        osp.join(REPO, f'configs/{name.replace("_", "-")}_avdigits.py'))
    joint = Config.fromfile(osp.join(REPO, 'configs/jt_avdigits.py'))
    assert cfg.model.balancer == fragment.model.balancer
    assert cfg.model.balancer.level == name.split('_')[0]
    cfg.model.pop('balancer')
    assert cfg.model == joint.model


@pytest.mark.slow
@pytest.mark.parametrize('name', ['sample', 'modality'])
def test_ranks_stay_identical_and_equal_one_process_under_ddp(
        name, avdigits_root, tmp_path):
    """configs/<level>-valuation_avdigits.py under tools/train.py with 2
    processes, valued from the first epoch: every rank values its half of
    the training set and the contributions are summed over the ranks, and
    every rank scales its loss by its share of the batch's samples and
    copies, so both ranks end identical and equal one process that values
    every sample and sees each step's 10 samples at once (without the sum a
    rank takes the other half's contributions for 0 and trains on other
    copies)."""
    log = two_ranks_equal_one_process(
        osp.join(REPO, f'configs/{name}-valuation_avdigits.py'), tmp_path,
        lambda size: [
            *whole_batch_options(avdigits_root, size),
            'model.balancer.warmup_epochs=0'
        ])
    assert 'valuation_copies_audio' in log


@pytest.mark.slow
@pytest.mark.parametrize('name', ['sample', 'modality'])
def test_resume_through_valued_epochs_is_bit_identical(name, tmp_path,
                                                       request):
    """test_resume_every_config.py's run (4 epochs, interrupted after epoch
    2 and during epoch 3) of configs/<level>-valuation_avdigits.py valued
    from epoch 2 on: the shipped 5 warm-up epochs are longer than that
    run."""
    config = tmp_path / 'configs' / f'{name}-valuation_avdigits.py'
    config.parent.mkdir()
    config.write_text(
        f"_base_ = [{osp.join(REPO, 'configs', config.name)!r}]\n"
        'model = dict(balancer=dict(warmup_epochs=1))\n')
    resumed_run_is_bit_identical(str(config), tmp_path, request)
