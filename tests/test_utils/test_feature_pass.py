"""The one feature pass of D&R's diagnosis, PMR's prototypes and the feature
analyses: what it reads, in which order, and what it gathers."""
import numpy as np
import pytest
import torch
from mmaction.structures import ActionDataSample

from mmdr.utils import gather_modality_features, modality_feature_batches


class LinearViews(torch.nn.Module):
    """Per view a fixed linear map; records the modalities it was asked."""

    def __init__(self):
        super().__init__()
        self.encoders = torch.nn.ModuleDict(
            dict(a=torch.nn.Linear(2, 3), b=torch.nn.Linear(2, 1)))
        self.asked = []

    @torch.no_grad()
    def extract_modality_features(self, batch, modalities=None):
        self.asked.append(modalities)
        names = modalities or list(self.encoders)
        return {
            m: self.encoders[m](torch.stack(batch['inputs'])).double()
            for m in names
        }


class CountingLoader(list):
    """A list of batches that counts the batches read."""
    read = 0

    def __iter__(self):
        for batch in super().__iter__():
            self.read += 1
            yield batch


def _batch(labels, seed):
    g = torch.Generator().manual_seed(seed)
    return dict(
        inputs=list(torch.randn(len(labels), 2, generator=g)),
        data_samples=[ActionDataSample().set_gt_labels(y) for y in labels])


BATCHES = [_batch([0, 1], 1), _batch([2], 2), _batch([1, 1, 0], 3)]


def test_batches_give_float_features_and_labels_of_the_modalities():
    model = LinearViews()
    loader = CountingLoader(BATCHES)
    out = list(modality_feature_batches(model, loader, ('b', )))
    assert model.asked == [('b', )] * 3
    assert [labels.tolist() for _, labels in out] == [[0, 1], [2], [1, 1, 0]]
    for (feats, labels), batch in zip(out, BATCHES):
        assert list(feats) == ['b'] and labels.dtype == torch.long
        assert feats['b'].dtype == torch.float32  # float() of the double
        want = model.encoders['b'](torch.stack(batch['inputs'])).float()
        assert torch.equal(feats['b'], want.detach())


def test_max_batches_reads_no_further_batch(capsys):
    loader = CountingLoader(BATCHES)
    out = list(
        modality_feature_batches(
            LinearViews(), loader, max_batches=2, progress=True))
    assert len(out) == 2 and loader.read == 2
    # The progress bar counts the batches read.
    assert '2/2' in capsys.readouterr().out


def test_no_progress_bar_by_default(capsys):
    list(modality_feature_batches(LinearViews(), BATCHES))
    assert capsys.readouterr().out == ''


def test_gather_concatenates_the_data_set_in_order():
    model = LinearViews()
    samples = [(x, s) for b in BATCHES
               for x, s in zip(b['inputs'], b['data_samples'])]
    loader = torch.utils.data.DataLoader(
        samples,
        batch_size=2,
        collate_fn=lambda rows: dict(
            inputs=[x for x, _ in rows], data_samples=[s for _, s in rows]))
    feats, labels = gather_modality_features(model, loader)
    assert list(feats) == ['a', 'b']
    assert labels.tolist() == [0, 1, 2, 1, 1, 0]
    inputs = torch.stack([x for x, _ in samples])
    for m in ('a', 'b'):
        assert isinstance(feats[m], np.ndarray)
        np.testing.assert_array_equal(
            feats[m], model.encoders[m](inputs).detach().float().numpy())
    only_b, _ = gather_modality_features(model, loader, ['b'])
    assert list(only_b) == ['b']


@pytest.mark.parametrize('rank', [0, 1])
def test_gather_on_two_ranks_gives_the_main_process_everything(
        monkeypatch, rank):
    import mmengine.dist
    model = LinearViews()
    samples = [(x, s) for b in BATCHES
               for x, s in zip(b['inputs'], b['data_samples'])][:4]
    # The rank's share of the whole data set, as DefaultSampler gives it.
    loader = torch.utils.data.DataLoader(
        samples,
        sampler=list(range(rank, 4, 2)),
        batch_size=2,
        collate_fn=lambda rows: dict(
            inputs=[x for x, _ in rows], data_samples=[s for _, s in rows]))
    monkeypatch.setattr(mmengine.dist, 'get_world_size', lambda: 2)
    monkeypatch.setattr(mmengine.dist, 'is_main_process', lambda: rank == 0)

    def gather(part, dst):
        # The other rank's rows: features of its samples, or its labels.
        other = samples[1 - rank::2]
        if part.dtype == torch.long:
            theirs = torch.tensor([int(s.gt_labels.item) for _, s in other])
        else:
            theirs = model.encoders['a' if part.shape[1] == 3 else 'b'](
                torch.stack([x for x, _ in other])).detach().float()
        return [part, theirs] if rank == 0 else []

    monkeypatch.setattr(mmengine.dist, 'gather', gather)
    feats, labels = gather_modality_features(model, loader)
    if rank == 1:
        assert feats is None and labels is None
        return
    # Interleaved back into data set order.
    assert labels.tolist() == [0, 1, 2, 1]
    inputs = torch.stack([x for x, _ in samples])
    for m in ('a', 'b'):
        np.testing.assert_array_equal(
            feats[m], model.encoders[m](inputs).detach().float().numpy())
