"""Video style transfer with temporal stabilisation.

Each frame is stylized on its own, then blended with the previous *output* warped into the
current frame by optical flow (OpenCV Farneback, computed on the input frames):

    out_t = (1 − s·m) · stylized_t + s·m · warp(out_{t−1})

``s`` is the stabilisation strength and ``m`` a per-pixel confidence that is ~1 where the warped
previous input frame matches the current one and falls to 0 at occlusions and cuts, so new
content is never smeared with old. Stability is reported as the warping error (Lai et al.,
ECCV 2018): the mean over consecutive pairs of ``Σ m·|out_t − warp(out_{t−1})|² / Σ m`` — for
the stabilised video and for the frame-by-frame outputs, so the gain is measured, not assumed.

The brushwork tiles are laid at the scene's coordinates, not the screen's: the camera's move
between frames is the flow's median over its textured, explained pixels
(``FlowWarper.camera_move``), summed into the camera's position, which each frame is stylized
at (``stylize_image``'s ``origin``). On a pan the tiles then move with the scene instead of
staying on the screen while it slides under them; at a cut they stay where they were.

Needs the ``video`` extra (imageio, imageio-ffmpeg with its ffmpeg binary,
opencv-python-headless); they are imported only when a video is processed.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import keras
import numpy as np

from ..data.images import to_float, to_uint8
from ..errors import ConfigError, ImageError
from ..fileutil import atomic_path
from ..models.generator import MIN_SIZE, StyleFusionGenerator
from .stylize import stylize_image

log = logging.getLogger(__name__)


@dataclass
class VideoConfig:
    """``stabilize``: weight of the warped previous output (0: frame by frame, < 1);
    ``flow_size``: longer side the optical flow is computed at (speed; the flow is rescaled);
    ``occlusion_sigma``: input mismatch (RMS over RGB, [0, 1] scale) at which confidence drops to
    e⁻¹; ``max_size`` downscales frames; ``tile_size`` as in ``stylize_image``."""

    stabilize: float = 0.6
    flow_size: int = 512
    occlusion_sigma: float = 0.05
    max_size: int | None = None
    tile_size: int | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.stabilize < 1.0:
            raise ConfigError(f"stabilize must be in [0, 1), got {self.stabilize}")
        if self.flow_size < MIN_SIZE:
            raise ConfigError(f"flow size must be at least {MIN_SIZE}, got {self.flow_size}")
        if self.occlusion_sigma <= 0:
            raise ConfigError("occlusion_sigma must be > 0")
        if self.max_size is not None and self.max_size < MIN_SIZE:
            raise ConfigError(f"max size must be at least {MIN_SIZE}, got {self.max_size}")


@dataclass
class VideoReport:
    """What ``stylize_video`` did: frames, speed, and the warping errors it measured."""

    output: Path
    frames: int
    fps: float
    seconds: float
    warping_error_stabilized: float | None  # None when not stabilised (stabilize 0)
    warping_error_framewise: float | None
    stabilize: float = VideoConfig.stabilize

    def summary(self) -> str:
        def fmt(v: float | None) -> str:
            return "n/a" if v is None else f"{v:.5f}"

        rate = self.frames / max(self.seconds, 1e-9)
        speed = f"{self.frames} frames in {self.seconds:.1f} s ({rate:.2f} frames/s)"
        if self.stabilize == 0:  # one video, frame by frame: there is no stabilised figure to give
            return (f"{speed}; not stabilised (--stabilize 0): warping error "
                    f"{fmt(self.warping_error_framewise)}")
        return (f"{speed}; warping error: stabilised {fmt(self.warping_error_stabilized)} "
                f"(--stabilize {self.stabilize:g}), frame-by-frame {fmt(self.warping_error_framewise)}")


def _video_modules() -> tuple[Any, Any]:
    try:
        import cv2
        import imageio.v2 as iio
        import imageio_ffmpeg  # noqa: F401  (the ffmpeg binary imageio uses)
    except ImportError as e:
        raise ConfigError(f"video needs the 'video' extra ({e.name} is not installed): "
                          "pip install 'tf_stylefusion[video]'") from None
    return iio, cv2


# Below this share of pixels the flow explains, the move between two frames is not the camera's
# (a cut, a frame-filling occlusion): the tiles stay where they were.
CAMERA_MIN_EXPLAINED = 0.5


class FlowWarper:
    """Backward optical flow between consecutive input frames, and warping with it."""

    def __init__(self, cv2: Any, flow_size: int, sigma: float):
        self.cv2, self.flow_size, self.sigma = cv2, flow_size, sigma

    def _gray(self, frame: np.ndarray) -> tuple[np.ndarray, float]:
        h, w = frame.shape[:2]
        scale = min(1.0, self.flow_size / max(h, w))
        small = frame if scale == 1.0 else self.cv2.resize(
            frame, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=self.cv2.INTER_AREA)
        return self.cv2.cvtColor(to_uint8(small), self.cv2.COLOR_RGB2GRAY), scale

    def flow(self, current: np.ndarray, previous: np.ndarray) -> np.ndarray:
        """For each pixel of ``current``, where it was in ``previous``: absolute sampling maps
        ``[H, W, 2]`` (x, y) in full-resolution pixels."""
        cur, scale = self._gray(current)
        prev, _ = self._gray(previous)
        flow = self.cv2.calcOpticalFlowFarneback(cur, prev, None, 0.5, 3, 15, 3, 5, 1.2, 0)
        h, w = current.shape[:2]
        if scale != 1.0:
            flow = self.cv2.resize(flow, (w, h), interpolation=self.cv2.INTER_LINEAR) / scale
        grid = np.stack(np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32)), -1)
        return grid + flow

    def flow_and_confidence(self, current: np.ndarray, previous: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``flow``'s maps from ``current`` into ``previous`` and how far they explain ``current``
        (``confidence`` of ``previous`` warped by them)."""
        maps = self.flow(current, previous)
        return maps, self.confidence(current, self.warp(previous, maps))

    def camera_move(self, current: np.ndarray, maps: np.ndarray, confidence: np.ndarray
                    ) -> np.ndarray | None:
        """How far the camera moved since the previous frame, ``(dy, dx)`` px in the scene: the
        median of the flow (``maps``) over the quarter of the pixels it explains (``confidence``
        above one half) with the strongest gradients, where flow is measured rather than filled
        in (a flat sky's flow is ~0 whatever the camera does). None when the flow explains less
        than half of the frame (a cut)."""
        # Every k-th pixel, about the flow's own resolution: the same median at a fraction of
        # the cost on large frames.
        h, w = maps.shape[:2]
        k = max(1, round(max(h, w) / self.flow_size))
        explained = confidence[::k, ::k, 0] > 0.5
        if explained.mean() < CAMERA_MIN_EXPLAINED:
            return None
        gray = self.cv2.cvtColor(to_uint8(current[::k, ::k]), self.cv2.COLOR_RGB2GRAY).astype(np.float32)
        gradient = (np.square(self.cv2.Sobel(gray, self.cv2.CV_32F, 1, 0))
                    + np.square(self.cv2.Sobel(gray, self.cv2.CV_32F, 0, 1)))
        textured = explained & (gradient >= np.percentile(gradient[explained], 75))
        dx = maps[::k, ::k, 0] - np.arange(0, w, k, dtype=np.float32)[None, :]
        dy = maps[::k, ::k, 1] - np.arange(0, h, k, dtype=np.float32)[:, None]
        return np.array([np.median(dy[textured]), np.median(dx[textured])], np.float64)

    def warp(self, image: np.ndarray, maps: np.ndarray) -> np.ndarray:
        return self.cv2.remap(image, maps[..., 0], maps[..., 1], self.cv2.INTER_LINEAR,
                              borderMode=self.cv2.BORDER_REPLICATE)

    def confidence(self, current: np.ndarray, warped_previous: np.ndarray) -> np.ndarray:
        """``[H, W, 1]`` in (0, 1]: 1 where the flow explains the current input frame."""
        err = np.mean((current - warped_previous) ** 2, axis=-1, keepdims=True)
        return np.exp(-err / self.sigma ** 2).astype(np.float32)


@dataclass
class Camera:
    """The camera's position in the scene, ``(y, x)`` px from where it was at the first frame,
    summed from its moves between frames: where the brushwork tiles are laid from."""

    position: np.ndarray = field(default_factory=lambda: np.zeros(2))

    def follow(self, move: np.ndarray | None) -> None:
        """Add a move (``FlowWarper.camera_move``); None, a cut, leaves the camera where it was."""
        if move is not None:
            self.position = self.position + move

    @property
    def origin(self) -> tuple[int, int]:
        """The position in whole pixels: ``stylize_image``'s ``origin``."""
        return int(round(self.position[0])), int(round(self.position[1]))


def warping_error(current: np.ndarray, warped_previous: np.ndarray, confidence: np.ndarray) -> float:
    """Confidence-weighted mean squared difference between a frame and the warped previous one."""
    sq = np.mean((current - warped_previous) ** 2, axis=-1, keepdims=True)
    return float(np.sum(confidence * sq) / max(float(np.sum(confidence)), 1e-8))


def stylize_video(generator: StyleFusionGenerator, src: str | Path, dst: str | Path, weights: np.ndarray,
                  config: VideoConfig | None = None, *, progress: bool = True) -> VideoReport:
    """Stylize ``src`` into ``dst`` (written atomically; format from the suffix, e.g. .mp4) with
    one style mix ``weights`` ``[N]``, temporally stabilised; report the warping errors."""
    config = config or VideoConfig()
    iio, cv2 = _video_modules()
    src, dst = Path(src), Path(dst)
    if not src.is_file():
        raise ImageError(src, "no such video file")
    try:
        reader = iio.get_reader(src, format="FFMPEG")
        meta = reader.get_meta_data()
    except Exception as e:  # imageio/ffmpeg raise OSError, RuntimeError, IndexError...
        raise ImageError(src, f"cannot read the video ({type(e).__name__}: {str(e).splitlines()[0]})") from None
    fps = float(meta.get("fps") or 25.0)
    total = meta.get("nframes")
    if not (isinstance(total, (int, float)) and np.isfinite(total)):
        try:  # containers often leave the count out; ffmpeg counts fast without decoding
            total = reader.count_frames()
        except Exception:  # only the progress bar's target depends on it
            total = None
    warper = FlowWarper(cv2, config.flow_size, config.occlusion_sigma)
    bar = keras.utils.Progbar(total, unit_name="frame", stateful_metrics=["fps"]) if progress else None
    errors_stable: list[float] = []
    errors_raw: list[float] = []
    frames = 0
    start = time.perf_counter()
    prev_in = prev_out = prev_raw = None
    camera = Camera()
    with atomic_path(dst) as tmp:
        writer = iio.get_writer(tmp, format="FFMPEG", fps=fps, macro_block_size=2, quality=8)
        try:
            for frame in reader:
                img = to_float(np.asarray(frame)[..., :3])
                if config.max_size and max(img.shape[:2]) > config.max_size:
                    s = config.max_size / max(img.shape[:2])
                    img = cv2.resize(img, (round(img.shape[1] * s), round(img.shape[0] * s)),
                                     interpolation=cv2.INTER_AREA)
                if prev_in is not None:
                    maps, conf = warper.flow_and_confidence(img, prev_in)
                    camera.follow(warper.camera_move(img, maps, conf))
                raw = stylize_image(generator, img, weights, tile_size=config.tile_size, origin=camera.origin)
                out = raw
                if prev_in is not None:
                    warped_out = warper.warp(prev_out, maps)
                    if config.stabilize > 0:
                        alpha = config.stabilize * conf
                        out = (1.0 - alpha) * raw + alpha * warped_out
                    errors_stable.append(warping_error(out, warped_out, conf))
                    errors_raw.append(warping_error(raw, warper.warp(prev_raw, maps), conf))
                writer.append_data(to_uint8(out))
                prev_in, prev_out, prev_raw = img, out, raw
                frames += 1
                if bar is not None:
                    bar.update(frames, values=[("fps", frames / (time.perf_counter() - start))])
        except (OSError, RuntimeError) as e:
            raise ImageError(src, f"video decoding failed at frame {frames} ({e})") from None
        finally:
            writer.close()
            reader.close()
        if frames == 0:
            raise ImageError(src, "the video has no frames")
    seconds = time.perf_counter() - start
    return VideoReport(dst, frames, fps, seconds,
                       float(np.mean(errors_stable)) if errors_stable and config.stabilize > 0 else None,
                       float(np.mean(errors_raw)) if errors_raw else None, config.stabilize)
