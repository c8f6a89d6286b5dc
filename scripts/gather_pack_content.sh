#!/usr/bin/env bash
# Gathers the photos the style pack is trained on into DIR (default: pack_content/), offline-safe:
# photographic desktop backgrounds from Debian's KDE Plasma wallpapers and the sample photos that ship inside
# PyPI wheels (scikit-learn, matplotlib, scikit-image). None of them is one of the development
# photos the pack is measured on (scripts/measure_style_pack.py --content), which stay held out.
# Then: stylefusion pack train --content DIR --run RUN (tf_stylefusion/training/pack.py).
set -euo pipefail
out="${1:-pack_content}"
repo=$(cd "$(dirname "$0")/.." && pwd)
# The project's Python (it has Pillow); PYTHON overrides.
py="${PYTHON:-$([ -x "$repo/.venv/bin/python" ] && echo "$repo/.venv/bin/python" || echo python3)}"
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if command -v apt-get >/dev/null; then
  apt-get install -y -qq --no-install-recommends plasma-workspace-wallpapers >/dev/null
fi
# Photographs among the KDE Plasma wallpapers (the rest are drawings and gradients).
for name in BytheWater ColdRipple ColorfulCups DarkestHour EveningGlow FallenLeaf Grey Kite \
            OneStandsOut Path Volna summer_1am; do
  src=$(ls /usr/share/wallpapers/"$name"/contents/images/*.{jpg,png} 2>/dev/null | sort -V | tail -1 || true)
  [ -n "$src" ] && cp "$src" "$tmp/$name.${src##*.}"
done

"$py" -m pip download -q --no-deps -d "$tmp/wheels" scikit-learn matplotlib scikit-image
for w in "$tmp"/wheels/*.whl; do
  unzip -o -q -j "$w" "*/china.jpg" "*/flower.jpg" "*/grace_hopper.jpg" "*/hubble_deep_field.jpg" \
    "*/motorcycle_left.png" -d "$tmp" 2>/dev/null || true
done

# Longer side at most 1024 px: training reads them at 1.25x the crop size anyway.
"$py" - "$tmp" "$out" <<'PY'
import sys
from pathlib import Path
from PIL import Image
src, dst = Path(sys.argv[1]), Path(sys.argv[2])
for p in sorted(src.glob("*.*")):
    if p.suffix.lower() not in {".jpg", ".jpeg", ".png"}:
        continue
    im = Image.open(p).convert("RGB")
    im.thumbnail((1024, 1024), Image.LANCZOS)
    im.save(dst / f"{p.stem}.jpg", quality=92)
print(f"{len(list(dst.glob('*.jpg')))} photos in {dst}")
PY
