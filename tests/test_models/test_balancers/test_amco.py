"""AMCo: the mask schedule, the class masks and the shares on hand values;
three steps of an epoch (two and three modalities) through
BalancedOptimWrapper against a reference loop written as BalanceMM's
AMCoTrainer and BaseClassifierAMCoModel train; the documented effect of
every argument; the epoch reset; the shares summed over the ranks; the
errors; the fragment's defaults; and under DDP (2 processes) identical ranks
that equal one process holding the whole batch."""
import copy
import math
import os.path as osp

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from balancer_ddp import two_ranks_equal_one_process, whole_batch_options
from balancer_models import (NUM_CLASSES, THREE_ENCODERS,
                             assert_same_parameters, batch, build, sgd_step,
                             sharpen_head)
from conftest import REPO
from mmengine.config import Config

from mmdr.models.balancers import (AMCo, class_mask, logit_shares,
                                   masked_class_count)
from mmdr.models.balancers import amco as amco_module
from mmdr.utils import register_all_modules

register_all_modules()

#: The three-modality batch: widths of THREE_ENCODERS' inputs.
THREE_WIDTHS = dict(audio=6, visual=5, text=3)


def _amco(encoders=None, **kwargs):
    extra = {} if encoders is None else dict(encoders=encoders)
    return sharpen_head(build(balancer=dict(type='AMCo', **kwargs), **extra))


def _batches(three=False, count=3):
    batches = [batch(10, seed) for seed in range(1, count + 1)]
    if three:
        for seed, data in enumerate(batches):
            g = torch.Generator().manual_seed(seed)
            data['inputs'] = {
                m: list(torch.randn(10, w, generator=g))
                for m, w in THREE_WIDTHS.items()
            }
    return batches


def _steps(model, batches, epoch, number):
    """Steps of mmengine's train_step with SGD (no momentum: a new
    optimiser per step is the same), iterations 0, 1, ... of epoch
    ``number``; returns the parameters after them and every step's logged
    values."""
    logs = []
    for iteration, data in enumerate(batches):
        epoch(number, iteration)
        after, log_vars = sgd_step(model, data)
        logs.append(log_vars)
    return after, logs


def _balancemm_epoch(model,
                     batches,
                     epoch_index,
                     sigma=0.5,
                     eps=0.3,
                     modulated=True):
    """Batches of one epoch as BalanceMM's AMCoTrainer.train_loop and
    training_step train BaseClassifierAMCoModel (concat fusion), on a copy
    of the model: the mask's zeros from l_t, l_t += epoch / 10 per batch,
    the dependent modalities' head slices times the mask, their sum through
    linear_star, the fused loss backward and each modality's loss backward,
    then the dependence from the softmax over the concatenated logits.
    Their draw (np.random.shuffle) is taken from the documented stream: a
    CPU generator seeded with run seed * 1000003 + iteration (build() seeds
    0), a permutation of the classes; their mask, expanded to 2 rows,
    multiplies every sample here.

    Returns:
        tuple: Parameters after the epoch's batches, the masked class
        counts and the dependence after each batch.
    """
    model = copy.deepcopy(model)
    linear_star = model.balancer.linear_star
    model.balancer = None
    optimizer = torch.optim.SGD(
        list(model.parameters()) + list(linear_star.parameters()), lr=0.1)
    modalities = list(model.encoders)
    fc = model.cls_head.fc_cls
    dependent = {m: False for m in modalities}
    l_t, counts, history = 0, [], []
    for iteration, data in enumerate(batches):
        pt = np.sin(np.pi / 2 * (min(eps, l_t) / eps))
        n_masked = int(pt * NUM_CLASSES)
        mask_t = np.pad(np.ones(NUM_CLASSES - n_masked), (0, n_masked))
        shuffle = torch.randperm(
            NUM_CLASSES, generator=torch.Generator().manual_seed(iteration))
        mask_t = torch.from_numpy(mask_t)[shuffle].float().unsqueeze(0)
        l_t += epoch_index / 10
        counts.append(n_masked)

        data = model.data_preprocessor(copy.deepcopy(data), True)
        label = torch.stack([s.gt_labels.item for s in data['data_samples']])
        label = label.view(-1)
        torch.manual_seed(5)
        feats = model.extract_feat(data['inputs'])
        unimodal_result, now_size = {}, 0
        output = 0
        for m in modalities:
            size = feats[m].shape[1]
            unimodal_result[m] = (
                torch.mm(
                    feats[m],
                    torch.transpose(fc.weight[:, now_size:now_size + size], 0,
                                    1)) + fc.bias / len(modalities))
            now_size += size
            if modulated and dependent[m]:
                unimodal_result[m] = torch.mul(unimodal_result[m], mask_t)
            output = output + unimodal_result[m]
        out = linear_star(output)
        loss = F.cross_entropy(out, label)
        if modulated:
            loss.backward(retain_graph=True)
            for m in modalities:
                F.cross_entropy(unimodal_result[m], label).backward()
            sft_out = F.softmax(
                torch.cat([unimodal_result[m] for m in modalities], 1), dim=1)
            for k, m in enumerate(modalities):
                block = sft_out[:, k * NUM_CLASSES:(k + 1) * NUM_CLASSES]
                dependent[m] = bool(torch.sum(block) / len(label) > sigma)
        else:
            loss.backward()
        history.append(dict(dependent))
        optimizer.step()
        optimizer.zero_grad()
    params = {n: p.detach() for n, p in model.named_parameters()}
    params.update({
        f'balancer.linear_star.{n}': p.detach()
        for n, p in linear_star.named_parameters()
    })
    return params, counts, history


def test_masked_class_count_on_hand_values():
    assert masked_class_count(0.0, 0.3, 10) == 0
    # sin(pi / 6) = 0.5; sin(pi / 3) = 0.866; full from eps on.
    assert masked_class_count(0.1, 0.3, 10) == 5
    assert masked_class_count(0.2, 0.3, 10) == 8
    assert masked_class_count(0.3, 0.3, 10) == 10
    assert masked_class_count(2.0, 0.3, 10) == 10
    assert masked_class_count(0.1, 0.6, 10) == int(
        math.sin(math.pi / 12) * 10) == 2


def test_class_mask_has_its_zeros_where_the_generator_puts_them():
    mask = class_mask(10, 3, torch.Generator().manual_seed(7))
    assert mask.shape == (1, 10) and mask.dtype == torch.float32
    assert int((mask == 0).sum()) == 3 and int(mask.sum()) == 7
    assert torch.equal(mask, class_mask(10, 3,
                                        torch.Generator().manual_seed(7)))
    assert not torch.equal(mask,
                           class_mask(10, 3,
                                      torch.Generator().manual_seed(8)))


def test_logit_shares_on_hand_values():
    # Sample 1: every logit equal; sample 2: all mass on the second block.
    first = torch.tensor([[0.0, 0.0], [-100.0, -100.0]])
    second = torch.tensor([[0.0, 0.0], [0.0, 0.0]])
    torch.testing.assert_close(
        logit_shares([first, second]), torch.tensor([0.5, 1.5]))


@pytest.mark.parametrize('three', [False, True], ids=['two', 'three'])
def test_an_epochs_steps_equal_balancemms_loop(three, epoch):
    """Epoch 2 (BalanceMM's 1): no mask at the first batch, then 2 and 3
    of the 4 classes masked on the modalities found dependent."""
    batches = _batches(three)
    model = _amco(THREE_ENCODERS if three else None)
    expected, counts, history = _balancemm_epoch(model, batches, 1)
    assert counts == [0, 2, 3]
    assert any(history[0].values())  # the second batch is masked
    after, logs = _steps(model, batches, epoch, 2)
    assert_same_parameters(after, expected)
    assert [log['amco_masked'].item() for log in logs] == counts
    modalities = list(model.encoders)
    assert model.balancer.dependent.tolist() == [
        int(history[-1][m]) for m in modalities
    ]
    assert model.balancer.progress.item() == pytest.approx(0.3)
    assert {f'loss_{m}' for m in modalities} < set(logs[0])


def test_first_epoch_never_masks(epoch):
    batches = _batches()
    model = _amco()
    expected, counts, _ = _balancemm_epoch(model, batches, 0)
    assert counts == [0, 0, 0]
    after, _ = _steps(model, batches, epoch, 1)
    assert_same_parameters(after, expected)


@pytest.mark.parametrize('sigma', [0.0, 1.0])
def test_sigma_decides_which_modalities_are_masked(sigma, epoch):
    """sigma 0: every modality dependent, so both are masked; sigma 1:
    none ever is."""
    batches = _batches()
    model = _amco(sigma=sigma)
    expected, _, history = _balancemm_epoch(model, batches, 1, sigma=sigma)
    assert all(set(h.values()) == {sigma == 0.0} for h in history)
    after, _ = _steps(model, batches, epoch, 2)
    assert_same_parameters(after, expected)
    assert model.balancer.dependent.tolist() == [int(sigma == 0.0)] * 2


def test_eps_sets_how_fast_the_mask_grows(epoch):
    batches = _batches()
    model = _amco(eps=0.1)
    expected, counts, _ = _balancemm_epoch(model, batches, 1, eps=0.1)
    assert counts == [0, 4, 4]
    after, logs = _steps(model, batches, epoch, 2)
    assert_same_parameters(after, expected)
    assert [log['amco_masked'].item() for log in logs] == counts


def test_modulates_from_begin_epoch_to_end_epoch_inclusive(epoch):
    batches = _batches()
    for number, active in ((1, False), (2, True), (3, True), (4, False)):
        model = _amco(begin_epoch=2, end_epoch=3)
        expected, _, _ = _balancemm_epoch(
            model, batches, number - 1, modulated=active)
        after, logs = _steps(model, batches, epoch, number)
        assert_same_parameters(after, expected)
        assert ('loss_audio' in logs[0]) == active
        if not active:
            assert model.balancer.dependent.tolist() == [0, 0]
    epoch(500)
    assert AMCo().active()
    assert not AMCo(begin_epoch=501).active()


def test_each_epoch_starts_with_no_dependence(epoch):
    model = _amco(sigma=0.0)
    _steps(model, _batches(count=2), epoch, 2)
    assert model.balancer.dependent.tolist() == [1, 1]
    assert model.balancer.progress.item() == pytest.approx(0.2)
    model.balancer.before_train_epoch(runner=None)
    assert model.balancer.dependent.tolist() == [0, 0]
    assert model.balancer.progress.item() == 0.0


def test_dependence_uses_the_shares_summed_over_ranks(monkeypatch, epoch):
    """With another rank whose 10 samples all fall on the audio block, the
    visual's share over the whole batch drops under 0.5 and the audio is
    the dependent one."""
    model = _amco()
    data = model.data_preprocessor(batch(10), True)
    feats = model.extract_feat(data['inputs'])
    with torch.no_grad():
        own = logit_shares(
            list(model.unimodal_logits(feats, 'fused_head').values()))
    assert own[1] > 5  # this rank alone: the visual dependent

    def other_rank_adds(totals):
        totals.add_(torch.tensor([10.0, 0.0, 10.0]))

    monkeypatch.setattr(amco_module, 'all_reduce', other_rank_adds)
    losses = model.balancer.loss(model, feats, data['data_samples'])
    torch.testing.assert_close(losses['amco_share_audio'], (own[0] + 10) / 20)
    assert model.balancer.dependent.tolist() == [1, 0]


def test_prediction_goes_through_the_extra_layer():
    model = _amco().eval()
    inputs = model.data_preprocessor(batch(), False)['inputs']
    with torch.no_grad():
        feats = model.extract_feat(inputs)
        torch.testing.assert_close(
            model(inputs, mode='tensor'),
            model.balancer.linear_star(model.cls_head(model.fusion(feats))))


def test_models_it_cannot_apply_to_are_refused_at_build():
    with pytest.raises(
            ValueError, match='AMCo reads uni-modal logits.*SumFusion'):
        build(
            fusion=dict(type='SumFusion', out_channels=8),
            balancer=dict(type='AMCo'))
    with pytest.raises(
            ValueError,
            match=r"AMCo balances two or more modalities; the model trains "
            r"only \['visual'\]"):
        build(modalities=['visual'], balancer=dict(type='AMCo'))
    with pytest.raises(ValueError, match=r'AMCo: sigma=1.5 must be in'):
        AMCo(sigma=1.5)
    with pytest.raises(ValueError, match='AMCo: eps=0 must be positive'):
        AMCo(eps=0)


def test_fragment_has_balancemms_defaults():
    """test_all_configs holds amco_avdigits.py equal to jt_avdigits.py plus
    the fragment."""
    fragment = Config.fromfile(
        osp.join(REPO, 'configs/_base_/methods/amco.py'))
    assert fragment.model.balancer == dict(
        type='AMCo', sigma=0.5, eps=0.3, begin_epoch=1, end_epoch=None)


@pytest.mark.slow
def test_ranks_stay_identical_and_equal_one_process_under_ddp(
        avdigits_root, tmp_path):
    """configs/amco_avdigits.py under tools/train.py with 2 processes for 2
    epochs; the second masks 5 of the 10 classes at its second batch, on
    the audio if the first batch found it dependent: its share over the
    whole batch there is 0.50042, over one rank's half 0.50036, over the
    other's 0.50048, so sigma 0.5004 makes the ranks' own shares disagree.
    The shares are summed over the ranks and the masks drawn from the same
    stream, so both ranks end with identical parameters and dependence
    flags and equal one process that sees each step's 10 samples at
    once."""
    log = two_ranks_equal_one_process(
        osp.join(REPO, 'configs/amco_avdigits.py'), tmp_path, lambda size: [
            *whole_batch_options(avdigits_root, size),
            'train_cfg.max_epochs=2', 'model.balancer.sigma=0.5004'
        ])
    assert 'amco_masked: 5' in log
