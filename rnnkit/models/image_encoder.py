"""Image encoders for captioning: images in, a feature map to attend over out.

An encoder is any ``nn.Module`` mapping normalised images (B, 3, H, W) to a feature map
(B, K, h, w) and exposing ``out_channels`` (K). :class:`ConvEncoder` is the small CNN trained
from scratch that the ``captioning`` task uses; :func:`normalise_images` turns uint8 pixels
into the encoder's input.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

# ImageNet channel statistics: the usual normalisation for RGB photographs
PIXEL_MEAN = (0.485, 0.456, 0.406)
PIXEL_STD = (0.229, 0.224, 0.225)


def normalise_images(images: Tensor) -> Tensor:
    """uint8 (B, 3, H, W) in [0, 255] (or float in [0, 1]) -> float, per-channel
    ``(x - PIXEL_MEAN) / PIXEL_STD``."""
    x = images.float() / 255.0 if images.dtype == torch.uint8 else images.float()
    mean = x.new_tensor(PIXEL_MEAN).view(1, 3, 1, 1)
    std = x.new_tensor(PIXEL_STD).view(1, 3, 1, 1)
    return (x - mean) / std


def coordinate_channels(x: Tensor) -> Tensor:
    """x (B, C, H, W) with two more channels, the column and row in [-1, 1] (CoordConv,
    Liu et al. 2018): the features then know where they are, which relations need."""
    B, _, H, W = x.shape
    rows = torch.linspace(-1, 1, H, device=x.device, dtype=x.dtype).view(1, 1, H, 1)
    cols = torch.linspace(-1, 1, W, device=x.device, dtype=x.dtype).view(1, 1, 1, W)
    return torch.cat([x, cols.expand(B, 1, H, W), rows.expand(B, 1, H, W)], dim=1)


class ConvEncoder(nn.Module):
    r"""A small CNN: per entry of ``channels``, a 3x3 convolution with stride 2 and one with
    stride 1, each followed by batch norm and ReLU; coordinate channels are added to the input.

    Shapes: images (B, 3, H, W) -> features (B, channels[-1], H / 2^n, W / 2^n), n =
    ``len(channels)`` (64x64 with three stages: an 8x8 map, 64 positions to attend over).

    Example::

        enc = ConvEncoder((32, 64, 128))
        enc(torch.randn(2, 3, 64, 64)).shape   # (2, 128, 8, 8)
    """

    def __init__(self, channels: tuple[int, ...] | list[int] = (32, 64, 128)):
        super().__init__()
        layers: list[nn.Module] = []
        c_in = 3 + 2
        for c_out in channels:
            for stride in (2, 1):
                layers += [nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False),
                           nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]
                c_in = c_out
        self.body = nn.Sequential(*layers)
        self.out_channels = c_in

    def forward(self, images: Tensor) -> Tensor:
        return self.body(coordinate_channels(images))  # (B, K, h, w)
