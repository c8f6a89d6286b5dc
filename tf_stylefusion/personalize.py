"""Personal style profiles: a user's collection of images → K named sub-styles.

Pipeline (numpy after the loss network; no scikit-learn):

1. every image is read with its shorter side at ``image_size`` and described by the per-channel
   mean and standard deviation of the loss network's features at the style layers (the same
   statistics the StyleEncoder reads; they summarise what a Gram style loss compares);
2. each feature dimension is standardised over the collection and the result reduced with PCA
   (SVD) to ``components`` dimensions;
3. seeded k-means (k-means++ initialisation, ``restarts`` runs, the lowest inertia kept).

**Choosing K** (``clusters="auto"``): for K = 2 … min(``max_clusters``, n − 1) the mean silhouette
coefficient (Rousseeuw 1987; Euclidean distance in PCA space; a one-member cluster scores 0) is
computed and the K with the highest score wins. If even the best score is below
``min_silhouette`` (0.25: Kaufman & Rousseeuw's "no substantial structure"), the collection is
one style (K = 1). Ties go to the smaller K.

Everything is seeded and ordered (files sorted, clusters numbered by their first member), so the
same folder gives the same profile, byte for byte. Unreadable images are skipped and reported.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

from .config import VGG_STYLE_LAYERS
from .data.images import BadFiles, contact_sheet, list_images, load_image, save_image
from .data.pipelines import StyleSource, load_or_report, resize_short_side
from .errors import ConfigError, ImageError
from .fileutil import atomic_dir
from .models.loss_networks import vgg_features
from .models.style_encoder import CONTENT_LAYER, style_statistics

log = logging.getLogger(__name__)

PROFILE_FILE = "profile.json"
ARRAYS_FILE = "profile.npz"
SHEET_FILE = "contact_sheet.png"
PROFILE_VERSION = 1
CRITERION = ("mean silhouette coefficient (Euclidean, PCA space) over K = 2..max_clusters, highest "
             "wins (ties: smaller K); K = 1 if the best is below min_silhouette")


@dataclass
class PersonalizeConfig:
    """Settings of ``personalize`` (all saved in the profile)."""

    clusters: int | str = "auto"
    max_clusters: int = 8
    min_silhouette: float = 0.25
    components: int = 8
    image_size: int = 256
    loss_network: str = "random"
    network_seed: int = 1234
    seed: int = 0
    restarts: int = 10

    def __post_init__(self) -> None:
        if self.clusters != "auto":
            try:
                self.clusters = int(self.clusters)
            except (TypeError, ValueError):
                raise ConfigError(f"--clusters {self.clusters!r}: give a number >= 1 or 'auto'") from None
            if self.clusters < 1:
                raise ConfigError(f"--clusters {self.clusters}: must be >= 1 (or 'auto')")
        if self.max_clusters < 2 or self.components < 1 or self.restarts < 1:
            raise ConfigError("max_clusters must be >= 2, components and restarts >= 1")
        if self.image_size < 32:
            raise ConfigError(f"image_size must be >= 32, got {self.image_size}")


@dataclass
class SubStyle:
    """One cluster of the collection."""

    name: str
    members: list[str]
    exemplar: str
    centroid: list[float]


@dataclass
class Profile:
    """A personal style profile (what ``profile.json`` holds)."""

    collection: str
    sub_styles: list[SubStyle]
    k: int
    criterion: str
    silhouette: dict[str, float]
    explained_variance: list[float]
    skipped: list[dict[str, str]] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)
    version: int = PROFILE_VERSION


# -- numerics ----------------------------------------------------------------------------------
def pca(x: np.ndarray, components: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``x`` ``[n, F]`` → (mean ``[F]``, components ``[k, F]``, projected ``[n, k]``, explained
    variance ratio ``[k]``); component signs fixed so the largest loading is positive."""
    mean = x.mean(axis=0)
    centred = x - mean
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    k = max(1, min(components, x.shape[0] - 1, vt.shape[0]))
    vt = vt[:k]
    signs = np.sign(vt[np.arange(k), np.argmax(np.abs(vt), axis=1)])
    vt = vt * np.where(signs == 0, 1.0, signs)[:, None]
    total = float(np.sum(s**2)) or 1.0
    return mean, vt, centred @ vt.T, (s[:k] ** 2) / total


def kmeans(x: np.ndarray, k: int, seed: int, restarts: int = 10, iterations: int = 100
           ) -> tuple[np.ndarray, np.ndarray, float]:
    """Seeded k-means (k-means++ init, Lloyd iterations); best of ``restarts`` by inertia.
    Returns (labels ``[n]``, centroids ``[k, d]``, inertia)."""
    rng = np.random.default_rng(seed)
    n = x.shape[0]
    if not 1 <= k <= n:
        raise ConfigError(f"cannot make {k} clusters from {n} images")
    best: tuple[np.ndarray, np.ndarray, float] | None = None
    for _ in range(restarts):
        centres = [x[int(rng.integers(n))]]
        for _ in range(1, k):
            d2 = np.min(((x[:, None, :] - np.asarray(centres)[None]) ** 2).sum(-1), axis=1)
            p = d2 / d2.sum() if d2.sum() > 0 else np.full(n, 1.0 / n)
            centres.append(x[int(rng.choice(n, p=p))])
        c = np.asarray(centres, np.float64)
        labels = np.full(n, -1)
        for _ in range(iterations):
            d2 = ((x[:, None, :] - c[None]) ** 2).sum(-1)
            new = np.argmin(d2, axis=1)
            if np.array_equal(new, labels):
                break
            labels = new
            for j in range(k):
                members = x[labels == j]
                # An emptied cluster takes the point farthest from its centre.
                c[j] = members.mean(axis=0) if len(members) else x[int(np.argmax(d2.min(axis=1)))]
        inertia = float(((x - c[labels]) ** 2).sum())
        if best is None or inertia < best[2] - 1e-12:
            best = (labels.copy(), c.copy(), inertia)
    assert best is not None
    return best


def silhouette(x: np.ndarray, labels: np.ndarray) -> float:
    """Mean silhouette coefficient; members of one-element clusters score 0."""
    dist = np.sqrt(((x[:, None, :] - x[None]) ** 2).sum(-1))
    ks = np.unique(labels)
    if len(ks) < 2:
        return 0.0
    scores = np.zeros(len(x))
    for i in range(len(x)):
        own = labels == labels[i]
        if own.sum() <= 1:
            continue
        a = dist[i, own].sum() / (own.sum() - 1)
        b = min(dist[i, labels == k].mean() for k in ks if k != labels[i])
        scores[i] = (b - a) / max(a, b) if max(a, b) > 0 else 0.0
    return float(scores.mean())


def choose_k(x: np.ndarray, config: PersonalizeConfig) -> tuple[int, dict[str, float]]:
    """K by the criterion in the module docstring; returns (K, silhouette score per K)."""
    n = x.shape[0]
    scores: dict[str, float] = {}
    for k in range(2, min(config.max_clusters, n - 1) + 1):
        labels, _, _ = kmeans(x, k, config.seed, config.restarts)
        scores[str(k)] = round(silhouette(x, labels), 6)
    if config.clusters != "auto":
        return int(config.clusters), scores
    if not scores:
        return 1, scores
    best_k = max(scores, key=lambda k: (scores[k], -int(k)))
    return (int(best_k) if scores[best_k] >= config.min_silhouette else 1), scores


# -- images → profile ----------------------------------------------------------------------------
def collection_features(paths: list[Path], config: PersonalizeConfig, bad: BadFiles
                        ) -> tuple[list[Path], np.ndarray]:
    """Style statistics ``[n, F]`` of every readable image (unreadable ones go to ``bad``)."""
    vgg = vgg_features(config.loss_network, VGG_STYLE_LAYERS + (CONTENT_LAYER,), config.network_seed)
    kept, feats = [], []
    for p in paths:
        img = load_or_report(p, bad, config.image_size * 4)
        if img is None:
            continue
        small = resize_short_side(tf.convert_to_tensor(img), config.image_size)[None]
        feats.append(style_statistics(vgg, small, len(VGG_STYLE_LAYERS))[0].numpy())
        kept.append(p)
    if not kept:
        raise ImageError("collection", f"none of its {len(paths)} images could be read:\n{bad.summary()}")
    return kept, np.asarray(feats, np.float64)


def personalize(collection: str | Path, out_dir: str | Path,
                config: PersonalizeConfig | None = None) -> Profile:
    """Cluster ``collection`` (a folder, searched recursively) into sub-styles and write
    ``profile.json``, ``profile.npz`` and ``contact_sheet.png`` into ``out_dir`` atomically."""
    config = config or PersonalizeConfig()
    root = Path(collection).resolve()
    bad = BadFiles()
    paths, feats = collection_features(list_images(root), config, bad)
    n = len(paths)
    if config.clusters != "auto" and int(config.clusters) > n:
        raise ConfigError(f"--clusters {config.clusters}: the collection has only {n} readable image(s)")

    std = feats.std(axis=0)
    z = (feats - feats.mean(axis=0)) / np.where(std > 1e-12, std, 1.0)
    pca_mean, components, projected, explained = pca(z, config.components) if n > 1 else (
        np.zeros(z.shape[1]), np.zeros((1, z.shape[1])), np.zeros((1, 1)), np.ones(1))
    k, scores = choose_k(projected, config) if n > 2 else (min(n, 1 if config.clusters == "auto"
                                                                else int(config.clusters)), {})
    labels, centroids, _ = kmeans(projected, k, config.seed, config.restarts)
    # Number clusters by their first member (paths are sorted), so names do not depend on
    # k-means' arbitrary label order.
    first = {int(lab): i for i, lab in reversed(list(enumerate(labels)))}
    ordering = sorted(range(k), key=lambda j: first[j])
    relabel = {old: new for new, old in enumerate(ordering)}
    labels = np.array([relabel[int(lab)] for lab in labels])
    centroids = centroids[ordering]

    rel = [p.relative_to(root).as_posix() for p in paths]
    subs = []
    for j in range(k):
        idx = np.flatnonzero(labels == j)
        d = ((projected[idx] - centroids[j]) ** 2).sum(-1)
        subs.append(SubStyle(name=f"{root.name}_{j + 1}", members=[rel[i] for i in idx],
                             exemplar=rel[idx[int(np.argmin(d))]],
                             centroid=[round(float(v), 6) for v in centroids[j]]))
    profile = Profile(collection=str(root), sub_styles=subs, k=k, criterion=CRITERION,
                      silhouette=scores, explained_variance=[round(float(v), 6) for v in explained],
                      skipped=[{"path": p, "problem": why} for p, why in bad.items],
                      settings=asdict(config))

    with atomic_dir(out_dir) as tmp:
        (tmp / PROFILE_FILE).write_text(json.dumps(asdict(profile), indent=1) + "\n", encoding="utf-8")
        np.savez(tmp / ARRAYS_FILE, features=feats.astype(np.float32), projected=projected.astype(np.float32),
                 labels=labels.astype(np.int32), centroids=centroids.astype(np.float32),
                 pca_mean=pca_mean.astype(np.float32), pca_components=components.astype(np.float32),
                 feature_mean=feats.mean(axis=0).astype(np.float32),
                 feature_std=std.astype(np.float32))
        save_image(tmp / SHEET_FILE, profile_sheet(root, subs))
    if len(bad):
        log.warning("%s", bad.summary())
    return profile


def profile_sheet(root: Path, subs: list[SubStyle], per_row: int = 8, cell: int = 128) -> np.ndarray:
    """One row per sub-style with up to ``per_row`` of its members."""
    rows = [[load_image(root / m, max_side=cell * 2) for m in s.members[:per_row]] for s in subs]
    return contact_sheet(rows, row_labels=[f"{s.name} ({len(s.members)})" for s in subs], cell=cell)


# -- profile → training ------------------------------------------------------------------------------
def load_profile(profile_dir: str | Path) -> Profile:
    """Read ``profile.json`` with a clear error for a missing or foreign folder."""
    path = Path(profile_dir) / PROFILE_FILE
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        subs = [SubStyle(**s) for s in raw.pop("sub_styles")]
        return Profile(sub_styles=subs, **raw)
    except FileNotFoundError:
        raise ConfigError(f"--profile {profile_dir}: no {PROFILE_FILE}; create it with "
                          "`stylefusion personalize --collection DIR --out PROFILE_DIR`") from None
    except (OSError, ValueError, TypeError, KeyError) as e:
        raise ConfigError(f"--profile {profile_dir}: {PROFILE_FILE} is damaged or not a profile ({e})") from e


def profile_style_sources(profile_dir: str | Path) -> list[StyleSource]:
    """One StyleSource per sub-style: its whole member set defines the style (the GAN's real
    distribution, and the mean Gram target)."""
    profile = load_profile(profile_dir)
    root = Path(profile.collection)
    return [StyleSource(s.name, [root / m for m in s.members]) for s in profile.sub_styles]
