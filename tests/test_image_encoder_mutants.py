"""The captioning image encoder (rnnkit/models/image_encoder.py): pixel normalisation and
the coordinate channels worked out by hand, the CNN against ``F.conv2d``/``F.batch_norm``
with its own weights (found by mutation testing, benchmarks/mutation.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from rnnkit.models.image_encoder import ConvEncoder, coordinate_channels, normalise_images

# the ImageNet statistics (torchvision's documented normalisation)
MEAN, STD = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])


def test_uint8_pixels_are_scaled_to_the_unit_interval_then_standardised():
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (2, 3, 4, 5), dtype=np.uint8)
    pixels[0, :, 0, 0] = [0, 255, 128]
    want = (pixels / 255.0 - MEAN[:, None, None]) / STD[:, None, None]
    got = normalise_images(torch.from_numpy(pixels))
    assert got.dtype == torch.float32
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-5, atol=1e-5)
    assert got[0, 1, 0, 0].item() == pytest.approx((1 - 0.456) / 0.224, rel=1e-6)


def test_float_images_are_already_in_the_unit_interval():
    rng = np.random.default_rng(1)
    images = rng.random((2, 3, 4, 4))
    want = (images - MEAN[:, None, None]) / STD[:, None, None]
    got = normalise_images(torch.from_numpy(images))  # float64 in, float32 out
    assert got.dtype == torch.float32
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-5, atol=1e-5)


def test_coordinate_channels_by_hand():
    x = torch.randn(2, 1, 3, 2, dtype=torch.float64)
    out = coordinate_channels(x)
    assert out.shape == (2, 3, 3, 2) and out.dtype == torch.float64
    assert torch.equal(out[:, :1], x)
    cols = torch.tensor([[-1.0, 1.0]] * 3, dtype=torch.float64)  # the column, left to right
    rows = torch.tensor([[-1.0, -1.0], [0.0, 0.0], [1.0, 1.0]], dtype=torch.float64)
    for b in range(2):
        assert torch.equal(out[b, 1], cols) and torch.equal(out[b, 2], rows)
    tall = coordinate_channels(torch.zeros(1, 1, 7, 6, dtype=torch.float64))  # steps of 1/3
    np.testing.assert_allclose(tall[0, 2].numpy(), np.linspace(-1, 1, 7)[:, None].repeat(6, 1),
                               rtol=0, atol=1e-12)  # computed in float64, not float32
    np.testing.assert_allclose(tall[0, 1].numpy(), np.linspace(-1, 1, 6)[None].repeat(7, 0),
                               rtol=0, atol=1e-12)


def _by_hand(enc: ConvEncoder, images: torch.Tensor, strides) -> torch.Tensor:
    """3x3 convolutions (padding 1, no bias), eval-mode batch norm and ReLU, in order."""
    B, _, H, W = images.shape
    ys = torch.linspace(-1, 1, H).view(1, 1, H, 1).expand(B, 1, H, W)
    xs = torch.linspace(-1, 1, W).view(1, 1, 1, W).expand(B, 1, H, W)
    h = torch.cat([images, xs, ys], dim=1)
    convs = [m for m in enc.body if isinstance(m, nn.Conv2d)]
    norms = [m for m in enc.body if isinstance(m, nn.BatchNorm2d)]
    for conv, norm, stride in zip(convs, norms, strides, strict=True):
        h = F.conv2d(h, conv.weight, stride=stride, padding=1)
        h = (h - norm.running_mean.view(1, -1, 1, 1)) / torch.sqrt(
            norm.running_var.view(1, -1, 1, 1) + 1e-5)
        h = (h * norm.weight.view(1, -1, 1, 1) + norm.bias.view(1, -1, 1, 1)).clamp_min(0)
    return h


def test_the_cnn_is_a_stride_2_and_a_stride_1_convolution_per_stage():
    torch.manual_seed(0)
    enc = ConvEncoder((4, 6))
    convs = [m for m in enc.body if isinstance(m, nn.Conv2d)]
    assert [(c.in_channels, c.out_channels) for c in convs] == [(5, 4), (4, 4), (4, 6), (6, 6)]
    assert all(c.kernel_size == (3, 3) and c.bias is None for c in convs)
    assert [type(m) for m in enc.body] == [nn.Conv2d, nn.BatchNorm2d, nn.ReLU] * 4
    assert enc.out_channels == 6
    with torch.no_grad():  # running statistics other than 0 and 1, and affine weights
        for m in enc.body:
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.5, 0.5)
    enc.eval()
    images = torch.randn(2, 3, 9, 7)
    got = enc(images)
    want = _by_hand(enc, images, strides=(2, 1, 2, 1))
    assert got.shape == (2, 6, 3, 2)
    assert torch.allclose(got, want, atol=1e-5)


def test_default_stages_map_64_pixels_to_an_8x8_map_of_128():
    enc = ConvEncoder().eval()
    assert enc.out_channels == 128
    assert enc(torch.randn(1, 3, 64, 64)).shape == (1, 128, 8, 8)
