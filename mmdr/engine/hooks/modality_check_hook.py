from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mmdr.registry import HOOKS


@HOOKS.register_module()
class ModalityCheckHook(Hook):
    """Check, before any step runs, that the data provide every modality.

    A model whose encoders name a modality that a data set does not provide
    would otherwise fail inside the first batch; this hook names the
    modality and the dataloader instead. Data sets without a ``modalities``
    attribute (e.g. mmaction2's) are left to the model's own check. Data
    sets that know their feature widths (``feature_widths``, read from their
    files) are also checked against the encoders' ``in_channels``.
    """

    priority = 'VERY_HIGH'

    def _check(self, runner, dataloader, name: str) -> None:
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        dataset = getattr(dataloader, 'dataset', None)
        available = getattr(dataset, 'modalities', None)
        if available is None or not hasattr(model, 'check_modalities'):
            return
        source = f'{name}.dataset ({type(dataset).__name__})'
        model.check_modalities(available, source)
        widths = getattr(dataset, 'feature_widths', None)
        if widths and hasattr(model, 'check_feature_widths'):
            model.check_feature_widths(widths, source)

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
