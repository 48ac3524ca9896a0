"""Uni-modal linear probes of a checkpoint: its frozen encoders' features of
the training split fit a probe per modality, scored on other splits."""
from typing import Dict, Sequence

from mmengine.config import Config

from .linear_probe import fit_linear_probe
from .modality_features import extract_modality_features, load_model_checkpoint


def unimodal_probes(
    cfg: Config, checkpoint: str, splits: Sequence[str] = ('val', 'test')
) -> Dict[str, Dict[str, float]]:
    """Accuracy of a linear probe on each frozen encoder of a checkpoint.

    The probe is fitted on the training split read with the validation
    pipeline (no augmentation), with the validation loader's batch size and
    workers.

    Args:
        cfg (Config): The config the checkpoint was trained with.
        checkpoint (str): The checkpoint.
        splits (Sequence[str]): Splits to score on: ``'val'`` and/or
            ``'test'``. Defaults to both.

    Returns:
        dict: Modality to ``{split: accuracy}``.
    """
    model = load_model_checkpoint(cfg, checkpoint)
    loader = cfg.val_dataloader
    dataset_cfgs = dict(
        train=dict(
            cfg.train_dataloader.dataset,
            pipeline=loader.dataset.pipeline,
            test_mode=True),
        val=loader.dataset,
        test=cfg.test_dataloader.dataset)
    features = {
        name:
        extract_modality_features(model, dataset_cfgs[name], loader.batch_size,
                                  loader.num_workers)
        for name in ('train', *splits)
    }
    train_x, train_y = features['train']
    return {
        m:
        fit_linear_probe(train_x[m], train_y, {
            name: (features[name][0][m], features[name][1])
            for name in splits
        })
        for m in train_x
    }
