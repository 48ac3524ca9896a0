import functools


def format_each_config_text_once() -> None:
    """Memoise the yapf call behind mmengine's ``Config.pretty_text``.

    mmengine formats the whole config with yapf when a Runner starts, when
    it dumps the config and on every checkpoint it saves (the checkpoint's
    ``meta['cfg']``): one to two seconds of a CPU core each for a video
    config with several pipelines. A run formats the same text again and
    again, and yapf gives the same output for the same input, so formatting
    each input once changes no byte that a run writes or logs. Idempotent.
    """
    from mmengine.config import config as config_module
    if getattr(config_module.FormatCode, 'formats_each_text_once', False):
        return
    format_code = config_module.FormatCode

    @functools.lru_cache(maxsize=64)
    def format_once(source: str, style: tuple) -> tuple:
        return format_code(source, style_config=dict(style))

    def memoised(source, style_config=None, **kwargs):
        if kwargs or not isinstance(style_config, dict):
            return format_code(source, style_config=style_config, **kwargs)
        return format_once(source, tuple(sorted(style_config.items())))

    memoised.formats_each_text_once = True
    config_module.FormatCode = memoised
