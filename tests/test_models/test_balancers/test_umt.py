"""UMT: one step through BalancedOptimWrapper equals BalanceMM's
UMTTrainer.training_step re-implemented here (fused cross entropy plus
``scaling`` times the MSE between each encoder's features and its frozen
teacher's); the documented effect of ``weight`` and ``teachers``; teachers
frozen, in eval mode, outside the optimiser and the checkpoints (which keep
their digests, so a resume with other teachers stops); the errors, at build
and when the teachers load; and identical replicas under DDP (2
processes)."""
import copy
import os.path as osp

import pytest
import torch
import torch.nn as nn
from balancer_models import MODEL_CFG, THREE_ENCODERS, batch, build
from balancer_test_hooks import parameter_dump_config
from conftest import REPO, data_root_cfg_options
from runs import train_tool
from umt_teachers import save_teacher, teacher_options

from mmdr.engine.optimizers import BalancedOptimWrapper
from mmdr.models.utils.umt import state_digest
from mmdr.registry import MODELS
from mmdr.utils import register_all_modules

register_all_modules()

MODALITIES = ('audio', 'visual')


@pytest.fixture(scope='module')
def teachers(tmp_path_factory):
    """One teacher checkpoint per modality, and a second audio teacher."""
    folder = tmp_path_factory.mktemp('teachers')
    paths = {
        m: save_teacher(MODEL_CFG, m, folder / f'{m}.pth', seed=10 + i)
        for i, m in enumerate(MODALITIES)
    }
    paths['other_audio'] = save_teacher(
        MODEL_CFG, 'audio', folder / 'other_audio.pth', seed=99)
    return paths


def _umt(teachers, **kwargs):
    paths = {m: teachers[m] for m in MODALITIES}
    return build(balancer=dict(type='UMT', teachers=paths, **kwargs))


def _labels(data):
    return torch.stack([s.gt_labels.item
                        for s in data['data_samples']]).view(-1)


def _balancemm_teacher(path, modality):
    """A uni-modal model loaded as BalanceMM's UMTTrainer loads it (the
    whole state dict into the same model built on one modality), in eval
    mode: the teacher trained beforehand."""
    cfg = copy.deepcopy(MODEL_CFG)
    cfg['modalities'] = [modality]
    model = MODELS.build(cfg)
    model.load_state_dict(torch.load(path)['state_dict'])
    return model.eval()


def _adam(params):
    return torch.optim.Adam(params, lr=0.01, weight_decay=1e-2)


def _reference_step(model, teachers, data, scaling, seed):
    """UMTTrainer.training_step on a copy of the model (without the
    balancer): ``loss = CE(out, label) + sum_m scaling * MSE(teacher_m,
    student_m)``, backward, Adam step. Returns the copy."""
    model = copy.deepcopy(model)
    model.balancer = None
    optimizer = _adam(p for p in model.parameters() if p.requires_grad)
    prepared = model.data_preprocessor(copy.deepcopy(data), True)
    torch.manual_seed(seed)  # the same dropout masks
    feats = model.extract_feat(prepared['inputs'])
    out = model.cls_head(model.fusion(feats))
    loss = nn.CrossEntropyLoss()(out, _labels(prepared))
    for m in MODALITIES:
        teacher = _balancemm_teacher(teachers[m], m)
        with torch.no_grad():
            target = teacher.encoders[m](prepared['inputs'][m])
        loss = loss + scaling * nn.MSELoss()(target, feats[m])
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return model


def _train_step(model, data, seed, optimizer=None):
    wrapper = BalancedOptimWrapper(
        optimizer=optimizer or _adam(model.parameters()))
    torch.manual_seed(seed)
    return model.train_step(copy.deepcopy(data), wrapper)


def test_one_step_equals_balancemm_training_step(teachers):
    model, data = _umt(teachers), batch()
    expected = _reference_step(model, teachers, data, 10.0, seed=4)
    log_vars = _train_step(model, data, seed=4)
    assert log_vars['loss_distill_audio'] > 0
    assert log_vars['loss_distill_visual'] > 0
    got = dict(model.named_parameters())
    for name, value in expected.named_parameters():
        assert torch.equal(got[name], value), name


def test_weight_scales_every_distillation_loss(teachers):
    """weight multiplies each modality's MSE (default 10); 0 leaves the
    joint-training step."""
    data = batch()
    losses = {}
    for weight in (None, 2.5, 0.0):
        kwargs = {} if weight is None else dict(weight=weight)
        model = _umt(teachers, **kwargs)
        torch.manual_seed(3)
        losses[weight] = model(
            **model.data_preprocessor(copy.deepcopy(data), True), mode='loss')
    for m in MODALITIES:
        key = f'loss_distill_{m}'
        torch.testing.assert_close(losses[2.5][key], losses[None][key] * 0.25)
        assert losses[0.0][key] == 0
    joint = build()
    model = _umt(teachers, weight=0.0)
    _train_step(joint, data, seed=2)
    _train_step(model, data, seed=2)
    for name, value in joint.named_parameters():
        assert torch.equal(dict(model.named_parameters())[name], value), name


def test_teachers_name_the_distillation_targets(teachers):
    """Another audio teacher changes the audio loss only."""
    data = batch()
    losses = []
    for audio in (teachers['audio'], teachers['other_audio']):
        model = build(
            balancer=dict(
                type='UMT',
                teachers=dict(audio=audio, visual=teachers['visual'])))
        torch.manual_seed(3)
        losses.append(
            model(
                **model.data_preprocessor(copy.deepcopy(data), True),
                mode='loss'))
    assert losses[0]['loss_distill_audio'] != losses[1]['loss_distill_audio']
    torch.testing.assert_close(losses[0]['loss_distill_visual'],
                               losses[1]['loss_distill_visual'])


def test_teachers_are_frozen_and_kept_out_of_optimiser_and_checkpoint(
        teachers):
    model = _umt(teachers)
    teacher = model.balancer._teachers['audio']
    state = copy.deepcopy(teacher.state_dict())
    model.train()
    assert not teacher.training
    assert all(not p.requires_grad for p in teacher.parameters())
    ids = {id(p) for p in model.parameters()}
    assert not any(id(p) in ids for p in teacher.parameters())
    assert [k for k in model.state_dict()
            if k.startswith('balancer.')] == ['balancer.teacher_digests']
    assert torch.equal(model.balancer.teacher_digests[0], state_digest(state))
    for step in range(2):
        _train_step(model, batch(seed=step), seed=step)
    for name, value in teacher.state_dict().items():
        assert torch.equal(value, state[name]), name


def test_teacher_weights_are_those_of_the_checkpoint(teachers):
    model = _umt(teachers)
    for m in MODALITIES:
        stored = torch.load(teachers[m])['state_dict']
        for name, value in model.balancer._teachers[m].state_dict().items():
            assert torch.equal(value, stored[f'encoders.{m}.{name}']), name


def test_a_run_folder_names_its_best_checkpoint(teachers, tmp_path):
    run = tmp_path / 'alone-audio'
    run.mkdir()
    best = run / 'best_acc_top1_epoch_3.pth'
    best.write_bytes(open(teachers['audio'], 'rb').read())
    model = build(
        balancer=dict(
            type='UMT',
            teachers=dict(audio=str(run), visual=teachers['visual'])))
    reference = _umt(teachers)
    assert torch.equal(model.balancer.teacher_digests,
                       reference.balancer.teacher_digests)
    (run / 'best_acc_top1_epoch_5.pth').write_bytes(best.read_bytes())
    with pytest.raises(
            FileNotFoundError,
            match=r'model\.balancer\.teachers\.audio=.* is a folder with 2 '
            'best checkpoints'):
        build(
            balancer=dict(
                type='UMT',
                teachers=dict(audio=str(run), visual=teachers['visual'])))


def test_resuming_with_other_teachers_is_refused(teachers):
    saved = _umt(teachers).state_dict()
    _umt(teachers).load_state_dict(saved)  # the same teachers resume
    other = build(
        balancer=dict(
            type='UMT',
            teachers=dict(
                audio=teachers['other_audio'], visual=teachers['visual'])))
    with pytest.raises(
            ValueError,
            match=r'other teacher weights than '
            r"model\.balancer\.teachers\.audio='.*other_audio\.pth' holds"):
        other.load_state_dict(saved)


def test_missing_and_unfit_teachers_are_named_when_weights_load(
        teachers, tmp_path):
    missing = str(tmp_path / 'nowhere.pth')
    with pytest.raises(
            FileNotFoundError,
            match=r"model\.balancer\.teachers\.visual='.*nowhere\.pth': no "
            'such file'):
        build(
            balancer=dict(
                type='UMT',
                teachers=dict(audio=teachers['audio'], visual=missing)))
    # A teacher trained with another encoder config.
    wider = copy.deepcopy(MODEL_CFG)
    wider['encoders']['audio']['hidden_channels'] = (8, 11)
    unfit = save_teacher(wider, 'audio', tmp_path / 'wider.pth')
    with pytest.raises(
            ValueError,
            match=r"model\.balancer\.teachers\.audio='.*wider\.pth'.*does "
            r'not fit.*other shapes: .*\(11, 8\) \(checkpoint\) vs \(7, 8\)'):
        build(
            balancer=dict(
                type='UMT',
                teachers=dict(audio=unfit, visual=teachers['visual'])))
    # A multi-modal checkpoint is no uni-modal teacher.
    joint = tmp_path / 'joint.pth'
    torch.save(dict(state_dict=build().state_dict()), joint)
    with pytest.raises(
            ValueError,
            match=r"holds the encoders \['audio', 'visual'\], not a model "
            r"of 'audio' alone"):
        build(
            balancer=dict(
                type='UMT',
                teachers=dict(audio=str(joint), visual=teachers['visual'])))


def test_bad_settings_are_refused_at_build(teachers):
    cfg = copy.deepcopy(MODEL_CFG)
    with pytest.raises(
            ValueError,
            match=r"teachers names \['audio'\], the model's modalities are "
            r"\['audio', 'visual'\]"):
        MODELS.build({
            **cfg, 'balancer':
            dict(type='UMT', teachers=dict(audio=teachers['audio']))
        })
    with pytest.raises(ValueError, match='weight must be >= 0'):
        MODELS.build({
            **cfg, 'balancer':
            dict(type='UMT', teachers=teachers, weight=-1)
        })
    with pytest.raises(
            ValueError, match='model.balancer.teachers must map every'):
        MODELS.build({**cfg, 'balancer': dict(type='UMT', teachers=None)})
    # Three modalities: one teacher each.
    model = MODELS.build({
        **cfg, 'encoders':
        THREE_ENCODERS,
        'balancer':
        dict(type='UMT', teachers=dict(audio='a', visual='v', text='t'))
    })
    assert list(model.balancer.teacher_paths) == ['audio', 'visual', 'text']


def test_training_before_the_teachers_load_is_refused(teachers):
    cfg = copy.deepcopy(MODEL_CFG)
    model = MODELS.build({
        **cfg, 'balancer':
        dict(type='UMT', teachers={m: teachers[m]
                                   for m in MODALITIES})
    })
    with pytest.raises(RuntimeError, match='the teachers are not loaded'):
        model(**model.data_preprocessor(batch(), True), mode='loss')


@pytest.mark.slow
def test_replicas_stay_identical_under_ddp(avdigits_root, tmp_path):
    """2 processes through tools/train.py: the teachers load alike on both
    ranks and stay outside DDP; both losses are means, whose gradients DDP
    averages, so both ranks end with the same parameters."""
    shipped = osp.join(REPO, 'configs/umt_avdigits.py')
    config = parameter_dump_config(tmp_path, shipped)
    work = tmp_path / 'work'
    result = train_tool(
        work, [
            *data_root_cfg_options(avdigits_root),
            *teacher_options(shipped, tmp_path / 'teachers'),
            'train_cfg.max_epochs=1'
        ],
        nproc=2,
        config=config)
    assert 'loss_distill_visual' in result.stdout + result.stderr
    ranks = [torch.load(work / f'rank{r}_parameters.pth') for r in (0, 1)]
    assert ranks[0].keys() == ranks[1].keys()
    assert 'balancer.teacher_digests' in ranks[0]
    for name, value in ranks[0].items():
        assert torch.equal(value, ranks[1][name]), name
