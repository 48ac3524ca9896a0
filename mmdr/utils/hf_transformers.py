"""Hugging Face ``transformers``, an optional dependency of mmdr.

Only the text models of some configs (``*_bert.py``) need it; everything
else runs without it. Nothing is ever downloaded: models and tokenizers are
read from local folders only.
"""
import os.path as osp
from types import ModuleType

#: How to install the optional dependency.
INSTALL_COMMAND = 'pip install transformers'


def import_transformers(config_key: str) -> ModuleType:
    """Import ``transformers``, or say which setting asked for it.

    Args:
        config_key (str): The config key that needs it, e.g.
            ``model.encoders.text``.

    Returns:
        module: The ``transformers`` package.

    Raises:
        ImportError: When it is not installed; the message names the
            command that installs it and ``config_key``.
    """
    try:
        import transformers
    except ImportError as err:
        raise ImportError(
            f'{config_key} needs Hugging Face transformers, which is not '
            f'installed: run "{INSTALL_COMMAND}", or use a config whose text '
            'model needs no extra package (e.g. configs/jt_food101.py, a '
            'bag of words)') from err
    return transformers


def check_local_model(path: str, config_key: str) -> str:
    """Check that a pretrained model is a local folder (no download).

    Args:
        path (str): The folder, as ``save_pretrained`` writes it (e.g.
            ``config.json``, weights and tokenizer files).
        config_key (str): The config key that names it.

    Returns:
        str: ``path``.

    Raises:
        FileNotFoundError: When ``path`` is not a folder holding
            ``config.json``.
    """
    if not osp.isfile(osp.join(str(path), 'config.json')):
        raise FileNotFoundError(
            f'{config_key}={path!r} is not a local model folder (no '
            'config.json): models are read from local folders only, never '
            'downloaded. Save one where the config points, e.g. on a '
            'machine with network: python -c "from transformers import '
            "AutoModel, AutoTokenizer; name = 'bert-base-uncased'; "
            f"AutoModel.from_pretrained(name).save_pretrained('{path}'); "
            'AutoTokenizer.from_pretrained(name).save_pretrained('
            f"'{path}')\"")
    return path
