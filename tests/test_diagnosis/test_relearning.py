import pytest
import torch
import torch.nn as nn

from mmdr.diagnosis import blend_toward_init


def test_blend_exact_values():
    cur = {'w': torch.tensor([1.0, 2.0, 4.0]), 'b': torch.tensor([8.0])}
    init = {'w': torch.tensor([3.0, 2.0, 0.0]), 'b': torch.tensor([0.0])}
    w = cur['w']
    blend_toward_init(cur, init, alpha=0.25)
    # 0.75 * current + 0.25 * init (all exactly representable).
    assert cur['w'] is w  # in place
    assert torch.equal(cur['w'], torch.tensor([1.5, 2.0, 3.0]))
    assert torch.equal(cur['b'], torch.tensor([6.0]))
    # init is not modified.
    assert torch.equal(init['w'], torch.tensor([3.0, 2.0, 0.0]))


def test_blend_alpha_zero_bit_identical():
    torch.manual_seed(0)
    t = torch.randn(5, 3)
    t[0, 0] = -0.0
    t[1, 1] = float('inf')
    before = t.clone()
    blend_toward_init({'t': t}, {'t': torch.randn(5, 3)}, alpha=0.0)
    assert torch.equal(t.view(torch.int32), before.view(torch.int32))


def test_blend_alpha_one_equals_init():
    torch.manual_seed(0)
    t = torch.randn(4, 4)
    t[0, 0] = float('nan')
    init = torch.randn(4, 4, dtype=torch.float64)
    blend_toward_init({'t': t}, {'t': init}, alpha=1.0)
    assert t.dtype == torch.float32
    assert torch.equal(t, init.float())


def test_blend_module_params_and_int_buffer():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    init = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
    model[1].num_batches_tracked.fill_(7)
    current = model.state_dict()  # shares storage with the module
    blend_toward_init(current, init, alpha=0.5)
    assert torch.allclose(model[0].weight, init['0.weight'] + 0.5)
    assert torch.allclose(model[0].bias, init['0.bias'] + 0.5)
    assert model[1].num_batches_tracked.item() == 7
    assert model[0].weight.requires_grad


def test_blend_named_parameters_keep_grad():
    lin = nn.Linear(2, 2)
    init = {k: torch.zeros_like(v) for k, v in lin.named_parameters()}
    params = dict(lin.named_parameters())
    ref = lin.weight.detach().clone()
    blend_toward_init(params, init, alpha=0.5)
    assert torch.allclose(lin.weight, ref * 0.5)
    assert lin.weight.grad_fn is None and lin.weight.requires_grad


def test_blend_mismatched_shapes_raise_without_change():
    cur = {'a': torch.ones(2), 'b': torch.ones(3)}
    init = {'a': torch.zeros(2), 'b': torch.zeros(4)}
    with pytest.raises(ValueError, match="shape mismatch for 'b'"):
        blend_toward_init(cur, init, alpha=0.5)
    # Validation happens before any tensor is touched.
    assert torch.equal(cur['a'], torch.ones(2))


def test_blend_mismatched_keys_raise():
    with pytest.raises(KeyError, match='missing in init'):
        blend_toward_init({'a': torch.ones(1)}, {'b': torch.ones(1)}, 0.5)


@pytest.mark.parametrize('alpha', [-0.1, 1.1, float('nan')])
def test_blend_invalid_alpha(alpha):
    with pytest.raises(ValueError, match='alpha'):
        blend_toward_init({'a': torch.ones(1)}, {'a': torch.ones(1)}, alpha)
