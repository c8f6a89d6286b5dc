"""Does the stylized detail move with the scene? The share of fine detail fixed to the screen on a pan.

    python scripts/measure_screen_fixed.py [--model RUN_OR_KERAS] [--photo PHOTO] [--frames 24]
        [--step 4] [--size 384] [--texture 0 1] [--styles 0 1 ...]

A pan is cut from one photo: frame t is the window ``size`` px wide at ``t × step`` px, so the
scene moves exactly ``step`` px left each frame. Each frame is stylized on its own (frame by
frame, no stabilisation). The fine detail ``d`` of a frame is its luma minus a Gaussian blur
(σ 2 px). For consecutive frames, over their overlap:

    screen = corr(d[t+1], d[t])                 the detail where it was on the screen
    scene  = corr(d[t+1], d[t] moved with the scene)
    share fixed to the screen = max(screen, 0) / (max(screen, 0) + max(scene, 0))

averaged over the pairs. The input clip's share is the floor (a photo's detail is correlated
with itself a few px away); detail laid over the picture at fixed positions (a brushwork tile)
raises it; strokes the generator paints from the frame move with the scene and do not.
Each amount of tiles is measured twice: laid at the screen's coordinates (a photo stylized on its
own) and at the scene's, where ``stylefusion video`` lays them (the camera's position from the
optical flow, ``inference.video.FlowWarper.camera_move``; needs the video extra).
Without --model the ready-made pack is measured.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

SIGMA = 2.0


def fine_detail(image: np.ndarray) -> np.ndarray:
    """Luma minus its Gaussian blur (σ ``SIGMA``)."""
    from tf_stylefusion.models.color_stats import LUMA
    from tf_stylefusion.synthesis.structure import gaussian_blur

    luma = image @ np.asarray(LUMA, np.float32)
    return luma - gaussian_blur(luma[..., None], SIGMA)[..., 0]


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    return float((a * b).sum() / (np.sqrt((a * a).sum() * (b * b).sum()) + 1e-12))


def share_fixed(frames: list[np.ndarray], step: int) -> float:
    """Mean share of fine detail fixed to the screen over consecutive ``frames`` of a pan that
    moves the scene ``step`` px left a frame."""
    shares = []
    for before, after in zip(frames, frames[1:]):
        d0, d1 = fine_detail(before), fine_detail(after)
        overlap = d1[:, : d1.shape[1] - step]
        screen = max(_corr(overlap, d0[:, : d0.shape[1] - step]), 0.0)
        scene = max(_corr(overlap, d0[:, step:]), 0.0)
        shares.append(screen / (screen + scene + 1e-12))
    return float(np.mean(shares))


def pan(photo: np.ndarray, frames: int, step: int, size: int) -> list[np.ndarray]:
    """``frames`` windows of ``photo`` (its height, ``size`` wide), ``step`` px apart."""
    need = size + step * (frames - 1)
    if photo.shape[1] < need:
        raise SystemExit(f"the photo is {photo.shape[1]} px wide; this pan needs {need} (fewer --frames or a "
                         "smaller --step or --size)")
    return [photo[:, t * step: t * step + size] for t in range(frames)]


def scene_origins(frames: list[np.ndarray]) -> list[tuple[int, int]]:
    """Where ``stylefusion video`` lays the tiles in each frame: the camera's position, summed
    from the flow between consecutive frames as the video command does."""
    from tf_stylefusion.inference.video import Camera, FlowWarper, VideoConfig, _video_modules

    _, cv2 = _video_modules()
    config = VideoConfig()
    warper = FlowWarper(cv2, config.flow_size, config.occlusion_sigma)
    camera = Camera()
    origins = [camera.origin]
    for before, after in zip(frames, frames[1:]):
        camera.follow(warper.camera_move(after, *warper.flow_and_confidence(after, before)))
        origins.append(camera.origin)
    return origins


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="pack", help="run folder or .keras file (default: the pack)")
    ap.add_argument("--photo", help="a wide photo (default: the bundled rocket photo)")
    ap.add_argument("--frames", type=int, default=24)
    ap.add_argument("--step", type=int, default=4)
    ap.add_argument("--size", type=int, default=384, help="the frames' width; the photo is read at 512 px high")
    ap.add_argument("--texture", type=float, nargs="+", default=[1.0, 0.0],
                    help="brushwork tile amounts to measure (0: learned strokes only)")
    ap.add_argument("--styles", type=int, nargs="+", help="style rows (default: all)")
    args = ap.parse_args()

    from timing import machine_line

    from tf_stylefusion.config import GeneratorSettings
    from tf_stylefusion.data.images import load_image
    from tf_stylefusion.data.samples import samples_dir
    from tf_stylefusion.inference.stylize import stylize_image
    from tf_stylefusion.model_io import load_generator
    from tf_stylefusion.pretrained import resolve_model
    from tf_stylefusion.synthesis.synthesize import resize

    photo_path = Path(args.photo) if args.photo else samples_dir() / "content" / "rocket.jpg"
    photo = load_image(photo_path)
    height = 512
    scale = height / photo.shape[0]
    photo = resize(photo, height, round(photo.shape[1] * scale)).numpy()
    frames = pan(photo, args.frames, args.step, args.size)
    generator = load_generator(resolve_model(args.model))
    styles = args.styles if args.styles is not None else list(range(generator.num_styles))
    print(f"# {machine_line()}")
    print(f"# {photo_path.name} at {height} px high, {args.frames} frames {args.size} px wide, the scene moving "
          f"{args.step} px a frame; model {args.model}")
    print(f"input clip: share of fine detail fixed to the screen {share_fixed(frames, args.step):.3f}")
    origins = scene_origins(frames)
    print(f"the camera's position the video command finds at the last frame: {origins[-1]} "
          f"(the pan: (0, {args.step * (args.frames - 1)}))")
    for amount in args.texture:
        g = generator.with_settings(GeneratorSettings(texture=amount))
        for where, at in (("the screen", [None] * len(frames)), ("the scene (video)", origins)):
            if amount == 0 and at[0] is not None:
                continue  # no tiles: nothing is laid anywhere
            per_style = []
            for s in styles:
                weights = np.eye(generator.num_styles, dtype=np.float32)[s]
                pictures = [stylize_image(g, f, weights, origin=o) for f, o in zip(frames, at)]
                per_style.append(share_fixed(pictures, args.step))
            names = ", ".join(f"{generator.style_names[s]} {v:.3f}" for s, v in zip(styles, per_style))
            label = f"tiles laid at {where}" if amount else "no tiles"
            print(f"texture {amount:g}, {label}: {np.mean(per_style):.3f} (mean over styles; {names})")


if __name__ == "__main__":
    main()
