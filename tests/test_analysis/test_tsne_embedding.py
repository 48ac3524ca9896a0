"""t-SNE embeddings of feature matrices (mmdr.analysis.tsne, pure part)."""
import numpy as np
import pytest

from mmdr.analysis import (subsample_indices, tsne_embed,
                           tsne_embed_modalities, tsne_perplexity)


def _clusters(seed=0, per_class=10, dim=16):
    """Three well separated Gaussian blobs."""
    rng = np.random.default_rng(seed)
    centres = 10 * rng.standard_normal((3, dim))
    feats = np.concatenate(
        [c + rng.standard_normal((per_class, dim)) for c in centres])
    return feats.astype(np.float32), np.repeat(np.arange(3), per_class)


def test_embedding_is_2d_deterministic_and_keeps_clusters():
    feats, labels = _clusters()
    first = tsne_embed(feats, seed=0)
    assert first.shape == (30, 2) and first.dtype == np.float32
    np.testing.assert_array_equal(first, tsne_embed(feats, seed=0))
    # Separated blobs stay separated: every point's nearest neighbour in
    # the embedding is of its class.
    dist = np.linalg.norm(first[:, None] - first[None], axis=-1)
    np.fill_diagonal(dist, np.inf)
    assert (labels[dist.argmin(1)] == labels).all()


def test_every_modality_is_embedded_on_its_own():
    a, _ = _clusters(0)
    b, _ = _clusters(1, dim=5)
    out = tsne_embed_modalities(dict(audio=a, visual=b), seed=3)
    assert list(out) == ['audio', 'visual']
    np.testing.assert_array_equal(out['visual'], tsne_embed(b, seed=3))


def test_perplexity_fits_small_sets():
    assert tsne_perplexity(1000) == 30.0
    assert tsne_perplexity(1000, 50) == 50.0
    assert tsne_perplexity(13) == 4.0
    assert tsne_perplexity(2) == 1.0
    # 4 points embed (scikit-learn refuses perplexity >= N).
    assert tsne_embed(np.eye(4)).shape == (4, 2)


def test_subset_is_seeded_sorted_and_none_when_all_fit():
    assert subsample_indices(10, None) is None
    assert subsample_indices(10, 10) is None
    subset = subsample_indices(100, 20, seed=5)
    assert len(subset) == 20 == len(set(subset.tolist()))
    assert (np.diff(subset) > 0).all() and subset.max() < 100
    np.testing.assert_array_equal(subset, subsample_indices(100, 20, seed=5))
    assert not np.array_equal(subset, subsample_indices(100, 20, seed=6))


@pytest.mark.parametrize('feats, message', [
    (np.zeros((1, 3)), 'N >= 2; got shape \\(1, 3\\)'),
    (np.zeros(5), 'N >= 2; got shape \\(5,\\)'),
    (np.array([[0.0, np.nan], [1.0, 2.0]]), '1 non-finite'),
])
def test_bad_features_are_refused(feats, message):
    with pytest.raises(ValueError, match=message):
        tsne_embed(feats)
