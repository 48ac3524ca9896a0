"""HFTextEncoder and HFTokenize: Hugging Face transformers is optional, its
absence is named when the model or pipeline is built, and models load from
local folders only."""
import os.path as osp
import sys

import pytest
import torch
from conftest import REPO
from food101_fixtures import write_tiny_bert
from mmengine.config import Config

from mmdr.registry import MODELS, TRANSFORMS
from mmdr.utils import register_all_modules
from mmdr.utils.hf_transformers import check_local_model

register_all_modules()


@pytest.fixture
def without_transformers(monkeypatch):
    """Make ``import transformers`` fail, installed or not."""
    monkeypatch.setitem(sys.modules, 'transformers', None)


def test_missing_transformers_is_named_at_build(without_transformers):
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'jt_food101_bert.py'))
    with pytest.raises(
            ImportError,
            match=r"model\.encoders\.<modality> \(type='HFTextEncoder'\) "
            r'needs Hugging Face transformers.*"pip install transformers"'):
        MODELS.build(cfg.model)
    with pytest.raises(
            ImportError,
            match='HFTokenize step of the data pipeline needs.*'
            'pip install transformers'):
        TRANSFORMS.build(cfg.train_dataloader.dataset.pipeline[1])


def test_models_are_read_from_local_folders_only(tmp_path):
    with pytest.raises(
            FileNotFoundError,
            match="key='bert-base-uncased' is not a local model folder"):
        check_local_model('bert-base-uncased', 'key')
    (tmp_path / 'config.json').write_text('{}')
    assert check_local_model(str(tmp_path), 'key') == str(tmp_path)


def test_local_bert_loads_and_encodes(tmp_path):
    transformers = pytest.importorskip('transformers')
    folder = write_tiny_bert(str(tmp_path / 'bert'))
    encoder = MODELS.build(
        dict(type='HFTextEncoder', pretrained=folder, pooling='mean'))
    assert encoder.feat_dim == 32
    encoder.init_weights()
    assert encoder.is_init
    saved = transformers.AutoModel.from_pretrained(folder).state_dict()
    for key, value in encoder.model.state_dict().items():
        assert torch.equal(value, saved[key]), key
    tokenize = TRANSFORMS.build(
        dict(type='HFTokenize', pretrained=folder, max_length=8))
    tokens = tokenize(dict(title='Apple pie #recipe http://x.org'))['text']
    assert tokens.shape == (2, 8) and tokens[1].sum() == 5  # CLS 3 SEP
    feats = encoder(torch.from_numpy(tokens)[None])
    assert feats.shape == (1, 32)
    with pytest.raises(ValueError, match=r'takes \(N, 2, L\)'):
        encoder(torch.zeros(1, 8, dtype=torch.long))
