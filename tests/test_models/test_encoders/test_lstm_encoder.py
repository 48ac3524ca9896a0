import pytest
import torch
import torch.nn as nn

from mmdr.models.encoders import LSTMEncoder
from mmdr.registry import MODELS
from mmdr.utils import register_all_modules

register_all_modules()

IN = 5
HIDDEN = 8
VARIANTS = [(pooling, bidirectional) for pooling in ('last', 'mean')
            for bidirectional in (False, True)]


def _encoder(**kwargs):
    cfg = dict(
        type='LSTMEncoder',
        in_channels=IN,
        hidden_channels=HIDDEN,
        num_layers=2)
    cfg.update(kwargs)
    torch.manual_seed(0)
    encoder = MODELS.build(cfg)
    encoder.init_weights()
    return encoder


def _seqs(num, length, seed=0):
    """Sequences without an all-zero row."""
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(num, length, IN, generator=gen) + 0.1


def _reference(encoder, seq):
    """The pooled feature of one unpadded sequence, by hand.

    Args:
        encoder (LSTMEncoder): The encoder whose LSTM runs.
        seq (torch.Tensor): Shape (L, IN), every row valid.
    """
    outputs, _ = encoder.lstm(seq[None])
    outputs = outputs[0]
    if encoder.pooling == 'mean':
        return outputs.mean(0)
    forward = outputs[-1, :HIDDEN]
    if encoder.num_directions == 1:
        return forward
    # The backward direction ends at the first step.
    return torch.cat([forward, outputs[0, HIDDEN:]])


@pytest.mark.parametrize('pooling,bidirectional', VARIANTS)
def test_shapes_and_feat_dim(pooling, bidirectional):
    encoder = _encoder(pooling=pooling, bidirectional=bidirectional)
    assert isinstance(encoder, LSTMEncoder)
    width = HIDDEN * (2 if bidirectional else 1)
    assert encoder.feat_dim == width
    assert encoder(_seqs(3, 50)).shape == (3, width)
    assert encoder.lstm.batch_first
    assert encoder.lstm.num_layers == 2


@pytest.mark.parametrize('pooling,bidirectional', VARIANTS)
def test_pooling_matches_an_lstm_on_the_valid_rows(pooling, bidirectional):
    encoder = _encoder(pooling=pooling, bidirectional=bidirectional).eval()
    x = _seqs(3, 9)
    batch = torch.zeros(3, 50, IN)
    batch[0, :9] = x[0]  # right padding
    batch[1, 41:] = x[1]  # left padding
    batch[2, 17:23] = x[2, :6]  # both sides, shorter
    with torch.no_grad():
        feats = encoder(batch)
        torch.testing.assert_close(feats[0], _reference(encoder, x[0]))
        torch.testing.assert_close(feats[1], _reference(encoder, x[1]))
        torch.testing.assert_close(feats[2], _reference(encoder, x[2, :6]))
        # And the unpadded batch gives the same.
        torch.testing.assert_close(feats[:2], encoder(x[:2]))


def test_inner_zero_rows_are_left_out():
    encoder = _encoder(pooling='mean').eval()
    x = _seqs(1, 10)
    x[0, 4] = 0
    with torch.no_grad():
        torch.testing.assert_close(
            encoder(x), encoder(torch.cat([x[:, :4], x[:, 5:]], dim=1)))


@pytest.mark.parametrize('pooling,bidirectional', VARIANTS)
def test_all_padding_sequence_gives_zeros(pooling, bidirectional):
    encoder = _encoder(pooling=pooling, bidirectional=bidirectional).train()
    x = _seqs(3, 50)
    x[1] = 0
    feats = encoder(x)
    assert torch.isfinite(feats).all()
    assert torch.equal(feats[1], torch.zeros(encoder.feat_dim))
    torch.testing.assert_close(feats[[0, 2]], encoder(x[[0, 2]]))
    encoder(torch.zeros(2, 50, IN)).sum().backward()
    assert all(torch.isfinite(p.grad).all() for p in encoder.parameters())


def test_without_mask_padding_rows_count():
    encoder = _encoder(mask_padding=False, pooling='last').eval()
    x = _seqs(2, 10)
    # Right padding: the LSTM keeps stepping over the zero rows.
    padded = torch.cat([x, torch.zeros(2, 5, IN)], dim=1)
    with torch.no_grad():
        _, (h_n, _) = encoder.lstm(padded)
        torch.testing.assert_close(encoder(padded), h_n[-1])
        assert not torch.allclose(encoder(padded), encoder(x))


def test_dropout():
    single = _encoder(num_layers=1, dropout=0.5)
    assert single.lstm.dropout == 0  # nothing between layers to drop
    assert isinstance(single.dropout, nn.Dropout)
    stacked = _encoder(num_layers=2, dropout=0.5)
    assert stacked.lstm.dropout == 0.5
    assert isinstance(_encoder().dropout, nn.Identity)
    x = _seqs(4, 20)
    for encoder in (single, stacked):
        encoder.eval()
        with torch.no_grad():
            first = encoder(x)
            torch.testing.assert_close(encoder(x), first)
        encoder.train()
        torch.manual_seed(1)
        assert not torch.allclose(encoder(x), first)


@pytest.mark.parametrize('pooling,bidirectional', VARIANTS)
def test_gradients_reach_every_parameter(pooling, bidirectional):
    encoder = _encoder(pooling=pooling, bidirectional=bidirectional)
    x = torch.cat([torch.zeros(3, 4, IN), _seqs(3, 10)], dim=1)
    encoder(x).pow(2).sum().backward()
    for name, param in encoder.named_parameters():
        assert param.grad is not None, name
        assert param.grad.abs().sum() > 0, name


def test_init_weights_through_mmengine():
    torch.manual_seed(0)
    encoder = LSTMEncoder(
        in_channels=IN, hidden_channels=HIDDEN, bidirectional=True)
    with torch.no_grad():
        for param in encoder.parameters():
            param.fill_(3.)
    encoder.init_weights()
    assert encoder.is_init
    eye = torch.eye(HIDDEN)
    for name, param in encoder.lstm.named_parameters():
        gates = param.detach().split(HIDDEN)
        assert len(gates) == 4  # input, forget, cell, output
        if name.startswith('weight_hh'):
            for gate in gates:
                torch.testing.assert_close(gate @ gate.T, eye)
        elif name.startswith('weight_ih'):
            bound = (6 / (IN + HIDDEN))**0.5
            assert all(g.abs().max() <= bound for g in gates)
        elif name.startswith('bias_ih'):
            expected = torch.zeros(4 * HIDDEN)
            expected[HIDDEN:2 * HIDDEN] = 1
            assert torch.equal(param, expected)
        else:
            assert torch.equal(param, torch.zeros_like(param))


def test_pretrained_init_is_not_overwritten(tmp_path):
    source = _encoder()
    with torch.no_grad():
        for param in source.parameters():
            param.uniform_(-0.3, 0.3)
    path = str(tmp_path / 'lstm.pth')
    torch.save(dict(state_dict=source.state_dict()), path)
    encoder = _encoder(init_cfg=dict(type='Pretrained', checkpoint=path))
    for name, value in source.state_dict().items():
        torch.testing.assert_close(encoder.state_dict()[name], value)


def test_wrong_input_and_invalid_args():
    with pytest.raises(ValueError, match=f'in_channels={IN}'):
        _encoder()(torch.randn(2, 10, IN + 1))
    with pytest.raises(ValueError, match=f'in_channels={IN}'):
        _encoder()(torch.randn(2, IN))
    with pytest.raises(ValueError, match='pooling'):
        _encoder(pooling='max')
