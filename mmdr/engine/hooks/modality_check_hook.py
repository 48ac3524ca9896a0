from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mmdr.registry import HOOKS
from mmdr.utils.dataset_classes import describe_classes, num_dataset_classes


@HOOKS.register_module()
class ModalityCheckHook(Hook):
    """Check, before any step runs, that the data fit the model.

    A model whose encoders name a modality that a data set does not provide
    would otherwise fail inside the first batch; this hook names the
    modality and the dataloader instead. Data sets without a ``modalities``
    attribute (e.g. mmaction2's) are left to the model's own check. Data
    sets that know their feature widths (``feature_widths``, read from their
    files) are also checked against the encoders' ``in_channels``, and data
    sets with classes in their ``metainfo`` against the heads'
    ``num_classes`` (a head sized for another data set would train in
    silence).
    """

    priority = 'VERY_HIGH'

    def _check(self, runner, dataloader, name: str) -> None:
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        dataset = getattr(dataloader, 'dataset', None)
        source = f'{name}.dataset ({type(dataset).__name__})'
        available = getattr(dataset, 'modalities', None)
        if available is not None and hasattr(model, 'check_modalities'):
            model.check_modalities(available, source)
            widths = getattr(dataset, 'feature_widths', None)
            if widths and hasattr(model, 'check_feature_widths'):
                model.check_feature_widths(widths, source)
        num_classes = num_dataset_classes(dataset)
        if num_classes is not None and hasattr(model, 'check_num_classes'):
            model.check_num_classes(
                num_classes, describe_classes(dataset, f'{name}.dataset'))

    def before_train(self, runner) -> None:
        """Check the training and validation data.

        Args:
            runner (Runner): The runner.
        """
        self._check(runner, runner.train_dataloader, 'train_dataloader')
        if runner.val_loop is not None:
            self._check(runner, runner.val_dataloader, 'val_dataloader')

    def before_test(self, runner) -> None:
        """Check the test data.

        Args:
            runner (Runner): The runner.
        """
        self._check(runner, runner.test_dataloader, 'test_dataloader')
