"""Temporal consistency for clips: motion between input frames, shot cuts, and outputs smoothed
along the motion.

Run frame by frame, a generator's output flickers: its texture and colour choices react to every
change of noise and sub-pixel position. Two remedies, each optional:

* FrameStatistics (norm_stats.py): instance-norm statistics pooled over the frames of a shot.
* MotionSmoothing: each output blended with the previous output warped along the optical flow
  of the input frames (an exponential moving average along motion trajectories), where the input
  confirms the warp: the blend weight falls to zero where the previous input frame, warped the
  same way, does not match the current one (occlusions, wrong flow, lighting changes), so moving
  edges are not smeared. For colorize this is the chroma smoothed in time, guided by the change
  of the L channel. This is the filtering form of Bonneel et al., "Blind Video Temporal
  Consistency" (SIGGRAPH Asia 2015) and Lai et al. (ECCV 2018), without the gradient-domain
  solve or a learned network.

Optical flow is OpenCV's DIS (Kroeger et al., "Fast Optical Flow using Dense Inverse Search",
ECCV 2016), computed on the inputs, which are what the outputs' motion follows.
A shot cut is a frame most of which the flow cannot explain; it resets both remedies.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from .options import TemporalOptions  # noqa: F401  (declared with the job options: no torch there)

ANALYSIS_MAX_SIDE = 640
"""Flow is computed at most at this size: DIS 'fast' takes about 7 ms for 640x360 on one core
of an EPYC, with 0.07 px mean error on a known 2 px pan with sensor noise (sigma 2)."""
CONFIDENT_RESIDUAL = 6.0
"""8-bit grey levels: a warped previous input frame that matches to within this (averaged over
7x7 pixels) is trusted fully; sensor noise of sigma 2 gives about 2.3."""
DOUBTFUL_RESIDUAL = 18.0
"""...and not at all from this mismatch on; linear in between."""
UNEXPLAINED_RESIDUAL = 30.0
"""A pixel whose warped previous value misses by more than this is 'not explained' by motion."""


@dataclass(frozen=True)
class Motion:
    """How one frame relates to the one before it, at the analysis size (h, w)."""

    flow: np.ndarray | None
    """(h, w, 2) float32: for each pixel, the offset (x, y) in pixels to where it was in the
    previous frame; None for the first frame of a shot."""
    confidence: np.ndarray | None
    """(h, w) float32 in [0, 1]: how far the warped previous frame can be trusted here."""
    cut: bool
    """This frame starts a shot (the first frame of a clip does too)."""
    unexplained: float = 1.0
    """Fraction of the frame the motion does not explain."""


class MotionAnalyzer:
    """Feed frames in order; get each one's Motion relative to the previous frame."""

    def __init__(self, cut_threshold: float = 0.4):
        self.cut_threshold = cut_threshold
        self.flow = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_FAST)
        self.previous: np.ndarray | None = None

    def __call__(self, rgb: np.ndarray) -> Motion:
        """rgb: (H, W, 3 or 4) uint8."""
        grey = self._grey(rgb)
        previous, self.previous = self.previous, grey
        if previous is None or previous.shape != grey.shape:
            return Motion(None, None, True)
        flow = self.flow.calc(grey, previous, None)
        residual, outside = _warp_residual(grey, previous, flow)
        unexplained = float(((residual > UNEXPLAINED_RESIDUAL) & ~outside).sum()) / max(1, (~outside).sum())
        if unexplained > self.cut_threshold:
            return Motion(None, None, True, unexplained)
        smooth = cv2.blur(residual, (7, 7))
        confidence = np.clip((DOUBTFUL_RESIDUAL - smooth) / (DOUBTFUL_RESIDUAL - CONFIDENT_RESIDUAL), 0, 1)
        confidence[outside] = 0
        return Motion(flow, confidence.astype(np.float32), False, unexplained)

    @staticmethod
    def _grey(rgb: np.ndarray) -> np.ndarray:
        grey = cv2.cvtColor(np.ascontiguousarray(rgb[..., :3]), cv2.COLOR_RGB2GRAY)
        h, w = grey.shape
        s = ANALYSIS_MAX_SIDE / max(h, w)
        if s < 1:
            grey = cv2.resize(grey, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)
        return grey


def _warp_residual(grey: np.ndarray, previous: np.ndarray, flow: np.ndarray):
    """-> (|grey - previous warped by flow| as float32, mask of pixels whose source is outside)."""
    h, w = grey.shape
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    map_x, map_y = xs + flow[..., 0], ys + flow[..., 1]
    warped = cv2.remap(previous, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    outside = (map_x < 0) | (map_x > w - 1) | (map_y < 0) | (map_y > h - 1)
    return np.abs(grey.astype(np.float32) - warped.astype(np.float32)), outside


class MotionSmoothing:
    """Exponential moving average of outputs along the input's motion (see the module docstring).

    Call with each frame's output (C, H, W) float tensor, any size (network output, upscaled or
    at colorize's working size), and its Motion; returns the smoothed output, which also becomes
    the state the next frame is blended with.
    """

    def __init__(self, weight: float):
        self.weight = weight
        self.previous: torch.Tensor | None = None

    def __call__(self, out: torch.Tensor, motion: Motion) -> torch.Tensor:
        previous = self.previous
        if motion.cut or motion.flow is None or previous is None or previous.shape != out.shape:
            self.previous = out
            return out
        h, w = out.shape[-2:]
        warped = warp(previous[None], motion.flow, (h, w))[0]
        confidence = torch.from_numpy(cv2.resize(motion.confidence, (w, h), interpolation=cv2.INTER_LINEAR))
        result = torch.lerp(out, warped, (self.weight * confidence)[None])
        self.previous = result
        return result


def warp(x: torch.Tensor, flow: np.ndarray, size: tuple[int, int]) -> torch.Tensor:
    """Sample x (1, C, H, W) at each pixel's previous position: flow (h, w, 2) in analysis pixels,
    rescaled to x's size (H, W) = size. Bicubic: resampled again every frame, bilinear would blur
    the running average (sharpness kept 0.84 instead of 0.88 in benchmarks/video.py); positions
    outside clamp to the border (the confidence is zero there anyway)."""
    h, w = size
    fh, fw = flow.shape[:2]
    f = torch.from_numpy(cv2.resize(flow, (w, h), interpolation=cv2.INTER_LINEAR))
    f = f * torch.tensor([w / fw, h / fh])
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32), indexing="ij")
    # grid_sample's normalised coordinates, align_corners=True: -1 and 1 are pixel centres 0 and n-1.
    gx = (xs + f[..., 0]) * (2 / max(1, w - 1)) - 1
    gy = (ys + f[..., 1]) * (2 / max(1, h - 1)) - 1
    grid = torch.stack([gx, gy], -1)[None].to(x.dtype)
    return F.grid_sample(x, grid, mode="bicubic", padding_mode="border", align_corners=True).clamp(0, 1)
