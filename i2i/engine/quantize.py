"""Post-training int8: the exported graphs quantised by ONNX Runtime's static quantisation.

A model's fp32 graph (onnx_export.py) becomes a QDQ graph: QuantizeLinear/DequantizeLinear pairs
around each convolution, weights int8 per output channel, activations uint8 with ranges taken
(min/max) from running the graph on the calibration crops in calibration/ (see its README: training
images that no evaluation uses). ONNX Runtime fuses each pair into an integer convolution;
OpenVINO's low-precision passes read the same file. The first and the last convolution stay fp32:
the first sees 1 to 4 input channels (a poor fit for 8-bit dot products, and cheap), the last
writes the pixels, where a quantisation step shows directly.

Whether int8 runs is decided per model in selection.py (within the task's tolerance on a real
input, and measurably faster than fp32); this module only builds the graphs, cached like the
exported ones under a key of the fp32 graph's key (model, opset, runtime versions), the
calibration crops' content and the settings below.
"""

from __future__ import annotations

import functools
import hashlib
import io
import warnings
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import numpy as np
import torch

from ..errors import I2IError
from .backends import ModelGraphs, cached_graph, int8_without_saturation

CALIBRATION_DIR = Path(__file__).with_name("calibration")
QUANTIZED_OPS = ("Conv", "ConvTranspose")
"""The operators quantised: the convolutions, where the time goes. Everything between them
(normalisation, activations, additions, pixel shuffles) stays fp32."""
SETTINGS = "qdq-u8s8-per-channel-minmax-first-last-fp32-v1"
"""Named in the cache key: a change to how graphs are quantised makes new entries."""


class QuantizeError(I2IError):
    """A graph could not be quantised (the engine then leaves int8 out, with a note)."""


def calibration_files() -> list[Path]:
    return sorted(CALIBRATION_DIR.glob("*.png"))


@functools.lru_cache(maxsize=1)
def calibration_sha256() -> str:
    """Hash of the calibration crops' bytes, the quantiser settings and the saturation choice
    (reduce_range, per CPU): part of every int8 graph's key and measurement key."""
    digest = hashlib.sha256(f"{SETTINGS}|reduce_range={not int8_without_saturation()}".encode())
    for path in calibration_files():
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()[:16]


def calibration_inputs(model) -> list[torch.Tensor]:
    """(1, C, H, W) network inputs, one per calibration crop: in the network's value range and
    input space (gray, Lab L, RGB or RGBA, as `i2i export` verifies), padded to its size multiple."""
    from ..data.image_io import read_image
    from .onnx_export import verification_input

    return [verification_input(model, read_image(path))[:1] for path in calibration_files()]


def calibration_feeds(model, variant: str) -> list[dict[str, np.ndarray]]:
    """The graph inputs for each crop; a `frozen` graph also takes each crop's own instance-norm
    statistics (norm_stats.py), as torch records them."""
    from .norm_stats import record_statistics, statistics_names

    feeds = []
    for x in calibration_inputs(model):
        feed = {"input": x.numpy()}
        if variant == "frozen":
            with torch.inference_mode():
                stats = record_statistics(model.module.to("cpu"), x)
            feed.update({n: s.contiguous().numpy() for n, s in zip(statistics_names(model.module), stats)})
        feeds.append(feed)
    return feeds


def _kept_fp32(graph) -> list[str]:
    """Names of the first and last convolution (ONNX nodes are in topological order)."""
    convs = [node for node in graph.graph.node if node.op_type in QUANTIZED_OPS]
    for i, node in enumerate(convs):
        if not node.name:  # the quantiser excludes nodes by name
            node.name = f"i2i_conv_{i}"
    return list(dict.fromkeys(n.name for n in convs[:1] + convs[-1:]))


def quantize_graph(model, source: Path, target: Path, variant: str = "plain") -> None:
    """Write the int8 (QDQ) version of the fp32 graph `source` to `target`, calibrated on the
    crops in calibration/. Raises QuantizeError when ONNX Runtime's quantiser fails."""
    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    graph = onnx.load_from_string(Path(source).read_bytes())
    feeds = iter(calibration_feeds(model, variant))

    class Reader:
        def get_next(self):
            return next(feeds, None)

    try:
        with warnings.catch_warnings(), redirect_stdout(io.StringIO()), redirect_stderr(io.StringIO()):
            warnings.simplefilter("ignore")
            quantize_static(
                graph,
                str(target),
                Reader(),
                quant_format=QuantFormat.QDQ,
                op_types_to_quantize=list(QUANTIZED_OPS),
                nodes_to_exclude=_kept_fp32(graph),
                per_channel=True,
                # Without VNNI, 8-bit multiply-adds saturate: weights keep 7 bits (ONNX Runtime's advice).
                reduce_range=not int8_without_saturation(),
                activation_type=QuantType.QUInt8,
                weight_type=QuantType.QInt8,
                calibrate_method=CalibrationMethod.MinMax,
            )
    except Exception as e:  # any failure of the quantiser: this model has no int8 graph
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise QuantizeError(f"cannot quantise {model.info.arch} to int8: {first}") from None


class Int8Graphs(ModelGraphs):
    """A model's int8 graphs in the cache, quantised on first use from its fp32 graphs. The
    `record` graph (instance-norm statistics of a whole image) stays the fp32 one: it runs once
    per image, on a downscaled copy, and its statistics then serve every int8 tile."""

    precision = "int8"

    def __init__(self, fp32: ModelGraphs):
        super().__init__(fp32.model)
        self.fp32 = fp32

    @property
    def key(self) -> str:
        return self.fp32.key

    def graph_key(self, variant: str) -> str:
        return f"{self.fp32.graph_key(variant)}-int8-{calibration_sha256()}"

    def path(self, variant: str = "plain"):
        if variant == "record":
            return self.fp32.path(variant)
        source = self.fp32.path(variant)  # BackendError when the model does not export
        return cached_graph(self.graph_key(variant), lambda p: quantize_graph(self.model, source, p, variant))

    def discard(self, variant: str) -> None:
        (self.fp32 if variant == "record" else super()).discard(variant)
