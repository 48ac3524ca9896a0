from typing import Optional, Sequence

from mmaction.datasets.transforms import PackActionInputs
from mmcv.transforms import BaseTransform

from mmdr.registry import TRANSFORMS


@TRANSFORMS.register_module()
class PackMultiModalInputs(BaseTransform):
    """Pack every modality of a sample into ``inputs`` as a dict.

    By default the keys are the sample's ``modalities`` entry, which mmdr's
    data sets set from their config, so the modalities are named once in a
    config. Packing itself (tensors, ``gt_labels``, meta keys) is
    mmaction2's :class:`PackActionInputs` with ``collect_keys``.

    Args:
        keys (Sequence[str], optional): Modalities to pack; defaults to the
            sample's ``modalities``.
        meta_keys (Sequence[str]): Keys copied into the data sample's
            metainfo. Defaults to ``('sample_idx', )``.
    """

    def __init__(
        self,
        keys: Optional[Sequence[str]] = None,
        meta_keys: Sequence[str] = ('sample_idx', )
    ) -> None:
        self.keys = None if keys is None else tuple(keys)
        self.meta_keys = tuple(meta_keys)

    def transform(self, results: dict) -> dict:
        """Pack one sample.

        Args:
            results (dict): The sample, with one array per modality.

        Returns:
            dict: ``inputs`` (modality name to tensor) and ``data_samples``.
        """
        keys = self.keys if self.keys is not None else results.get(
            'modalities')
        if keys is None:
            raise KeyError('PackMultiModalInputs: the sample names no '
                           '"modalities"; set keys=(...) in the pipeline')
        missing = [k for k in keys if k not in results]
        if missing:
            raise KeyError(f'PackMultiModalInputs: sample '
                           f'{results.get("sample_idx")} lacks the '
                           f'modalities {missing}')
        packer = PackActionInputs(
            collect_keys=tuple(keys), meta_keys=self.meta_keys)
        return packer.transform(results)

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(keys={self.keys}, '
                f'meta_keys={self.meta_keys})')
