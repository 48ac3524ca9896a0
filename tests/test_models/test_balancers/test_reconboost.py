"""ReconBoost: its schedule and losses on hand-computed values, stages of
two and three modalities through BalancedOptimWrapper against the authors'
loop written out here (train.py's ``main`` with ``DynamicNet``, train_MSA.py
for three modalities), the documented effect of every
argument, the refusals, and identical replicas under DDP (2 processes)."""
import copy
import os.path as osp
import types
from unittest import mock

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from balancer_models import NUM_CLASSES, THREE_ENCODERS, WIDTHS, batch, build
from balancer_test_hooks import parameter_dump_config
from conftest import REPO, data_root_cfg_options
from mmaction.structures import ActionDataSample
from mmengine.model import MMDistributedDataParallel
from mmengine.optim import OptimWrapper
from mmengine.runner import EpochBasedTrainLoop, IterBasedTrainLoop
from runs import train_tool

from mmdr.engine.optimizers import BalancedOptimWrapper
from mmdr.models.balancers import ReconBoost
from mmdr.models.balancers.reconboost import (boosting_loss, ensemble_order,
                                              reconboost_schedule,
                                              reconcilement_loss)
from mmdr.utils import register_all_modules

register_all_modules()

UNIMODAL_HEAD = dict(type='LinearClsHead', topk=(1, ))
#: BatchNorm, no dropout: the authors' loop runs the encoders in another
#: order than the recogniser, so dropout masks would differ.
ENCODERS = dict(
    audio=dict(
        type='MLPEncoder', in_channels=WIDTHS['audio'],
        hidden_channels=(8, 7)),
    visual=dict(
        type='MLPEncoder', in_channels=WIDTHS['visual'],
        hidden_channels=(9, )))
BATCHES = [batch(n=8, seed=seed) for seed in (2, 3)]


def _reconboost(**kwargs):
    return build(
        encoders=ENCODERS,
        unimodal_head=UNIMODAL_HEAD,
        balancer=dict(type='ReconBoost', **kwargs))


def _sgd(params):
    # The authors' optimiser (train.py), at a larger rate.
    return torch.optim.SGD(params, lr=0.1, momentum=0.9, weight_decay=5e-4)


def _train(model, epochs, set_epoch, batches=BATCHES):
    """``epochs`` epochs of mmdr's loop: the balancer's epoch step (as
    BalancerHook calls it), then train_step on every batch; returns the
    optimiser wrapper and the logged values of every step."""
    wrapper = BalancedOptimWrapper(optimizer=_sgd(model.parameters()))
    logs = []
    for e in range(1, epochs + 1):
        set_epoch(e)
        model.balancer.start_epoch(e, wrapper)
        for data in batches:
            logs.append(model.train_step(copy.deepcopy(data), wrapper))
    return wrapper, logs


def _authors_loop(model,
                  order,
                  stages,
                  epochs_per_stage,
                  correct_epoch,
                  weight1,
                  weight2,
                  alpha,
                  batches=BATCHES):
    """train.py's main (train_MSA.py's for three modalities: the fixed
    schedule over ``order``, each stage's pre_model the previous stage's;
    common_space=False, no pretrained learners) on copies of the
    recogniser's encoders and uni-modal heads; returns the learners and
    boost_rate."""
    learners = {
        m:
        nn.Sequential(
            copy.deepcopy(model.encoders[m]),
            copy.deepcopy(model.unimodal_heads[m]))
        for m in order
    }
    boost_rate = nn.Parameter(torch.tensor(1.0))
    models_name = []  # DynamicNet.models_name, in its order
    data = []
    for raw in batches:
        d = model.data_preprocessor(copy.deepcopy(raw), True)
        lbl = torch.stack([s.gt_labels.item for s in d['data_samples']])
        data.append((d['inputs'], lbl.view(-1)))

    def ensemble_forward(inputs, mask_model=None):
        prediction = None
        with torch.no_grad():
            for name in models_name:
                if name == mask_model:
                    continue
                pred = learners[name](inputs[name])
                prediction = pred if prediction is None else prediction + pred
        return boost_rate * prediction

    for stage in range(stages):
        model_name = order[stage % len(order)]
        pre_model_name = order[(stage - 1) % len(order)]
        current = learners[model_name]
        optimizer = _sgd(current.parameters())
        for _ in range(epochs_per_stage):
            for inputs, lbl in data:
                n = lbl.shape[0]
                if stage == 0:  # DynamicNet.forward returns c0
                    out_join = torch.as_tensor(0.3).view(-1, 1).expand(n, 1)
                else:
                    out_join = ensemble_forward(inputs, model_name)
                out_obj = current(inputs[model_name])
                target = torch.zeros(n, NUM_CLASSES).scatter_(
                    1, lbl.view(-1, 1), 1)
                boosting = -weight1 * (target * out_obj.log_softmax(1)).mean(
                    -1) + weight2 * (target * out_join.detach().softmax(1) *
                                     out_obj.log_softmax(1)).mean(-1)
                current.zero_grad()
                if stage == 0:
                    loss = boosting
                else:
                    pre_out_obj = learners[pre_model_name](
                        inputs[pre_model_name])
                    ga_loss = F.mse_loss(out_obj.detach().softmax(1),
                                         pre_out_obj.detach().softmax(1))
                    loss = boosting + alpha * ga_loss
                loss.mean().backward()
                optimizer.step()
        if model_name in models_name:  # DynamicNet.add
            models_name.remove(model_name)
        models_name.append(model_name)
        params = [
            p for name in models_name for p in learners[name].parameters()
        ]
        optimizer_correct = _sgd(params + [boost_rate])
        for _ in range(correct_epoch):
            for inputs, lbl in data:
                out = None
                for name in models_name:
                    pred = learners[name](inputs[name])
                    out = pred if out is None else out + pred
                loss = F.cross_entropy(boost_rate * out, lbl)
                optimizer_correct.zero_grad()
                loss.backward()
                optimizer_correct.step()
    return learners, boost_rate


def test_schedule_alternates_boosting_and_rectification_by_epochs():
    # 2 boosting + 1 rectification epochs per stage, two modalities.
    got = [reconboost_schedule(e, 2, 1, 2) for e in range(1, 8)]
    assert got == [(0, 'boost', 0), (0, 'boost', 0), (0, 'rectify', 0),
                   (1, 'boost', 1), (1, 'boost', 1), (1, 'rectify', 1),
                   (2, 'boost', 0)]
    # Without rectification every epoch boosts; three modalities in turn.
    assert [reconboost_schedule(e, 1, 0, 3)[2]
            for e in range(1, 6)] == [0, 1, 2, 0, 1]
    with pytest.raises(ValueError, match='counted from 1'):
        reconboost_schedule(0, 1, 1, 2)


def test_ensemble_order_is_the_order_of_last_training():
    modalities = ('a', 'b', 'c')
    assert ensemble_order(-1, modalities) == []
    assert ensemble_order(0, modalities) == ['a']
    assert ensemble_order(1, modalities) == ['a', 'b']
    assert ensemble_order(3, modalities) == ['b', 'c', 'a']
    assert ensemble_order(4, modalities) == ['c', 'a', 'b']


def test_boosting_loss_on_hand_computed_values():
    logits = torch.tensor([[0.0, 1.0, 2.0], [1.0, 0.0, 0.0]])
    ensemble = torch.tensor([[2.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    labels = torch.tensor([2, 0])
    log_p = logits.log_softmax(1)[torch.arange(2), labels]
    q = ensemble.softmax(1)[torch.arange(2), labels]
    # The mean over 3 classes of a one-hot row is its value divided by 3.
    expected = ((-5.0 * log_p + 1.0 * q * log_p) / 3).mean()
    torch.testing.assert_close(
        boosting_loss(logits, labels, ensemble, 5.0, 1.0), expected)
    # No ensemble: q = 1.
    torch.testing.assert_close(
        boosting_loss(logits, labels, None, 5.0, 1.0),
        ((-4.0 * log_p) / 3).mean())


def test_reconcilement_loss_has_no_gradient():
    logits = torch.randn(4, 3, requires_grad=True)
    previous = torch.randn(4, 3, requires_grad=True)
    value = reconcilement_loss(logits, previous)
    expected = ((logits.softmax(1) - previous.softmax(1))**2).mean()
    torch.testing.assert_close(value, expected.detach())
    assert not value.requires_grad


def _three_modality_batch(seed):
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(NUM_CLASSES, (8, ), generator=g)
    widths = {m: cfg['in_channels'] for m, cfg in THREE_ENCODERS.items()}
    return dict(
        inputs={
            m: list(torch.randn(8, w, generator=g) + labels[:, None].float())
            for m, w in widths.items()
        },
        data_samples=[ActionDataSample().set_gt_labels(y) for y in labels])


@pytest.mark.parametrize(
    'encoders,stages', [(ENCODERS, 3), (THREE_ENCODERS, 4)],
    ids=['two-modalities', 'three-modalities'])
def test_stages_equal_the_authors_loop(encoders, stages, epoch):
    """Stages audio, visual, audio (two modalities) or audio, visual, text,
    audio (three: the ensemble's order changes), 2 boosting + 1
    rectification epochs of 2 batches each, SGD with momentum and weight
    decay: every parameter and boost_rate as after the authors' loop. The
    other encoders' BatchNorm statistics differ (the authors run them once
    more per step, and not before they join), which training in train mode
    never reads."""
    batches = BATCHES if encoders is ENCODERS else [
        _three_modality_batch(seed) for seed in (2, 3)
    ]
    model = build(
        encoders=encoders,
        unimodal_head=UNIMODAL_HEAD,
        balancer=dict(
            type='ReconBoost',
            epochs_per_stage=2,
            correct_epochs=1,
            weight1=5.0,
            weight2=1.0,
            alpha=0.5))
    learners, boost_rate = _authors_loop(
        model, model.modalities, stages, 2, 1, 5.0, 1.0, 0.5, batches=batches)
    _, logs = _train(model, 3 * stages, epoch, batches=batches)
    assert int(model.balancer.stage) == stages - 1
    assert 'loss_reconcile' in logs[6] and 'loss_reconcile' not in logs[0]
    for m, learner in learners.items():
        encoder, head = learner
        for name, param in encoder.named_parameters():
            torch.testing.assert_close(
                model.encoders[m].get_parameter(name), param, msg=name)
        for name, param in head.named_parameters():
            torch.testing.assert_close(
                model.unimodal_heads[m].get_parameter(name), param, msg=name)
    torch.testing.assert_close(model.balancer.boost_rate.detach(),
                               boost_rate.detach())


def test_each_phase_trains_only_its_learners(epoch):
    """Epoch 1 boosts audio, epoch 2 rectifies audio's ensemble (visual has
    not joined), epoch 3 boosts visual; the fused head never trains."""
    model = _reconboost(epochs_per_stage=1, correct_epochs=1)
    wrapper = BalancedOptimWrapper(optimizer=_sgd(model.parameters()))
    prefixes = {
        1: ('encoders.audio.', 'unimodal_heads.audio.'),
        2: ('encoders.audio.', 'unimodal_heads.audio.', 'balancer.'),
        3: ('encoders.visual.', 'unimodal_heads.visual.'),
    }
    for e, trained in prefixes.items():
        before = {n: p.detach().clone() for n, p in model.named_parameters()}
        epoch(e)
        model.balancer.start_epoch(e, wrapper)
        model.train_step(copy.deepcopy(BATCHES[0]), wrapper)
        moved = {
            n
            for n, p in model.named_parameters()
            if not torch.equal(p, before[n])
        }
        assert moved == {
            n
            for n, _ in model.named_parameters() if n.startswith(trained)
        }, e


def test_prediction_is_the_ensemble_of_the_trained_learners(epoch):
    model = _reconboost(epochs_per_stage=1, correct_epochs=1)
    data = model.data_preprocessor(copy.deepcopy(BATCHES[0]), False)
    model.eval()
    with torch.no_grad():
        feats = model.extract_feat(data['inputs'])
        # Before training: the constant ensemble.
        assert torch.equal(
            model.class_scores(feats), torch.zeros(8, NUM_CLASSES))
        model.balancer.stage.fill_(0)  # audio trained
        heads = model.unimodal_logits(feats, 'unimodal_heads')
        model.balancer.boost_rate.fill_(2.0)
        torch.testing.assert_close(
            model.class_scores(feats), 2.0 * heads['audio'])
        model.balancer.stage.fill_(1)
        torch.testing.assert_close(
            model.class_scores(feats),
            2.0 * (heads['audio'] + heads['visual']))


@pytest.mark.parametrize('weights', [(5.0, 1.0), (1.0, 0.25), (2.0, 0.0)])
def test_weights_set_the_boosting_loss(weights, epoch):
    """In epoch 3 visual is boosted against audio's learner, weighted by
    boost_rate: ``(-weight1 + weight2 * q_y) * log p_y / C`` per sample."""
    weight1, weight2 = weights
    model = _reconboost(
        epochs_per_stage=1, correct_epochs=1, weight1=weight1, weight2=weight2)
    _train(model, 2, epoch, batches=BATCHES[:1])
    epoch(3)
    data = model.data_preprocessor(copy.deepcopy(BATCHES[0]), True)
    loss = model(**data, mode='loss')['loss_boost']
    # Train mode without dropout: the same features again.
    with torch.no_grad():
        logits = model.unimodal_logits(
            model.extract_feat(data['inputs']), 'unimodal_heads')
    labels = torch.stack([s.gt_labels.item for s in data['data_samples']])
    rows = torch.arange(8)
    log_p = logits['visual'].log_softmax(1)[rows, labels.view(-1)]
    q = (model.balancer.boost_rate *
         logits['audio']).softmax(1)[rows, labels.view(-1)]
    expected = ((-weight1 + weight2 * q) * log_p / NUM_CLASSES).mean()
    torch.testing.assert_close(loss.detach(), expected)


@pytest.mark.parametrize('alpha', [0.0, 0.5, 3.0])
def test_alpha_weighs_the_logged_reconcilement_term_only(alpha, epoch):
    """The authors detach both probabilities: alpha changes the loss value
    and no parameter."""
    runs = {}
    for value in (alpha, 1.0):
        model = _reconboost(epochs_per_stage=1, correct_epochs=1, alpha=value)
        _, logs = _train(model, 3, epoch, batches=BATCHES[:1])
        runs[value] = (model, logs[-1])
    (model, log), (reference, reference_log) = runs[alpha], runs[1.0]
    torch.testing.assert_close(log['loss_reconcile'],
                               alpha * reference_log['loss_reconcile'])
    for name, param in model.named_parameters():
        assert torch.equal(param, reference.get_parameter(name)), name


def test_boost_rate_is_the_initial_ensemble_weight(epoch):
    model = _reconboost(boost_rate=0.25)
    assert float(model.balancer.boost_rate) == 0.25
    assert model.balancer.boost_rate.requires_grad
    model.balancer.stage.fill_(0)
    model.eval()
    data = model.data_preprocessor(copy.deepcopy(BATCHES[0]), False)
    with torch.no_grad():
        feats = model.extract_feat(data['inputs'])
        torch.testing.assert_close(
            model.class_scores(feats),
            0.25 * model.unimodal_logits(feats, 'unimodal_heads')['audio'])


@pytest.mark.parametrize('epochs_per_stage,correct_epochs,rectifying', [
    (1, 1, [False, True, False, True]),
    (2, 1, [False, False, True, False]),
    (1, 0, [False, False, False, False]),
])
def test_stage_lengths_set_when_boost_rate_trains(epochs_per_stage,
                                                  correct_epochs, rectifying,
                                                  epoch):
    """boost_rate trains in rectification epochs only."""
    model = _reconboost(
        epochs_per_stage=epochs_per_stage, correct_epochs=correct_epochs)
    wrapper = BalancedOptimWrapper(optimizer=_sgd(model.parameters()))
    for e, rectify in enumerate(rectifying, start=1):
        epoch(e)
        before = model.balancer.boost_rate.detach().clone()
        model.train_step(copy.deepcopy(BATCHES[0]), wrapper)
        moved = not torch.equal(model.balancer.boost_rate, before)
        assert moved == rectify, e


@pytest.mark.parametrize('fresh', [True, False])
def test_fresh_optimizer_clears_the_state_when_a_phase_begins(fresh, epoch):
    model = _reconboost(
        epochs_per_stage=2, correct_epochs=1, fresh_optimizer=fresh)
    wrapper = BalancedOptimWrapper(optimizer=_sgd(model.parameters()))
    epoch(1)
    model.train_step(copy.deepcopy(BATCHES[0]), wrapper)
    assert len(wrapper.optimizer.state) > 0
    # Epoch 2 continues the boosting phase, epoch 3 begins rectification
    # and epoch 4 the next stage.
    assert model.balancer.start_epoch(2, wrapper) is False
    assert len(wrapper.optimizer.state) > 0
    assert model.balancer.start_epoch(3, wrapper) is fresh
    assert (len(wrapper.optimizer.state) == 0) is fresh
    model.train_step(copy.deepcopy(BATCHES[0]), wrapper)
    assert model.balancer.start_epoch(4, wrapper) is fresh
    assert (len(wrapper.optimizer.state) == 0) is fresh


def test_gradients_outside_the_phase_are_removed(epoch):
    """A zero gradient on a parameter outside the phase (what an optimiser
    wrapper's zero_grad(set_to_none=False) leaves) would let weight decay
    move it: it is None at the step."""
    model = _reconboost(epochs_per_stage=1, correct_epochs=1)
    wrapper = BalancedOptimWrapper(optimizer=_sgd(model.parameters()))
    for p in model.parameters():
        p.grad = torch.zeros_like(p)
    wrapper.zero_grad = lambda **kwargs: None
    epoch(1)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    model.train_step(copy.deepcopy(BATCHES[0]), wrapper)
    for name, param in model.named_parameters():
        inside = name.startswith(('encoders.audio.', 'unimodal_heads.audio.'))
        assert (not torch.equal(param, before[name])) == inside, name


def test_a_model_without_unimodal_heads_is_refused_at_build():
    with pytest.raises(ValueError, match='ReconBoost needs one linear head'):
        build(balancer=dict(type='ReconBoost'))


def test_one_modality_is_refused_at_build():
    with pytest.raises(ValueError, match='ReconBoost balances two or more'):
        build(
            unimodal_head=UNIMODAL_HEAD,
            balancer=dict(type='ReconBoost'),
            modalities=['audio'])


@pytest.mark.parametrize('kwargs', [
    dict(epochs_per_stage=0),
    dict(epochs_per_stage=1.5),
    dict(correct_epochs=-1),
    dict(alpha=-0.1),
])
def test_bad_arguments_are_refused_at_build(kwargs):
    name = next(iter(kwargs))
    with pytest.raises(ValueError, match=f'ReconBoost: {name}='):
        ReconBoost(**kwargs)


def test_a_plain_optim_wrapper_is_refused_before_the_first_step(epoch):
    model = _reconboost()
    epoch(1)
    wrapper = OptimWrapper(optimizer=_sgd(model.parameters()))
    with pytest.raises(RuntimeError, match='BalancedOptimWrapper'):
        model.train_step(copy.deepcopy(BATCHES[0]), wrapper)


def _runner(model, train_loop, wrapped=None):
    return types.SimpleNamespace(
        train_loop=train_loop,
        model=wrapped or model,
        epoch=0,
        optim_wrapper=BalancedOptimWrapper(optimizer=_sgd(model.parameters())),
        logger=mock.Mock())


def test_an_iteration_based_loop_is_refused():
    model = _reconboost()
    # The loop's class is what counts; it need not run.
    loop = object.__new__(IterBasedTrainLoop)
    with pytest.raises(
            TypeError,
            match='alternates the modalities by '
            'epochs.*IterBasedTrainLoop'):
        model.balancer.before_train_epoch(_runner(model, loop))


@pytest.mark.parametrize('find_unused', [True, False])
def test_ddp_without_find_unused_parameters_is_refused(find_unused):
    model = _reconboost()
    ddp = mock.Mock(spec=MMDistributedDataParallel)
    ddp.find_unused_parameters = find_unused
    runner = _runner(model, mock.Mock(spec=EpochBasedTrainLoop), ddp)
    if find_unused:
        model.balancer.before_train_epoch(runner)
        runner.logger.info.assert_called_once()
        assert 'stage 0 (audio), boost phase' in str(
            runner.logger.info.call_args)
    else:
        with pytest.raises(RuntimeError, match='find_unused_parameters=True'):
            model.balancer.before_train_epoch(runner)


def test_stage_and_boost_rate_are_in_the_checkpoint(epoch):
    model = _reconboost(epochs_per_stage=1, correct_epochs=1)
    _train(model, 4, epoch, batches=BATCHES[:1])
    state = model.state_dict()
    assert int(state['balancer.stage']) == 1
    restored = _reconboost(epochs_per_stage=1, correct_epochs=1)
    restored.load_state_dict(state)
    assert int(restored.balancer.stage) == 1
    assert torch.equal(restored.balancer.boost_rate, model.balancer.boost_rate)


@pytest.mark.slow
def test_replicas_stay_identical_under_ddp(avdigits_root, tmp_path):
    """2 processes over two stages (both phases): both ranks end with the
    same parameters and balancer buffers. With find_unused_parameters off
    the run stops with the balancer's message (DDP would otherwise fail at
    the second step, the unused parameters never reduced)."""
    config = parameter_dump_config(
        tmp_path, osp.join(REPO, 'configs/reconboost_avdigits.py'))
    options = [*data_root_cfg_options(avdigits_root), 'train_cfg.max_epochs=3']
    work = tmp_path / 'work'
    result = train_tool(work, options, nproc=2, config=config)
    assert 'loss_reconcile' in result.stdout + result.stderr
    ranks = [torch.load(work / f'rank{r}_parameters.pth') for r in (0, 1)]
    assert ranks[0].keys() == ranks[1].keys()
    assert int(ranks[0]['balancer.stage']) == 1
    for name, value in ranks[0].items():
        assert torch.equal(value, ranks[1][name]), name
    with pytest.raises(AssertionError, match='find_unused_parameters=True'):
        train_tool(
            tmp_path / 'refused', [*options, 'find_unused_parameters=False'],
            nproc=2,
            config=config)
