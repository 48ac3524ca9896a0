from mmengine.config import Config
from mmengine.config import config as config_module

from mmdr.utils import format_each_config_text_once


def test_each_text_is_formatted_once_and_alike(tmp_path, monkeypatch):
    calls = []
    original = config_module.FormatCode

    def counting(source, style_config=None, **kwargs):
        calls.append(source)
        return original(source, style_config=style_config, **kwargs)

    # A fresh, counting formatter under the memo (the test session has
    # memoised the real one already).
    monkeypatch.setattr(config_module, 'FormatCode', counting)
    path = tmp_path / 'cfg.py'
    path.write_text("model = dict(type='A', layers=[1, 2, 3])\nlr = 0.1\n")
    cfg = Config.fromfile(str(path))
    plain = cfg.pretty_text
    assert len(calls) == 1
    format_each_config_text_once()
    format_each_config_text_once()  # idempotent: one memo, not two
    assert cfg.pretty_text == plain and cfg.pretty_text == plain
    assert len(calls) == 2  # the first call through the memo formats
    cfg.lr = 0.2
    assert "lr = 0.2" in cfg.pretty_text
    assert len(calls) == 3  # another text is formatted anew
