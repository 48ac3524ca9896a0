import math

import pytest
import torch
import torch.nn as nn

from mmdr.models.encoders import SequenceTransformerEncoder
from mmdr.registry import MODELS
from mmdr.utils import register_all_modules

register_all_modules()

IN = 5
DIMS = 16
VARIANTS = [(pooling, pos) for pooling in ('mean', 'cls')
            for pos in ('sinusoidal', 'learned')]


def _encoder(**kwargs):
    cfg = dict(
        type='SequenceTransformerEncoder',
        in_channels=IN,
        embed_dims=DIMS,
        num_layers=2,
        num_heads=4,
        dropout=0.0)
    cfg.update(kwargs)
    torch.manual_seed(0)
    encoder = MODELS.build(cfg)
    encoder.init_weights()
    return encoder


def _seqs(num, length, seed=0):
    """Sequences without an all-zero row."""
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(num, length, IN, generator=gen) + 0.1


def _pad(x, left, right):
    """Pad every sequence of x with all-zero rows on both sides."""
    num, length, channels = x.shape
    out = x.new_zeros(num, left + length + right, channels)
    out[:, left:left + length] = x
    return out


@pytest.mark.parametrize('pooling,pos', VARIANTS)
def test_shapes_and_feat_dim(pooling, pos):
    encoder = _encoder(pooling=pooling, pos_encoding=pos)
    assert isinstance(encoder, SequenceTransformerEncoder)
    assert encoder.feat_dim == DIMS
    assert encoder(_seqs(3, 50)).shape == (3, DIMS)
    assert encoder(_seqs(2, 7)).shape == (2, DIMS)
    assert hasattr(encoder, 'cls_token') == (pooling == 'cls')
    assert isinstance(encoder.pos_embed, nn.Parameter) == (pos == 'learned')


@pytest.mark.parametrize('in_channels', [300, 74, 35])
def test_data_widths(in_channels):
    encoder = _encoder(in_channels=in_channels, embed_dims=40, num_heads=5)
    out = encoder(torch.randn(2, 50, in_channels))
    assert out.shape == (2, 40) and torch.isfinite(out).all()


def test_structure():
    encoder = _encoder(feedforward_channels=24, input_norm=True)
    assert (encoder.proj.in_features, encoder.proj.out_features) == (IN, DIMS)
    assert isinstance(encoder.input_norm, nn.LayerNorm)
    assert isinstance(_encoder().input_norm, nn.Identity)
    layers = encoder.layers
    assert isinstance(layers, nn.TransformerEncoder)
    assert not layers.enable_nested_tensor and not layers.use_nested_tensor
    assert isinstance(layers.norm, nn.LayerNorm)
    assert len(layers.layers) == 2
    for layer in layers.layers:
        assert layer.norm_first
        assert layer.self_attn.batch_first
        assert layer.linear1.out_features == 24
    assert _encoder().layers.layers[0].linear1.out_features == 4 * DIMS


def test_sinusoidal_table_is_a_fixed_buffer():
    encoder = _encoder(embed_dims=15, num_heads=3, max_len=50)
    table = encoder.pos_embed
    assert table.shape == (50, 15) and not table.requires_grad
    assert 'pos_embed' not in encoder.state_dict()
    expected = torch.zeros(15)
    expected[1::2] = 1  # sin(0), cos(0)
    torch.testing.assert_close(table[0], expected)
    torch.testing.assert_close(table[3, 0], torch.tensor(math.sin(3.)))
    torch.testing.assert_close(table[3, 1], torch.tensor(math.cos(3.)))
    assert 'pos_embed' in _encoder(pos_encoding='learned').state_dict()


@pytest.mark.parametrize('pooling,pos', VARIANTS)
@pytest.mark.parametrize('left,right', [(0, 40), (40, 0), (13, 27)])
def test_padding_rows_do_not_change_features(pooling, pos, left, right):
    encoder = _encoder(pooling=pooling, pos_encoding=pos).eval()
    x = _seqs(3, 10)
    padded = _pad(x, left, right)
    with torch.no_grad():  # the inference path of nn.TransformerEncoder
        expected = encoder(x)
        torch.testing.assert_close(encoder(padded), expected)
    # The autograd path computes the same.
    torch.testing.assert_close(encoder(padded).detach(), expected)


def test_padding_sides_may_differ_within_a_batch():
    encoder = _encoder(pos_encoding='learned').eval()
    x = _seqs(3, 8)
    lengths = [8, 5, 2]
    batch = torch.zeros(3, 50, IN)
    batch[0, :8] = x[0]
    batch[1, 45:] = x[1, :5]
    batch[2, 20:22] = x[2, :2]
    with torch.no_grad():
        feats = encoder(batch)
        for i, n in enumerate(lengths):
            torch.testing.assert_close(feats[i], encoder(x[i:i + 1, :n])[0])


def test_inner_zero_rows_are_masked_and_keep_their_position():
    encoder = _encoder(pos_encoding='learned').eval()
    x = _seqs(1, 10)
    x[0, 4] = 0  # a missing step inside the sequence
    with torch.no_grad():
        expected = encoder(x)
        torch.testing.assert_close(encoder(_pad(x, 30, 10)), expected)
        # Dropping the row would shift the later positions.
        shifted = encoder(torch.cat([x[:, :4], x[:, 5:]], dim=1))
    assert not torch.allclose(shifted, expected)


def test_without_mask_padding_rows_count():
    encoder = _encoder(mask_padding=False).eval()
    x = _seqs(2, 10)
    with torch.no_grad():
        assert not torch.allclose(encoder(_pad(x, 0, 40)), encoder(x))
        # The zero rows are ordinary steps, so a full batch is unchanged.
        torch.testing.assert_close(
            encoder(x),
            _encoder(mask_padding=True).eval()(x))


@pytest.mark.parametrize('pos', ['sinusoidal', 'learned'])
def test_all_padding_sequence_is_finite(pos):
    x = _seqs(3, 50)
    x[1] = 0
    mean_encoder = _encoder(pos_encoding=pos).eval()
    cls_encoder = _encoder(pooling='cls', pos_encoding=pos).eval()
    with torch.no_grad():
        feats = mean_encoder(x)
        assert torch.isfinite(feats).all()
        assert torch.equal(feats[1], torch.zeros(DIMS))  # nothing to pool
        # The other samples are not affected.
        torch.testing.assert_close(feats[[0, 2]], mean_encoder(x[[0, 2]]))

        feats = cls_encoder(x)
        assert torch.isfinite(feats).all()
        # The CLS token attends to itself alone: the same for any length.
        torch.testing.assert_close(feats[1],
                                   cls_encoder(torch.zeros(1, 7, IN))[0])
        torch.testing.assert_close(feats[[0, 2]], cls_encoder(x[[0, 2]]))


@pytest.mark.parametrize('pooling', ['mean', 'cls'])
def test_all_padding_batch_trains_without_nan(pooling):
    encoder = _encoder(pooling=pooling, dropout=0.1).train()
    feats = encoder(torch.zeros(4, 50, IN))
    feats.sum().backward()
    assert torch.isfinite(feats).all()
    assert all(
        torch.isfinite(p.grad).all() for p in encoder.parameters()
        if p.grad is not None)


def test_train_and_eval_agree_without_dropout():
    encoder = _encoder(pooling='cls')
    x = _pad(_seqs(3, 10), 5, 35)
    train_out = encoder.train()(x)
    with torch.no_grad():
        eval_out = encoder.eval()(x)
    torch.testing.assert_close(train_out.detach(), eval_out)


def test_dropout_is_active_in_training_only():
    encoder = _encoder(dropout=0.3)
    assert encoder.embed_dropout.p == 0.3
    assert encoder.layers.layers[0].dropout.p == 0.3
    x = _seqs(3, 20)
    encoder.eval()
    with torch.no_grad():
        first, second = encoder(x), encoder(x)
    torch.testing.assert_close(first, second)
    encoder.train()
    torch.manual_seed(1)
    assert not torch.allclose(encoder(x), first)


def test_input_norm_removes_the_scale_of_each_step():
    encoder = _encoder(input_norm=True).eval()
    x = _seqs(2, 10)
    with torch.no_grad():
        torch.testing.assert_close(
            encoder(x * 1000.), encoder(x), atol=1e-4, rtol=1e-4)
        plain = _encoder().eval()
        assert not torch.allclose(plain(x * 1000.), plain(x))


@pytest.mark.parametrize('pooling,pos', VARIANTS)
def test_gradients_reach_every_parameter(pooling, pos):
    encoder = _encoder(pooling=pooling, pos_encoding=pos, input_norm=True)
    encoder.train()
    encoder(_pad(_seqs(3, 10), 4, 6)).pow(2).sum().backward()
    for name, param in encoder.named_parameters():
        assert param.grad is not None, name
        assert param.grad.abs().sum() > 0, name


def test_init_weights_through_mmengine():
    torch.manual_seed(0)
    encoder = SequenceTransformerEncoder(
        in_channels=IN,
        embed_dims=DIMS,
        num_layers=1,
        num_heads=4,
        pooling='cls',
        pos_encoding='learned')
    with torch.no_grad():
        for param in encoder.parameters():
            param.fill_(7.)
    encoder.init_weights()
    assert encoder.is_init
    # Xavier (uniform) on every linear layer, zero biases.
    linears = [m for m in encoder.modules() if isinstance(m, nn.Linear)]
    assert len(linears) == 4  # proj, out_proj, linear1, linear2
    for linear in linears:
        bound = math.sqrt(6 / (linear.in_features + linear.out_features))
        assert linear.weight.abs().max() <= bound
        assert linear.weight.std() > bound / 4
        assert torch.equal(linear.bias, torch.zeros_like(linear.bias))
    # Embeddings: truncated normal, std 0.02.
    for param in (encoder.pos_embed, encoder.cls_token):
        assert param.abs().max() <= 0.04
        assert 0.01 < param.std() < 0.03


def test_pretrained_init_keeps_the_checkpoint_embeddings(tmp_path):
    source = _encoder(pooling='cls', pos_encoding='learned')
    with torch.no_grad():
        source.cls_token.fill_(0.5)
        source.pos_embed.fill_(-0.25)
    path = str(tmp_path / 'encoder.pth')
    torch.save(dict(state_dict=source.state_dict()), path)
    encoder = _encoder(
        pooling='cls',
        pos_encoding='learned',
        init_cfg=dict(type='Pretrained', checkpoint=path))
    for name, value in source.state_dict().items():
        torch.testing.assert_close(encoder.state_dict()[name], value)


def test_integer_and_double_input_is_cast_to_float():
    encoder = _encoder().eval()
    x = torch.randint(1, 4, (2, 6, IN))
    with torch.no_grad():
        out = encoder(x)
        assert out.dtype == torch.float32
        torch.testing.assert_close(out, encoder(x.float()))
        torch.testing.assert_close(encoder(x.double()), out)


@pytest.mark.parametrize('shape', [(2, 10, IN + 1), (2, IN), (2, 1, 10, IN)])
def test_wrong_input_shape_message(shape):
    with pytest.raises(ValueError, match=f'in_channels={IN}'):
        _encoder()(torch.randn(*shape))


def test_too_long_sequence_and_invalid_args():
    with pytest.raises(ValueError, match='max_len=50'):
        _encoder()(torch.randn(1, 51, IN))
    with pytest.raises(ValueError, match='pooling'):
        _encoder(pooling='max')
    with pytest.raises(ValueError, match='pos_encoding'):
        _encoder(pos_encoding='rotary')
    with pytest.raises(ValueError, match='divisible'):
        _encoder(embed_dims=10, num_heads=4)
