"""What the server reports about a layer, as plain Python values (tconv.v1.Layer)."""
import dataclasses
import datetime
import json
from typing import Optional, Tuple

import numpy as np


@dataclasses.dataclass(frozen=True)
class Batching:
    """Per-layer dynamic batching; 0 = the server's default (when creating)."""
    max_batch_size: int = 0
    batch_timeout: datetime.timedelta = datetime.timedelta(0)
    max_queue_size: int = 0


@dataclasses.dataclass(frozen=True)
class AxisRule:
    """output = stride * input + offset along one spatial axis."""
    stride: int
    offset: int


@dataclasses.dataclass(frozen=True)
class ShapeRule:
    data_format: str                # "channels_last" (B, H, W, C) or "channels_first" (B, C, H, W)
    input_shape: Tuple[int, ...]    # -1 = varies per request
    output_shape: Tuple[int, ...]
    height: AxisRule
    width: AxisRule
    formula: str                    # e.g. "H_out = 2*H + 3, W_out = 2*W + 3"


@dataclasses.dataclass(frozen=True)
class Layer:
    name: str
    config: dict                    # the normalised Keras get_config() dict
    in_channels: int
    kernel_shape: Tuple[int, ...]   # (kh, kw, filters, in_channels)
    weight_checksum: int            # see weight_checksum()
    created: datetime.datetime      # UTC
    batching: Batching              # effective options
    shape_rule: ShapeRule
    # Set by Client.get(name, input_shape=...): the output shape for that input.
    output_shape: Optional[Tuple[int, ...]] = None


def _duration(message):
    return datetime.timedelta(seconds=message.seconds, microseconds=message.nanos // 1000)


def _axis(message):
    return AxisRule(message.stride, message.offset)


def layer_from_proto(message, output_shape=None):
    rule = message.shape_rule
    created = datetime.datetime.fromtimestamp(
        message.created.seconds + message.created.nanos / 1e9, tz=datetime.timezone.utc)
    return Layer(
        name=message.name,
        config=json.loads(message.config_json) if message.config_json else {},
        in_channels=message.in_channels,
        kernel_shape=tuple(message.kernel_shape),
        weight_checksum=message.weight_checksum,
        created=created,
        batching=Batching(message.batching.max_batch_size, _duration(message.batching.batch_timeout),
                          message.batching.max_queue_size),
        shape_rule=ShapeRule(rule.data_format, tuple(rule.input_shape), tuple(rule.output_shape),
                             _axis(rule.height), _axis(rule.width), rule.formula),
        output_shape=tuple(output_shape) if output_shape else None)


def weight_checksum(kernel, bias=None):
    """FNV-1a 64 over the kernel's then the bias' float32 little-endian bytes, as
    tconv.v1.Layer.weight_checksum defines it: equal to Layer.weight_checksum when the server
    holds exactly these weights."""
    h = 0xcbf29ce484222325
    for array in (kernel, bias):
        if array is None:
            continue
        for byte in np.ascontiguousarray(array, dtype="<f4").tobytes():
            h = ((h ^ byte) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h
