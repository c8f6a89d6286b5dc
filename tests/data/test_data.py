from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from tf_stylefusion.data import pipelines as data_lib
from tf_stylefusion.data.images import BadFiles
from tf_stylefusion.errors import ConfigError, ImageError

from ..conftest import texture, write


def test_corrupt_file_in_folder_is_skipped_and_reported(tmp_path: Path) -> None:
    folder = tmp_path / "content"
    for i in range(3):
        write(folder / f"ok_{i}.png", texture("photo", 50, seed=i))
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not really a jpeg")
    (folder / "empty.png").write_bytes(b"")
    bad = BadFiles()
    ds = data_lib.content_crops(str(folder), 32, 1.25, bad, seed=1).batch(4).take(3)
    batches = [b.numpy() for b in ds]
    assert all(b.shape == (4, 32, 32, 3) for b in batches)
    assert all(np.isfinite(b).all() and b.min() >= 0 and b.max() <= 1 for b in batches)
    reported = {Path(p).name for p, _ in bad.items}
    assert reported == {"broken.jpg", "empty.png"}


def test_folder_with_no_readable_image_fails_fast(tmp_path: Path) -> None:
    folder = tmp_path / "junk"
    folder.mkdir()
    (folder / "a.png").write_bytes(b"nope")
    with pytest.raises(ImageError, match="none of its 1 image files"):
        data_lib.content_crops(str(folder), 32, 1.25, BadFiles())


def test_styles_from_files_and_folders(tmp_path: Path) -> None:
    single = write(tmp_path / "wave.png", texture("stripes", 80))
    coll = tmp_path / "my_style"
    write(coll / "a.png", texture("checker", 80))
    write(coll / "sub" / "b.jpg", texture("checker", 90, seed=3))
    (coll / "c.png").write_bytes(b"garbage")
    sources = data_lib.resolve_styles([str(single), str(coll)])
    assert [s.name for s in sources] == ["wave", "my_style"]
    bad = BadFiles()
    imgs = data_lib.load_style_images(sources, 64, bad)
    assert [len(i) for i in imgs] == [1, 2]
    assert all(min(im.shape[:2]) == 64 for group in imgs for im in group)
    assert len(bad) == 1
    crops = data_lib.style_crops(imgs, 32, seed=0).take(40)
    ids = [int(i) for _, i in crops]
    assert set(ids) == {0, 1}


def test_style_name_clash_and_missing_path(tmp_path: Path) -> None:
    a = write(tmp_path / "x" / "wave.png", texture("stripes", 40))
    b = write(tmp_path / "y" / "wave.jpg", texture("stripes", 40))
    with pytest.raises(ConfigError, match="same style name"):
        data_lib.resolve_styles([str(a), str(b)])
    with pytest.raises(ConfigError, match="no such file"):
        data_lib.resolve_styles([str(tmp_path / "nope.png")])


def test_training_batches_have_content_styles_and_ids(image_folders) -> None:
    bad = BadFiles()
    sources = data_lib.resolve_styles([str(image_folders["stripes"]), str(image_folders["checker"])])
    styles = data_lib.style_crops(data_lib.load_style_images(sources, 64, bad), 32)
    content = data_lib.content_crops(str(image_folders["content"]), 32, 1.25, bad)
    c, s, ids = next(iter(data_lib.training_dataset(content, styles, 3)))
    assert c.shape == s.shape == (3, 32, 32, 3) and ids.shape == (3,) and ids.dtype == tf.int32


def test_split_is_deterministic_and_stable(tmp_path: Path) -> None:
    paths = [tmp_path / f"img_{i}.png" for i in range(200)]
    train1, val1 = data_lib.split_paths(paths, 0.2, tmp_path)
    train2, val2 = data_lib.split_paths(list(reversed(paths)), 0.2, tmp_path)
    assert set(val1) == set(val2) and 20 < len(val1) < 60
    # adding files does not move existing ones
    _, val3 = data_lib.split_paths(paths + [tmp_path / "new.png"], 0.2, tmp_path)
    assert set(val1) <= set(val3)


def test_tfds_source_offline_with_mock_data() -> None:
    import tensorflow_datasets as tfds  # a core dependency: no skip
    with tfds.testing.mock_data(num_examples=3):
        ds = data_lib.content_crops("tfds:cycle_gan/monet2photo:trainB", 32, 1.25, BadFiles())
        batch = next(iter(ds.batch(2)))
    assert batch.shape == (2, 32, 32, 3) and batch.dtype == tf.float32


def test_tfds_missing_dataset_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="tfds build"):
        data_lib.tfds_images("tfds:this_dataset_does_not_exist_anywhere", data_dir=str(tmp_path))


def test_three_way_split_is_deterministic_disjoint_and_keeps_validation(tmp_path: Path) -> None:
    paths = [tmp_path / f"img_{i}.png" for i in range(300)]
    s1 = data_lib.split_three(paths, 0.2, 0.1, tmp_path)
    s2 = data_lib.split_three(list(reversed(paths)), 0.2, 0.1, tmp_path)
    assert set(s1.test) == set(s2.test) and 10 < len(s1.test) < 60
    assert not set(s1.train) & set(s1.test) and not set(s1.validation) & set(s1.test)
    assert len(s1.train) + len(s1.validation) + len(s1.test) == 300
    # the validation files are those of the two-way split: old runs keep their validation set
    _, val = data_lib.split_paths(paths, 0.2, tmp_path)
    assert set(s1.validation) == set(val)
    # adding files never moves existing ones
    s3 = data_lib.split_three(paths + [tmp_path / "new.png"], 0.2, 0.1, tmp_path)
    assert set(s1.test) <= set(s3.test)
    with pytest.raises(ConfigError, match="sum to less than 1"):
        data_lib.split_three(paths, 0.5, 0.5, tmp_path)
