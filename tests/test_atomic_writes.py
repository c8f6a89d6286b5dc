"""A failed write (full disk, crash mid-write) never leaves a half file that looks complete."""

from __future__ import annotations

import errno
from pathlib import Path

import numpy as np
import pytest

from tf_stylefusion.cli import main
from tf_stylefusion.data.images import save_image
from tf_stylefusion.fileutil import atomic_dir, atomic_write_text
from tf_stylefusion.models.generator import StyleFusionGenerator
from tf_stylefusion.training.callbacks import save_generator


def disk_full(*args, **kwargs):  # type: ignore[no-untyped-def]
    raise OSError(errno.ENOSPC, "No space left on device")


def test_failed_image_write_keeps_the_old_file_and_no_temp(tmp_path: Path, monkeypatch) -> None:
    target = tmp_path / "out.png"
    save_image(target, np.zeros((8, 8, 3), np.float32))
    before = target.read_bytes()

    def half_then_fail(self: Path, data: bytes) -> int:
        with open(self, "wb") as f:
            f.write(data[: len(data) // 2])
        disk_full()
        return 0

    monkeypatch.setattr(Path, "write_bytes", half_then_fail)
    with pytest.raises(OSError):
        save_image(target, np.ones((8, 8, 3), np.float32))
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.png"]


def test_failed_model_save_leaves_no_model_file(tmp_path: Path, monkeypatch) -> None:
    g = StyleFusionGenerator(2, filters=(8, 8, 8), num_res_blocks=0)
    monkeypatch.setattr("keras.src.saving.saving_lib._save_state", disk_full)
    with pytest.raises(OSError):
        save_generator(g, tmp_path / "generator.keras")
    assert list(tmp_path.iterdir()) == []


def test_failed_folder_export_keeps_the_old_folder(tmp_path: Path) -> None:
    target = tmp_path / "export"
    with atomic_dir(target) as tmp:
        (tmp / "a.txt").write_text("old")
    with pytest.raises(OSError):
        with atomic_dir(target) as tmp:
            (tmp / "a.txt").write_text("half")
            disk_full()
    assert (target / "a.txt").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export"]
    atomic_write_text(tmp_path / "note.txt", "done")
    assert (tmp_path / "note.txt").read_text() == "done"


def test_cli_reports_a_full_disk_in_one_line(tmp_path: Path, monkeypatch, capsys) -> None:
    model = tmp_path / "m.keras"
    StyleFusionGenerator(1, filters=(8, 8, 8), num_res_blocks=0).save(model)
    image = tmp_path / "in.png"
    save_image(image, np.full((40, 40, 3), 0.5, np.float32))
    monkeypatch.setattr("tf_stylefusion.inference.stylize.save_image", disk_full)
    assert main(["stylize", str(model), str(image), "--style", "style_0", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "No space left on device" in err and "Traceback" not in err


def test_outputs_get_ordinary_permissions(tmp_path: Path) -> None:
    from tf_stylefusion.fileutil import DIR_MODE, FILE_MODE

    save_image(tmp_path / "a.png", np.zeros((8, 8, 3), np.float32))
    with atomic_dir(tmp_path / "export") as tmp:
        (tmp / "x").write_text("x")
    assert (tmp_path / "a.png").stat().st_mode & 0o777 == FILE_MODE
    assert (tmp_path / "export").stat().st_mode & 0o777 == DIR_MODE
