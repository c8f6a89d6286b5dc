"""Rebuild the style encoder's training paintings from ``scripts/encoder_paintings.tsv``.

    python scripts/gather_encoder_paintings.py OUT_DIR [--mirrors DIR] [--table TSV]

Each row of the table names one public-domain painting by repository, commit and path. The
source bytes come from ``raw.githubusercontent.com`` by default, or with ``--mirrors DIR`` from
local bare git directories named ``owner+name`` under DIR (``DIR/owner+name/repo`` or
``DIR/owner+name/repo/.git``). The bytes must match the row's SHA-256. The row's ``edit`` is
applied (only ``cut N% border``: N percent of the width or height off each edge), then the image
is converted to RGB, shrunk so its longer side is at most 512 px (LANCZOS) and written to
``OUT_DIR/<file>`` as JPEG quality 90, atomically. A row that fails is reported by file name and
skipped; the run goes on and exits 1 at the end if any row failed. What the corpus is for and
where each painting comes from: ``eval/ENCODER_PAINTINGS.md``.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import os
import re
import subprocess
import sys
import tempfile
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

TABLE = Path(__file__).with_name("encoder_paintings.tsv")
COLUMNS = ("file", "repo", "commit", "path", "sha256", "work", "artist_year", "why_public_domain", "edit")
RAW_URL = "https://raw.githubusercontent.com/{repo}/{commit}/{path}"
MAX_SIDE = 512
JPEG_QUALITY = 90
CUT_BORDER = re.compile(r"cut (\d{1,2}(?:\.\d+)?)% border")
FILE_NAME = re.compile(r"[a-z0-9]+(?:_[a-z0-9]+)*\.jpg")


@dataclass(frozen=True)
class Row:
    """One painting of the table: where its bytes are and what to do with them."""

    file: str
    repo: str
    commit: str
    path: str
    sha256: str
    edit: str


def read_table(table: Path) -> list[Row]:
    """The rows of the tab-separated table; raises ValueError on a malformed one."""
    with table.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        if tuple(reader.fieldnames or ()) != COLUMNS:
            raise ValueError(f"{table}: header must be {' '.join(COLUMNS)}")
        rows = []
        for r in reader:
            if None in r or None in r.values():
                raise ValueError(f"{table}: line {reader.line_num} does not have {len(COLUMNS)} fields")
            rows.append(Row(r["file"], r["repo"], r["commit"], r["path"], r["sha256"].lower(), r["edit"]))
    seen: set[str] = set()
    for row in rows:
        if not FILE_NAME.fullmatch(row.file) or row.file in seen:
            raise ValueError(f"{table}: bad or repeated file name {row.file!r}")
        if not re.fullmatch(r"[0-9a-f]{40}", row.commit) or not re.fullmatch(r"[0-9a-f]{64}", row.sha256):
            raise ValueError(f"{table}: {row.file}: commit or sha256 is not full-length hex")
        parse_edit(row.edit)  # fail early on an edit this script does not know
        seen.add(row.file)
    return rows


def parse_edit(edit: str) -> float:
    """The fraction to cut from each edge: 0.0 for an empty edit, 0.03 for ``cut 3% border``."""
    if not edit:
        return 0.0
    match = CUT_BORDER.fullmatch(edit)
    if match is None or not 0 < float(match.group(1)) < 25:
        raise ValueError(f"unsupported edit {edit!r} (only 'cut N% border', 0 < N < 25)")
    return float(match.group(1)) / 100


def git_dir(mirrors: Path, repo: str) -> Path:
    """The bare git directory of ``repo`` in a mirror folder laid out as ``owner+name/repo[/.git]``."""
    root = mirrors / repo.replace("/", "+") / "repo"
    return root / ".git" if (root / ".git").is_dir() else root


def fetch_bytes(row: Row, mirrors: Path | None) -> bytes:
    """The source bytes of ``row``, from a local mirror or from raw.githubusercontent.com."""
    if mirrors is not None:
        command = ["git", "--git-dir", str(git_dir(mirrors, row.repo)), "show", f"{row.commit}:{row.path}"]
        result = subprocess.run(command, capture_output=True, check=False)
        if result.returncode != 0:
            raise OSError(result.stderr.decode(errors="replace").strip() or "git show failed")
        return result.stdout
    url = RAW_URL.format(repo=row.repo, commit=row.commit, path=urllib.parse.quote(row.path))
    with urllib.request.urlopen(url, timeout=60) as response:
        data: bytes = response.read()
    return data


def prepare(data: bytes, cut: float) -> Image.Image:
    """Decode, cut ``cut`` of the width and height off each edge, convert to RGB and shrink."""
    with Image.open(io.BytesIO(data)) as source:
        image = source.convert("RGB")
    if cut:
        dx, dy = round(image.width * cut), round(image.height * cut)
        image = image.crop((dx, dy, image.width - dx, image.height - dy))
    scale = MAX_SIDE / max(image.size)
    if scale < 1:
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        image = image.resize(size, Image.Resampling.LANCZOS)
    return image


def save_atomic(image: Image.Image, target: Path) -> None:
    """Write ``image`` as JPEG to a temporary file beside ``target``, then move it into place."""
    handle, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.stem}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            image.save(out, format="JPEG", quality=JPEG_QUALITY)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temp, 0o666 & ~umask)  # mkstemp makes it 0600; give it a plain file's mode
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def gather(rows: list[Row], out_dir: Path, mirrors: Path | None) -> list[str]:
    """Write every row's painting into ``out_dir``; returns the file names that failed."""
    out_dir.mkdir(parents=True, exist_ok=True)
    failed: list[str] = []
    for row in rows:
        try:
            data = fetch_bytes(row, mirrors)
            digest = hashlib.sha256(data).hexdigest()
            if digest != row.sha256:
                raise ValueError(f"sha256 {digest[:12]}… does not match the table's {row.sha256[:12]}…")
            image = prepare(data, parse_edit(row.edit))
            save_atomic(image, out_dir / row.file)
        except Exception as error:  # one bad row must not stop the others
            failed.append(row.file)
            print(f"FAIL {row.file}: {error}"[:110])
            continue
        print(f"ok   {row.file:44s} {image.width:3d}x{image.height:<3d} {row.repo}"[:110])
    return failed


def main(argv: list[str] | None = None) -> int:
    """Command line: gather the table's paintings into OUT_DIR; exit 1 if any row failed."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out_dir", type=Path, help="folder for the JPEG files")
    parser.add_argument("--mirrors", type=Path, help="folder of bare git mirrors named owner+name")
    parser.add_argument("--table", type=Path, default=TABLE, help="the TSV (default: %(default)s)")
    args = parser.parse_args(argv)
    try:
        rows = read_table(args.table)
    except (OSError, ValueError) as error:
        parser.error(str(error))
    failed = gather(rows, args.out_dir, args.mirrors)
    print(f"{len(rows) - len(failed)} of {len(rows)} paintings written to {args.out_dir}")
    for name in failed:
        print(f"failed: {name}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
