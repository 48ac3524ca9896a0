import os.path as osp
from typing import Callable, List, Optional, Union

from mmdr.registry import DATASETS
from .base_multimodal_dataset import BaseMultiModalDataset

FOOD101_PREPARE_COMMAND = 'python tools/data/food101/prepare_food101.py'
#: The modalities of every sample, in the model's order.
FOOD101_MODALITIES = ('visual', 'text')
#: What the preparation tool writes into the release's folder.
FOOD101_LISTS = dict(
    train='mmdr_train.json', val='mmdr_val.json', test='mmdr_test.json')
FOOD101_VOCABULARY = 'mmdr_vocab.txt'


@DATASETS.register_module()
class Food101Dataset(BaseMultiModalDataset):
    """UPMC Food-101 (Wang et al., 2015): a web page's image and text.

    About 90,000 pages of 101 food classes, each an image and the text of
    the page it came from, in the layout of the public release (and of
    BalanceBenchmark's ``FOOD101Dataset``)::

        data/food101/
          images/{train,test}/<class>/<name>.jpg
          texts/{train,test}_titles.csv       <name>,<text>,<class> rows
          mmdr_{train,val,test}.json          prepare_food101.py
          mmdr_vocab.txt  skipped.txt         prepare_food101.py

    ``tools/data/food101/prepare_food101.py`` checks every image and text
    and writes the lists in mmengine's annotation format (``metainfo`` with
    the classes, the sorted class folders as BalanceBenchmark's
    ``find_classes`` orders them; ``data_list`` with ``img_path`` relative
    to ``data_root``, ``title``, ``label`` and ``sample_id``): the
    validation list is its stratified carve of the release's training
    part, the test list the release's test part, and the vocabulary of the
    bag-of-words text model is counted on the training list only.

    Every sample's info holds ``img_path`` (absolute; also ``filename``,
    which mmaction2's ``ImageDecode`` reads), ``title`` (the raw
    text), ``label``, ``vocab_path`` (the vocabulary file, for
    :class:`mmdr.datasets.transforms.BagOfWords`) and ``modalities``
    (``visual`` and ``text``, the keys the pipeline fills). Missing and
    empty images stop the start, all named at once.

    Args:
        ann_file (str): A list, relative to ``data_root`` unless absolute.
            Defaults to ``'mmdr_train.json'``.
        data_root (str): The release's folder. Defaults to
            ``'data/food101'``.
        vocab_file (str, optional): The vocabulary, relative to
            ``data_root`` unless absolute; None for a text model that needs
            none (BERT). Defaults to ``'mmdr_vocab.txt'``.
        pipeline (list): Transforms applied to every sample.
        test_mode (bool): Whether the data set is for testing.
        kwargs: Further arguments of :class:`BaseMultiModalDataset`.
    """

    PREPARE_COMMAND = FOOD101_PREPARE_COMMAND
    PREPARE_ROOT_OPTION = '--root'

    def __init__(self,
                 ann_file: str = FOOD101_LISTS['train'],
                 data_root: str = 'data/food101',
                 vocab_file: Optional[str] = FOOD101_VOCABULARY,
                 pipeline: List[Union[dict, Callable]] = [],
                 test_mode: bool = False,
                 **kwargs) -> None:
        self.vocab_file = vocab_file
        super().__init__(
            ann_file=ann_file,
            data_root=data_root,
            pipeline=pipeline,
            test_mode=test_mode,
            **kwargs)

    @property
    def modalities(self) -> tuple:
        """tuple[str]: The modalities every sample provides."""
        return FOOD101_MODALITIES

    def load_data_list(self) -> List[dict]:
        """Read the list and check its samples and files.

        Returns:
            list[dict]: One dict per sample.
        """
        name = type(self).__name__
        for path, what in ((self.ann_file, 'list'), (self.vocab_path,
                                                     'vocabulary')):
            if path is not None and not osp.isfile(path):
                raise FileNotFoundError(
                    f'{name}: the {what} {path} is not there. Prepare the '
                    f'data set with: {self.prepare_hint(self.data_root)}')
        data_list = super().load_data_list()
        if not data_list:
            raise ValueError(f'{name}: {self.ann_file} lists no sample')
        classes = self.metainfo.get('classes') or ()
        for info in data_list:
            if not 0 <= info['label'] < len(classes):
                raise ValueError(
                    f'{info["ann_line"]}: label {info["label"]} is not one '
                    f'of the {len(classes)} classes of the list\'s metainfo')
        self.check_sample_files([(info['ann_line'], info['img_path'])
                                 for info in data_list])
        return data_list

    @property
    def vocab_path(self) -> Optional[str]:
        """str | None: The vocabulary file's path, if any."""
        if self.vocab_file is None:
            return None
        return osp.join(self.data_root, self.vocab_file)

    def parse_data_info(self, raw_data_info: dict) -> dict:
        """Make one list entry a sample's info.

        Args:
            raw_data_info (dict): The entry: ``img_path``, ``title``,
                ``label``, ``sample_id``.

        Returns:
            dict: The info.
        """
        missing = [
            key for key in ('img_path', 'title', 'label', 'sample_id')
            if key not in raw_data_info
        ]
        if missing:
            raise ValueError(
                f'{type(self).__name__}: an entry of {self.ann_file} lacks '
                f'{missing}: {raw_data_info}. Prepare the data set again: '
                f'{self.prepare_hint(self.data_root)}')
        info = dict(raw_data_info)
        info['img_path'] = osp.join(self.data_root, info['img_path'])
        # Where mmaction2's ImageDecode reads the image.
        info['filename'] = info['img_path']
        info['ann_line'] = f'{self.ann_file}, sample {info["sample_id"]}'
        info['vocab_path'] = self.vocab_path
        info['modalities'] = FOOD101_MODALITIES
        return info

    def get_cat_ids(self, idx: int) -> List[int]:
        """The class of a sample (for class-balanced wrappers).

        Args:
            idx (int): Sample index.

        Returns:
            list[int]: Its label.
        """
        return [self.get_data_info(idx)['label']]
