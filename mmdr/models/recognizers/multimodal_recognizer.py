from typing import Dict, List, Optional, Sequence, Union

import torch
from mmengine.model import BaseModel, ModuleDict
from mmengine.structures import BaseDataElement

from mmdr.registry import MODELS
from ..encoders import BaseEncoder
from ..utils import CheckpointUnreachableError

ForwardResults = Union[Dict[str, torch.Tensor], List[BaseDataElement],
                       torch.Tensor]


@MODELS.register_module()
class MultiModalRecognizer(BaseModel):
    """A classifier with one encoder per modality, a fusion and a head.

    ``inputs`` is a dict from modality name to batch; every encoder turns its
    modality into one pooled feature vector per sample, the fusion module
    merges them and the head classifies. Any number of modalities can be
    named, and each encoder wraps any registered backbone, so backbones,
    fusion and data are swapped in the config alone.

    :meth:`extract_modality_features` is the public way to read the pooled
    per-modality features (what D&R diagnoses), :meth:`unimodal_logits` the
    way to read per-modality class scores (what balancing methods compare);
    nothing outside this class needs to know its attributes.

    A ``balancer`` (see :mod:`mmdr.models.balancers`) replaces the training
    loss with a balancing method's, and the class scores of prediction where
    the method defines its own (:meth:`class_scores`). ``modalities``
    trains a subset of the configured encoders, e.g. each modality alone
    from the same config.

    Args:
        encoders (dict[str, dict]): Modality name to encoder config (see
            :mod:`mmdr.models.encoders`); the order is the modality order.
        fusion (dict): Fusion config; ``in_dims`` is filled in from the
            encoders' ``feat_dim``.
        cls_head (dict): Head config; ``in_channels`` is filled in from the
            fusion's ``out_dim``.
        data_preprocessor (dict, optional): Defaults to mmaction2's
            ``MultiModalDataPreprocessor`` that stacks every configured
            modality without normalising it.
        unimodal_head (dict, optional): Config of one head per encoder
            (``in_channels`` from the encoder's ``feat_dim``,
            ``num_classes`` from ``cls_head``), trained by the balancers that
            need uni-modal logits. Defaults to None (no such heads).
        balancer (dict, optional): Config of a balancing method. Defaults to
            None: the head's loss on the fused feature (joint training).
        modalities (Sequence[str], optional): Build and use only these of
            the configured encoders. Defaults to None (all).
        init_cfg (dict or list[dict], optional): Initialisation config.
    """

    def __init__(self,
                 encoders: Dict[str, dict],
                 fusion: dict,
                 cls_head: dict,
                 data_preprocessor: Optional[dict] = None,
                 unimodal_head: Optional[dict] = None,
                 balancer: Optional[dict] = None,
                 modalities: Optional[Sequence[str]] = None,
                 init_cfg: Optional[Union[dict, list]] = None) -> None:
        if not encoders:
            raise ValueError('MultiModalRecognizer needs at least one encoder')
        if modalities is not None:
            unknown = [m for m in modalities if m not in encoders]
            if unknown or not modalities:
                raise ValueError(
                    f'model.modalities={list(modalities)} must name some of '
                    f'the configured encoders {list(encoders)}')
        if data_preprocessor is None:
            data_preprocessor = dict(
                type='MultiModalDataPreprocessor',
                preprocessors={
                    m: dict(type='ActionDataPreprocessor')
                    for m in encoders
                })
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        # mmengine's ModuleDict, not torch's: BaseModule.init_weights()
        # recurses only into children that have init_weights, so the
        # encoders (and their Pretrained init_cfg) would never initialise.
        self.encoders = ModuleDict()
        for m, cfg in encoders.items():
            if modalities is None or m in modalities:
                self.encoders[m] = MODELS.build(cfg)
                # The log and messages of the encoder name its config key.
                self.encoders[m].modality = m

        fusion = dict(fusion)
        fusion.setdefault('in_dims', {
            m: e.feat_dim
            for m, e in self.encoders.items()
        })
        self.fusion = MODELS.build(fusion)

        cls_head = dict(cls_head)
        in_channels = cls_head.setdefault('in_channels', self.fusion.out_dim)
        if in_channels != self.fusion.out_dim:
            raise ValueError(
                f'cls_head.in_channels={in_channels} does not match the '
                f'{type(self.fusion).__name__} output width '
                f'{self.fusion.out_dim}; leave in_channels out of the head '
                'config to have it filled in.')
        self.cls_head = MODELS.build(cls_head)

        self.unimodal_heads = None
        if unimodal_head is not None:
            if (getattr(self.cls_head, 'num_classes', None) is None
                    and 'num_classes' not in unimodal_head):
                raise ValueError(
                    'model.unimodal_head takes num_classes from '
                    f'model.cls_head, but {type(self.cls_head).__name__} has '
                    'none (a regression head); the methods with uni-modal '
                    'heads classify')
            self.unimodal_heads = ModuleDict({
                m:
                MODELS.build({
                    'num_classes': self.cls_head.num_classes,
                    **unimodal_head, 'in_channels': e.feat_dim
                })
                for m, e in self.encoders.items()
            })
        self.balancer = None
        if balancer is not None:
            self.balancer = MODELS.build(balancer)
            self.balancer.check_model(self)

    @property
    def modalities(self) -> tuple:
        """tuple[str]: The modality names, in config order."""
        return tuple(self.encoders)

    def check_modalities(self, available: Sequence[str], source: str) -> None:
        """Raise if the data lacks a modality that an encoder needs.

        Args:
            available (Sequence[str]): The modalities the data provides.
            source (str): Where they come from, for the message.
        """
        missing = [m for m in self.modalities if m not in available]
        if missing:
            raise KeyError(
                f'model.encoders needs the modalities {missing}, but '
                f'{source} provides only {list(available)}. Name the '
                'encoders after the data set\'s modalities (or change the '
                'data set\'s modalities).')

    def check_feature_widths(self, widths: Dict[str, int],
                             source: str) -> None:
        """Raise if an encoder expects another input width than the data.

        Feature files differ in their widths between distributed versions
        (e.g. CMU-MOSI's audio has 5 or 74 features); the data set reads
        them from its files and this names the mismatch before training.
        Encoders without an ``in_channels`` attribute are not checked.

        Args:
            widths (dict[str, int]): Modality to feature width, as the data
                set found it.
            source (str): Where the widths come from, for the message.
        """
        wrong = {
            m: (encoder.in_channels, widths[m])
            for m, encoder in self.encoders.items()
            if m in widths and getattr(encoder, 'in_channels', None) not in (
                None, widths[m])
        }
        if wrong:
            settings = ' '.join(f'model.encoders.{m}.in_channels={found}'
                                for m, (_, found) in wrong.items())
            details = ', '.join(f'{m}: {want} (model) vs {found} (data)'
                                for m, (want, found) in wrong.items())
            raise ValueError(
                f'{source} has other feature widths than the encoders '
                f'expect ({details}); set {settings}')

    def check_num_classes(self, num_classes: int, source: str) -> None:
        """Raise if a head has another number of classes than the data.

        A head sized for another data set (e.g. UCF-101's 101 classes on a
        user's 3) would otherwise train without a word. Heads without
        ``num_classes`` (e.g. :class:`LinearRegHead`) are not checked.

        Args:
            num_classes (int): The data set's number of classes.
            source (str): The data set's classes in words, for the message
                (e.g. ``'3 classes of train_dataloader.dataset (...)'``).
        """
        head_classes = getattr(self.cls_head, 'num_classes', None)
        wrong = {}
        if head_classes not in (None, num_classes):
            wrong['model.cls_head'] = head_classes
        # Uni-modal heads take the fused head's count unless their config
        # names another; only then is theirs a setting of its own.
        for head in (self.unimodal_heads or {}).values():
            count = getattr(head, 'num_classes', None)
            if count not in (None, num_classes, head_classes):
                wrong['model.unimodal_head'] = count
        if wrong:
            found = ', '.join(f'{key}.num_classes={count}'
                              for key, count in wrong.items())
            settings = ' '.join(f'{key}.num_classes={num_classes}'
                                for key in wrong)
            raise ValueError(f'{found} does not match the {source}; set '
                             f'--cfg-options {settings}')

    def init_weights(self) -> None:
        """Initialise every part as mmengine does (each encoder logs where
        its weights came from).

        A pretrained address that cannot be fetched stops with the message
        of the first encoder that names it; the message also lists every
        other encoder that names the same address, so that one run shows
        every setting to change.
        """
        try:
            super().init_weights()
        except CheckpointUnreachableError as err:
            keys = [
                f'{key}.checkpoint' for encoder in self.encoders.values()
                if isinstance(encoder, BaseEncoder)
                for key, cfg in encoder.pretrained_cfgs()
                if cfg.get('checkpoint') == err.address
            ]
            if len(keys) < 2:
                raise
            error = CheckpointUnreachableError(
                f'{err}\nThe same address is named by '
                f'{", ".join(keys[:-1])} and {keys[-1]}: set each of them.')
            error.address = err.address
            raise error from None

    def extract_feat(
            self, inputs: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
        """Run every encoder on its modality.

        Args:
            inputs (dict[str, torch.Tensor]): Modality name to batch.

        Returns:
            dict[str, torch.Tensor]: Modality name to (N, D_m) features.
        """
        if not isinstance(inputs, dict):
            raise TypeError('MultiModalRecognizer takes a dict of modality '
                            f'batches, got {type(inputs).__name__}')
        self.check_modalities(list(inputs), 'the batch')
        return {m: encoder(inputs[m]) for m, encoder in self.encoders.items()}

    @torch.no_grad()
    def extract_modality_features(self,
                                  data: dict,
                                  modalities: Optional[Sequence[str]] = None
                                  ) -> Dict[str, torch.Tensor]:
        """Pooled per-modality features of a dataloader batch, for analysis.

        The model is put in eval mode for the call (BatchNorm uses running
        statistics, dropout is off) and restored afterwards; no gradient is
        recorded, and fusion and head are not run.

        Args:
            data (dict): A batch as the dataloader yields it (``inputs`` and
                ``data_samples``); it goes through the data preprocessor
                with ``training=False``.
            modalities (Sequence[str], optional): Which encoders to run.
                Defaults to all.

        Returns:
            dict[str, torch.Tensor]: Modality name to (N, D_m) features.
        """
        modalities = self.modalities if modalities is None else modalities
        unknown = [m for m in modalities if m not in self.encoders]
        if unknown:
            raise KeyError(f'the model has no encoder for {unknown}; its '
                           f'modalities are {list(self.modalities)}')
        was_training = self.training
        self.eval()
        try:
            data = self.data_preprocessor(data, training=False)
            inputs = data['inputs']
            missing = [m for m in modalities if m not in inputs]
            if missing:
                raise KeyError(f'the batch lacks the modalities {missing}; '
                               f'it holds {list(inputs)}')
            return {m: self.encoders[m](inputs[m]) for m in modalities}
        finally:
            self.train(was_training)

    def check_fused_head_slices(self, method: str) -> None:
        """Raise unless the head is linear on concatenated features.

        Args:
            method (str): Who needs the slices, for the message.
        """
        # Imported here: fusions import nothing from recognizers, but the
        # package order keeps this module free of a cycle either way.
        from mmdr.models.fusions import ConcatFusion
        linear = isinstance(
            getattr(self.cls_head, 'fc_cls', None), torch.nn.Linear)
        if not isinstance(self.fusion, ConcatFusion) or not linear:
            raise ValueError(
                f'{method} reads uni-modal logits from slices of a linear '
                'head on concatenated features (model.fusion '
                "type='ConcatFusion', a head with an fc_cls layer); this "
                f'model has {type(self.fusion).__name__} and '
                f'{type(self.cls_head).__name__}')

    def fused_head_slices(self) -> Dict[str, torch.Tensor]:
        """Each modality's slice of the concatenation head's weight.

        Returns:
            dict[str, torch.Tensor]: Modality to (num_classes, D_m) weights,
            in the modality order of the concatenation.
        """
        self.check_fused_head_slices('fused_head_slices')
        weight = self.cls_head.fc_cls.weight
        slices, start = {}, 0
        for m in self.modalities:
            width = self.fusion.in_dims[m]
            slices[m] = weight[:, start:start + width]
            start += width
        return slices

    def unimodal_logits(self, feats: Dict[str, torch.Tensor],
                        source: str) -> Dict[str, torch.Tensor]:
        """Class scores of every modality alone.

        Args:
            feats (dict[str, torch.Tensor]): (N, D_m) features per modality.
            source (str): ``'unimodal_heads'``: the per-encoder heads of
                ``unimodal_head``; ``'fused_head'``: each modality's slice of
                the concatenation head's weight, plus the bias divided by
                the number of modalities (OGM-GE's and PMR's code), so the
                slices' logits add up to the fused logits.

        Returns:
            dict[str, torch.Tensor]: Modality to (N, num_classes) logits.
        """
        if source == 'unimodal_heads':
            if self.unimodal_heads is None:
                raise ValueError('the model has no unimodal_head')
            return {m: self.unimodal_heads[m](feats[m]) for m in feats}
        if source != 'fused_head':
            raise ValueError(f'unknown source of uni-modal logits {source!r}; '
                             "use 'unimodal_heads' or 'fused_head'")
        fc = self.cls_head.fc_cls
        slices = self.fused_head_slices()
        bias = fc.bias / len(self.modalities) if fc.bias is not None else 0
        return {m: feats[m] @ slices[m].t() + bias for m in feats}

    def forward(self,
                inputs: Dict[str, torch.Tensor],
                data_samples: Optional[List[BaseDataElement]] = None,
                mode: str = 'tensor') -> ForwardResults:
        """The unified entry of mmengine models.

        Args:
            inputs (dict[str, torch.Tensor]): Modality name to batch.
            data_samples (list[ActionDataSample], optional): Annotations.
            mode (str): ``'loss'``, ``'predict'`` or ``'tensor'``.

        Returns:
            dict or list or torch.Tensor: Losses, predictions or class
            scores, by ``mode``.
        """
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return self._forward(inputs)
        raise RuntimeError(f'Invalid mode "{mode}"; only "loss", "predict" '
                           'and "tensor" are supported.')

    def loss(self, inputs: Dict[str, torch.Tensor],
             data_samples: List[BaseDataElement]) -> Dict[str, torch.Tensor]:
        """Compute the classification losses.

        Args:
            inputs (dict[str, torch.Tensor]): Modality name to batch.
            data_samples (list[ActionDataSample]): Annotations.

        Returns:
            dict[str, torch.Tensor]: Loss components.
        """
        feats = self.extract_feat(inputs)
        if self.balancer is not None:
            return self.balancer.loss(self, feats, data_samples)
        return self.cls_head.loss(self.fusion(feats), data_samples)

    def class_scores(self, feats: Dict[str, torch.Tensor]) -> torch.Tensor:
        """The class scores the model predicts with.

        The head's scores on the fused feature, unless the balancer defines
        its own (e.g. MMCosine's cosine logits).

        Args:
            feats (dict[str, torch.Tensor]): (N, D_m) features per modality.

        Returns:
            torch.Tensor: Shape (N, num_classes).
        """
        if self.balancer is not None:
            scores = self.balancer.predict_scores(self, feats)
            if scores is not None:
                return scores
        return self.cls_head(self.fusion(feats))

    def predict(self, inputs: Dict[str, torch.Tensor],
                data_samples: List[BaseDataElement]) -> List[BaseDataElement]:
        """Predict class scores and labels.

        Args:
            inputs (dict[str, torch.Tensor]): Modality name to batch.
            data_samples (list[ActionDataSample]): Annotations.

        Returns:
            list[ActionDataSample]: The samples with ``pred_scores`` and
            ``pred_labels`` set.
        """
        scores = self.class_scores(self.extract_feat(inputs))
        return self.cls_head.predict_by_feat(scores, data_samples)

    def _forward(self, inputs: Dict[str, torch.Tensor]) -> torch.Tensor:
        """Class scores without post-processing.

        Args:
            inputs (dict[str, torch.Tensor]): Modality name to batch.

        Returns:
            torch.Tensor: Shape (N, num_classes).
        """
        return self.class_scores(self.extract_feat(inputs))
