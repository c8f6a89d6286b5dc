"""Where the meter's style match is lost: its Gram distance to the painting, stage by stage.

    ~/.cache/stylemeter/venv/bin/python scripts/meter_stages.py meter_pack/ours meter_pack/magenta

The stylemeter's ``gram_score`` averages one normalised Gram distance over four EfficientNet-Lite2
stages (strides 2, 4, 8, 16 at 384 px) before comparing it with the photo's. This prints the four
distances apart, for each folder of ``<photo>__<painting>.png`` pictures and for the photos
themselves, so a recipe change can be aimed at the scale where the pictures fall short (fine
texture, or strokes and shapes). A diagnosis only: the meter's network is never trained with.
Runs in the meter's own environment (it needs torch and the meter's weights).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

SHARED = Path(__file__).resolve().parents[2] / "shared"
STAGES = 4


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("outputs", nargs="+", help="folders of <photo>__<painting>.png pictures")
    p.add_argument("--content", default=str(SHARED / "images" / "content"))
    p.add_argument("--style", default=str(SHARED / "images" / "style"))
    p.add_argument("--meter", default=str(SHARED / "tools" / "stylemeter"))
    p.add_argument("--size", type=int, default=384, help="longer side, as the meter's score")
    a = p.parse_args()
    sys.path.insert(0, a.meter)
    try:
        import stylemeter as sm
        net = sm.Features()
    except ImportError as e:
        print(f"meter_stages.py runs in the stylemeter's environment (run the meter once to build it, "
              f"then use its python): {e}", file=sys.stderr)
        return 1

    def dist(f, ref):
        return [float(np.linalg.norm(sm.gram(f[i]) - sm.gram(ref[i])) / (np.linalg.norm(sm.gram(ref[i])) + 1e-8))
                for i in range(STAGES)]

    rows = {name: [] for name in ["photo"] + a.outputs}
    for cpath in sm.images(Path(a.content)):
        wh = sm.fit_long_side(cpath, a.size)
        fc = net(sm.load_rgb(cpath, wh))
        for spath in sm.images(Path(a.style)):
            found = [Path(d) / f"{cpath.stem}__{spath.stem}.png" for d in a.outputs]
            if not all(f.is_file() for f in found):
                continue  # only pairs every folder has
            fs = net(sm.load_rgb(spath, wh))
            rows["photo"].append(dist(fc, fs))
            for d, f in zip(a.outputs, found):
                rows[d].append(dist(net(sm.load_rgb(f, wh)), fs))
    if not rows["photo"]:
        print("no pair found in every folder (names must be <photo>__<painting>.png)", file=sys.stderr)
        return 1
    print(f"Gram distance to the painting per stage ({len(rows['photo'])} pairs, lower is nearer):")
    print("folder".ljust(40) + "".join(f"stage {i}".rjust(10) for i in range(STAGES)) + "      mean")
    for name, r in rows.items():
        m = np.mean(r, axis=0)
        print(name[-39:].ljust(40) + "".join(f"{v:10.3f}" for v in m) + f"{m.mean():10.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
