"""The package's folders are the stages data flows through; imports only run down the flow, no
two modules of a stage import each other (directly or round a longer circle), and files saved
before the layout move still load."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np

PACKAGE = Path(__file__).resolve().parents[1] / "tf_stylefusion"
FIXTURES = Path(__file__).resolve().parent / "fixtures"

# Each stage may import from stages of a lower rank only (and from itself). Stages that share a
# rank are siblings and must not import each other.
RANK = {
    "errors": 0, "machine": 0, "fileutil": 1, "config": 2,          # foundations
    "data": 3,
    "models": 4,
    "model_io": 5, "pretrained": 6,
    "personalize": 7, "synthesis": 7,
    "training": 8, "inference": 8,
    "deploy": 9, "evaluation": 9,
    "demo": 10, "app": 10, "cli": 11, "__init__": 12,
}


def stage_of(module: str) -> str:
    """``tf_stylefusion.training.run`` → ``training``; ``tf_stylefusion`` → ``__init__``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def imported_modules(path: Path, root: Path) -> list[tuple[int, str]]:
    """Every tf_stylefusion module ``path`` imports (top level or inside functions), resolved:
    ``from .pkg import name`` counts as ``pkg.name`` where that is a module of ``root``."""
    module = module_name(path, root)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    known = {module_name(p, root) for p in root.rglob("*.py")}
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if not target.startswith("tf_stylefusion"):
                continue
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                # `from . import x` names a module; `from .m import f` names something in m
                found.append((node.lineno, sub if sub in known or target == "tf_stylefusion" else target))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.startswith("tf_stylefusion")]
    return sorted(set(found))


def upward_imports(root: Path) -> list[str]:
    """``file:line imports X`` for each import of a stage ranked at or above the importer's."""
    upward = []
    for path in sorted(root.rglob("*.py")):
        here = stage_of(module_name(path, root))
        for line, target in imported_modules(path, root):
            there = stage_of(target)
            if there != here and RANK[there] >= RANK[here]:
                upward.append(f"{path.relative_to(root)}:{line} imports {target} "
                              f"({there}, rank {RANK[there]} >= {here}, rank {RANK[here]})")
    return upward


def import_circles(root: Path) -> list[str]:
    """Each circle of imports among the modules of one stage, as ``file:line imports X`` links
    (module-level and function-level imports alike: a deferred import hides a circle, it does not
    remove it). Circles across stages cannot exist while imports only run down the flow."""
    files = {module_name(p, root): p for p in sorted(root.rglob("*.py"))}
    edges: dict[str, dict[str, int]] = {m: {} for m in files}
    for m, path in files.items():
        for line, target in imported_modules(path, root):
            if target in files and target != m and stage_of(target) == stage_of(m):
                edges[m].setdefault(target, line)
    circles, seen = [], set()
    for start in files:
        # The shortest way back to `start` (breadth first), if any.
        back: dict[str, str] = {}
        frontier, found = [start], None
        while frontier and found is None:
            nxt = []
            for m in frontier:
                for t in edges[m]:
                    if t == start:
                        found = m
                        break
                    if t not in back:
                        back[t] = m
                        nxt.append(t)
                if found is not None:
                    break
            frontier = nxt
        if found is None:
            continue
        path = [found]
        while path[-1] != start:
            path.append(back[path[-1]])
        path.reverse()  # start -> ... -> found (-> start)
        if frozenset(path) in seen:
            continue
        seen.add(frozenset(path))
        links = [f"{files[a].relative_to(root)}:{edges[a][b]} imports {b}"
                 for a, b in zip(path, path[1:] + [start])]
        circles.append(" -> ".join(links))
    return circles


def test_every_module_belongs_to_a_known_stage():
    stages = {stage_of(module_name(p, PACKAGE)) for p in PACKAGE.rglob("*.py")}
    assert stages <= set(RANK), f"modules outside the known stages: {sorted(stages - set(RANK))}"


def test_imports_only_run_down_the_flow():
    upward = upward_imports(PACKAGE)
    assert not upward, "imports against the flow:\n" + "\n".join(upward)


def test_the_flow_check_catches_upward_and_sibling_imports(tmp_path):
    root = tmp_path / "tf_stylefusion"
    (root / "models").mkdir(parents=True)
    (root / "inference").mkdir()
    (root / "models" / "bad.py").write_text("from ..training.gan import StyleFusionGAN\n")
    (root / "inference" / "worse.py").write_text("def f():\n    from ..training import run\n")
    (root / "inference" / "fine.py").write_text("from ..models.generator import MIN_SIZE\nfrom . import tiling\n")
    found = upward_imports(root)
    assert len(found) == 2 and "inference/worse.py:2" in found[0] and "models/bad.py:1" in found[1]


def test_no_import_circle_inside_a_stage():
    circles = import_circles(PACKAGE)
    assert not circles, "modules of one stage import each other:\n" + "\n".join(circles)


def test_the_circle_check_catches_deferred_and_longer_circles(tmp_path):
    root = tmp_path / "tf_stylefusion"
    (root / "deploy").mkdir(parents=True)
    (root / "deploy" / "__init__.py").write_text("")
    # a circle of two, one side hidden inside a function
    (root / "deploy" / "a.py").write_text("from .b import g\n")
    (root / "deploy" / "b.py").write_text("def g():\n    from .a import f\n")
    # a circle of three through `from . import x`
    (root / "deploy" / "c.py").write_text("from . import d\n")
    (root / "deploy" / "d.py").write_text("import tf_stylefusion.deploy.e\n")
    (root / "deploy" / "e.py").write_text("def h():\n    from tf_stylefusion.deploy import c\n")
    # one way only: no circle
    (root / "deploy" / "f.py").write_text("from .a import f\nfrom . import c\n")
    found = import_circles(root)
    assert len(found) == 2, found
    assert "deploy/a.py:1 imports tf_stylefusion.deploy.b" in found[0]
    assert "deploy/b.py:2 imports tf_stylefusion.deploy.a" in found[0]
    assert found[1].count(" imports ") == 3 and "deploy/e.py:2 imports tf_stylefusion.deploy.c" in found[1]
    assert not any("f.py" in c for c in found)


def test_a_run_folder_saved_before_the_layout_move_still_loads():
    from tf_stylefusion import RunConfig, load_generator

    run = FIXTURES / "run_v0_1"
    g = load_generator(run)
    assert g.style_names == ["stripes", "noise"]
    assert RunConfig.from_json(run / "config.json").generator.filters == (8, 12, 16)
    saved = np.load(run / "expected.npz")
    got = np.asarray(g((saved["images"], saved["weights"])))
    np.testing.assert_allclose(got, saved["stylized"], atol=1e-4)


# `tf_stylefusion.__all__` before the layout move: every name must still import from the top.
PUBLIC_API_V0_1 = [
    "ConfigError", "DataConfig", "DiscriminatorConfig", "GeneratorConfig", "ImageError",
    "LossConfig", "ModelFileError", "PatchDiscriminator", "RunConfig", "StyleFusionError",
    "StyleFusionGAN", "StyleFusionGenerator", "StyleTargets", "StyleWeightsError", "TrainConfig",
    "TrainResult", "WeightsUnavailableError", "load_generator", "normalize_weights",
    "parse_style_spec", "stylize_files", "stylize_image", "train",
    "EncoderConfig", "PersonalizeConfig", "StyleEncoder", "StylizeOptions", "build_mix",
    "encode_style_images", "fit_style_encoder", "load_style_encoder", "personalize",
    "EvalConfig", "EvalReport", "evaluate", "TileConfig", "stylize_tiled",
    "TFLiteStylizer", "export_saved_model", "export_tflite",
]


def test_the_public_api_still_imports_from_the_top():
    import tf_stylefusion

    missing = [n for n in PUBLIC_API_V0_1 if not hasattr(tf_stylefusion, n)]
    assert not missing and set(PUBLIC_API_V0_1) <= set(tf_stylefusion.__all__), missing
