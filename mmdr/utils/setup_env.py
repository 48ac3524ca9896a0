import datetime
import warnings

from mmengine.registry import DefaultScope


def register_all_modules(init_default_scope: bool = True) -> None:
    """Register the modules of mmdr and of mmaction2 into the registries.

    mmdr's registries are children of mmaction2's, so a config with
    ``default_scope = 'mmdr'`` reaches both; mmaction2's modules are imported
    here because a parent registry does not import its own locations when a
    child looks a name up in it.

    Args:
        init_default_scope (bool): Whether to set the global default scope to
            ``mmdr``. Defaults to True.
    """
    import mmaction.datasets  # noqa: F401
    import mmaction.engine  # noqa: F401
    import mmaction.evaluation  # noqa: F401
    import mmaction.models  # noqa: F401

    import mmdr.datasets  # noqa: F401
    import mmdr.engine  # noqa: F401
    import mmdr.evaluation  # noqa: F401
    import mmdr.models  # noqa: F401

    if not init_default_scope:
        return
    current = DefaultScope.get_current_instance()
    if current is None or not DefaultScope.check_instance_created('mmdr'):
        DefaultScope.get_instance('mmdr', scope_name='mmdr')
        return
    if current.scope_name != 'mmdr':
        warnings.warn(f'The current default scope "{current.scope_name}" is '
                      'not "mmdr"; register_all_modules sets it to "mmdr".')
        DefaultScope.get_instance(
            f'mmdr-{datetime.datetime.now()}', scope_name='mmdr')
