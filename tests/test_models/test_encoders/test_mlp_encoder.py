import pytest
import torch
import torch.nn as nn

from mmdr.models.encoders import MLPEncoder
from mmdr.registry import MODELS
from mmdr.utils import register_all_modules

register_all_modules()


def test_built_from_registry_with_feat_dim_of_last_hidden_layer():
    encoder = MODELS.build(
        dict(type='MLPEncoder', in_channels=6, hidden_channels=(10, 4)))
    assert type(encoder) is MLPEncoder
    assert encoder.feat_dim == 4
    assert encoder.in_channels == 6
    linears = [m for m in encoder.layers if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(6, 10),
                                                                  (10, 4)]
    out = encoder(torch.randn(5, 6))
    assert out.shape == (5, 4)


def test_default_hidden_channels():
    encoder = MLPEncoder(in_channels=3)
    assert encoder.feat_dim == 256
    assert encoder(torch.randn(2, 3)).shape == (2, 256)


def test_input_norm_present_by_default():
    encoder = MLPEncoder(in_channels=5, hidden_channels=(7, ))
    assert isinstance(encoder.layers[0], nn.BatchNorm1d)
    assert encoder.layers[0].num_features == 5
    assert sum(isinstance(m, nn.BatchNorm1d) for m in encoder.modules()) == 1
    # The norm learns the per-dimension statistics: in training mode, inputs
    # on wildly different scales are normalised before the first layer.
    torch.manual_seed(0)
    x = torch.randn(64, 5) * torch.tensor([1e-1, 1., 1e3, 1e5, 10.]) + 50
    encoder.train()
    normed = encoder.layers[0](x)
    torch.testing.assert_close(
        normed.mean(0), torch.zeros(5), atol=1e-3, rtol=0)
    torch.testing.assert_close(
        normed.std(0, unbiased=False), torch.ones(5), atol=1e-2, rtol=0)


def test_input_norm_absent_gives_plain_mlp():
    torch.manual_seed(0)
    encoder = MLPEncoder(
        in_channels=5, hidden_channels=(7, 3), input_norm=False)
    assert not any(isinstance(m, nn.BatchNorm1d) for m in encoder.modules())
    assert isinstance(encoder.layers[0], nn.Linear)
    x = torch.randn(4, 5)
    l1, l2 = [m for m in encoder.layers if isinstance(m, nn.Linear)]
    expected = torch.relu(l2(torch.relu(l1(x))))
    torch.testing.assert_close(encoder(x), expected)
    # ReLU at the end: features are non-negative.
    assert (encoder(torch.randn(20, 5)) >= 0).all()


def test_eval_mode_uses_running_statistics():
    torch.manual_seed(0)
    encoder = MLPEncoder(in_channels=3, hidden_channels=(4, ))
    bn = encoder.layers[0]
    bn.running_mean.fill_(2.)
    bn.running_var.fill_(4.)
    encoder.eval()
    x = torch.randn(1, 3)  # batch of one works in eval mode
    linear = encoder.layers[1]
    expected = torch.relu(
        linear((x - 2.) / torch.sqrt(torch.tensor(4. + bn.eps))))
    torch.testing.assert_close(encoder(x), expected)


def test_dropout_layers():
    encoder = MLPEncoder(
        in_channels=3, hidden_channels=(4, 2), input_norm=False, dropout=0.5)
    dropouts = [m for m in encoder.layers if isinstance(m, nn.Dropout)]
    assert len(dropouts) == 2
    assert all(d.p == 0.5 for d in dropouts)
    assert isinstance(encoder.layers[0], nn.Dropout)
    assert not any(
        isinstance(m, nn.Dropout)
        for m in MLPEncoder(in_channels=3, hidden_channels=(4, 2)).layers)


def test_integer_input_is_cast_to_float():
    encoder = MLPEncoder(
        in_channels=3, hidden_channels=(4, ), input_norm=False)
    x = torch.tensor([[1, 2, 3], [4, 5, 6]])
    out = encoder(x)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, encoder(x.float()))


@pytest.mark.parametrize('shape', [(4, 7), (4, 8, 1), (8, )])
def test_in_channels_mismatch_message(shape):
    encoder = MLPEncoder(in_channels=8, hidden_channels=(4, ))
    with pytest.raises(ValueError) as err:
        encoder(torch.randn(*shape))
    msg = str(err.value)
    assert 'in_channels=8' in msg
    assert f'got a batch of shape {tuple(shape)}' in msg


def test_no_hidden_layer_is_an_error():
    with pytest.raises(ValueError, match='at least one hidden layer'):
        MLPEncoder(in_channels=3, hidden_channels=())
