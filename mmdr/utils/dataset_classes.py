"""The classes of a built data set and where they came from, for checks
that compare them with a model (its head, D&R's k) and for their messages.
"""
from typing import Optional

#: A data set may set this attribute to say where its classes come from,
#: e.g. the path of UCF-101's ``classInd.txt``; messages name it.
CLASS_SOURCE_ATTR = 'class_source'


def unwrap_dataset(dataset):
    """The data set inside wrappers such as ``RepeatDataset``.

    Args:
        dataset: A data set, possibly wrapped (through ``.dataset``).

    Returns:
        The innermost data set.
    """
    seen = set()
    while hasattr(dataset, 'dataset') and id(dataset) not in seen:
        seen.add(id(dataset))
        dataset = dataset.dataset
    return dataset


def num_dataset_classes(dataset) -> Optional[int]:
    """The number of classes in a data set's ``metainfo['classes']``.

    Args:
        dataset: A built data set.

    Returns:
        int, optional: None where the metainfo names no classes (e.g. a
        regression data set, or one without ``metainfo``).
    """
    metainfo = getattr(dataset, 'metainfo', None)
    classes = metainfo.get('classes') if isinstance(metainfo, dict) else None
    if classes is None or isinstance(classes, str) or len(classes) == 0:
        return None
    return len(classes)


def describe_dataset(dataset, where: str) -> str:
    """A data set in messages: where it is in the config, its type and its
    annotation file.

    Args:
        dataset: A built data set.
        where (str): Its place in the config, e.g.
            ``'train_dataloader.dataset'``.

    Returns:
        str: e.g. ``'train_dataloader.dataset (UCF101Dataset,
        data/ucf101/mmdr_ucf101_trainpart_split_1_rawframes.txt)'``.
    """
    inner = unwrap_dataset(dataset)
    parts = [type(dataset).__name__]
    if inner is not dataset:
        parts[0] += f' of {type(inner).__name__}'
    ann_file = getattr(inner, 'ann_file', None)
    if isinstance(ann_file, str) and ann_file:
        parts.append(ann_file)
    return f'{where} ({", ".join(parts)})'


def classes_origin(dataset) -> str:
    """Where a data set's classes came from.

    Args:
        dataset: A built data set.

    Returns:
        str: ``'from <class_source>'`` where the data set (or the one it
        wraps) says so (:data:`CLASS_SOURCE_ATTR`), else ``"in its
        metainfo['classes']"``.
    """
    for candidate in (dataset, unwrap_dataset(dataset)):
        source = getattr(candidate, CLASS_SOURCE_ATTR, None)
        if source:
            return f'from {source}'
    return "in its metainfo['classes']"


def describe_classes(dataset, where: str) -> Optional[str]:
    """A data set's class count with the data set and their origin.

    Args:
        dataset: A built data set.
        where (str): Its place in the config.

    Returns:
        str, optional: e.g. ``"3 classes of train_dataloader.dataset
        (UCF101Dataset, ...; from data/ucf101/.../classInd.txt)"``; None
        where the data set names no classes.
    """
    num_classes = num_dataset_classes(dataset)
    if num_classes is None:
        return None
    return (f'{num_classes} classes of {describe_dataset(dataset, where)} '
            f'({classes_origin(dataset)})')
