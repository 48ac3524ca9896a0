"""FixedNoise, and the scarce-modality configs that use it on real data sets
(configs/jt_avdigits_noise-audio.py, configs/jt_mfeat_noise.py)."""
import os.path as osp

import numpy as np
import pytest
from conftest import REPO
from mmengine.config import Config

from mmdr.analysis import fit_linear_probe
from mmdr.datasets.transforms import FixedNoise
from mmdr.registry import DATASETS
from mmdr.utils import register_all_modules

register_all_modules()


def test_noise_is_fixed_per_sample_and_keeps_shape_and_dtype():
    rng = np.random.default_rng(0)
    first, second = (
        rng.standard_normal((1, 16, 8)).astype(np.float32) for _ in range(2))
    noise = FixedNoise(key='audio', mean=2.0, std=0.5, seed=3)
    a = noise(dict(audio=first.copy()))['audio']
    assert a.shape == (1, 16, 8) and a.dtype == np.float32
    assert not np.allclose(a, first)
    # Same sample: the same noise, also from a new instance (another epoch,
    # another worker or rank); another sample or seed: other noise.
    np.testing.assert_array_equal(
        a,
        FixedNoise(key='audio', mean=2.0, std=0.5,
                   seed=3)(dict(audio=first.copy()))['audio'])
    assert not np.allclose(a, noise(dict(audio=second))['audio'])
    assert not np.allclose(
        a,
        FixedNoise(key='audio', mean=2.0, std=0.5, seed=4)(
            dict(audio=first.copy()))['audio'])
    # The noise is the seeded generator's draw, scaled: nothing of the real
    # values but their digest enters it.
    from mmdr.datasets.transforms.fixed_noise import sample_digest
    want = np.random.default_rng(sample_digest(first, 3)).standard_normal(
        (1, 16, 8)) * 0.5 + 2.0
    np.testing.assert_allclose(a, want.astype(np.float32))


def test_noise_does_not_depend_on_the_process():
    # A digest, not Python's salted hash(): every process draws the same
    # noise (the value was computed once and is kept here).
    noise = FixedNoise(key='x', seed=0)(dict(x=np.zeros(3, np.float32)))['x']
    np.testing.assert_allclose(
        noise, [1.5679002, -2.2047551, 1.1968597], rtol=1e-6)


def test_noise_has_the_configured_scale_and_an_id_key():
    noise = FixedNoise(key='x', mean=-0.1, std=0.9, id_key='path')
    out = noise(dict(x=np.zeros(100_000), path='audio/00001.wav'))['x']
    # An integer or float64 feature: float64 stays, integers become float32.
    assert out.dtype == np.float64
    assert out.mean() == pytest.approx(-0.1, abs=0.01)
    assert out.std() == pytest.approx(0.9, rel=0.01)
    # id_key: the identity is the path, whatever the feature holds.
    again = noise(dict(x=np.ones(100_000), path='audio/00001.wav'))['x']
    np.testing.assert_array_equal(out, again)
    ints = FixedNoise(key='x', id_key='i')(dict(x=np.zeros(4, int), i=7))
    assert ints['x'].dtype == np.float32


def test_errors_name_the_key():
    with pytest.raises(KeyError, match=r"sample 5 has no 'audio'"):
        FixedNoise(key='audio')(dict(visual=np.zeros(2), sample_idx=5))
    with pytest.raises(KeyError, match=r"no 'path'"):
        FixedNoise(key='x', id_key='path')(dict(x=np.zeros(2)))
    with pytest.raises(ValueError, match=r"std=-1 \(for 'x'\)"):
        FixedNoise(key='x', std=-1)
    assert repr(FixedNoise(key='x', std=2)) == (
        "FixedNoise(key='x', mean=0.0, std=2.0, seed=0, id_key='x')")


def _datasets(config, data_root):
    cfg = Config.fromfile(osp.join(REPO, 'configs', config))
    return {
        split:
        DATASETS.build(
            dict(cfg[f'{split}_dataloader'].dataset, data_root=data_root))
        for split in ('train', 'val', 'test')
    }


def _arrays(dataset, key):
    return np.stack(
        [dataset[i]['inputs'][key].numpy() for i in range(len(dataset))])


def test_mfeat_noise_replaces_kar_only(mfeat_root):
    noisy = _datasets('jt_mfeat_noise.py', mfeat_root)
    real = _datasets('jt_mfeat.py', mfeat_root)
    kar = {}
    for split in noisy:
        assert noisy[split].modalities == ('fou', 'kar', 'mor')
        for view in ('fou', 'mor'):
            np.testing.assert_array_equal(
                _arrays(noisy[split], view), _arrays(real[split], view))
        kar[split] = _arrays(noisy[split], 'kar')
        assert kar[split].shape == (len(noisy[split]), 64)
        assert not np.isclose(kar[split], _arrays(real[split], 'kar')).any()
        # Another pass (epoch) over the split: the same noise.
        np.testing.assert_array_equal(kar[split], _arrays(noisy[split], 'kar'))
    everything = np.concatenate(list(kar.values()))
    # Every sample of every split has its own noise, of the configured
    # scale.
    assert len(np.unique(everything[:, 0])) == len(everything)
    assert everything.mean() == pytest.approx(0.054, abs=0.05)
    assert everything.std() == pytest.approx(2.65, rel=0.05)

    # No class information: a probe memorises the training noise and is
    # near chance (10 %) on test, where fou is far above.
    def labels(split):
        return np.array([
            noisy[split][i]['data_samples'].gt_labels.item.item()
            for i in range(len(noisy[split]))
        ])

    probe = fit_linear_probe(
        kar['train'], labels('train'), {
            'train': (kar['train'], labels('train')),
            'test': (kar['test'], labels('test'))
        })
    assert probe['train'] == 1.0 and probe['test'] <= 0.3
    fou = fit_linear_probe(
        _arrays(noisy['train'], 'fou'), labels('train'),
        {'test': (_arrays(noisy['test'], 'fou'), labels('test'))})
    assert fou['test'] >= 0.5


def test_avdigits_noise_audio_keeps_the_spectrogram_shape(avdigits_root):
    noisy = _datasets('jt_avdigits_noise-audio.py', avdigits_root)
    real = _datasets('jt_avdigits.py', avdigits_root)
    for split in ('train', 'test'):
        audio = _arrays(noisy[split], 'audio')
        assert audio.shape == (len(noisy[split]), 1, 257, 63)
        assert audio.dtype == np.float32
        np.testing.assert_array_equal(
            _arrays(noisy[split], 'visual'), _arrays(real[split], 'visual'))
        np.testing.assert_array_equal(audio, _arrays(noisy[split], 'audio'))
        assert audio.mean() == pytest.approx(-0.10, abs=0.01)
        assert audio.std() == pytest.approx(0.88, rel=0.01)
        flat = audio.reshape(len(audio), -1)
        assert len(np.unique(flat[:, 0])) == len(audio)
