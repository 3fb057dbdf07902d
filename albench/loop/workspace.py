"""A loop directory: its protocol file, the image index, what each round asked for, the answers, the model.

Layout::

    DIR/loop.json              the image folder, the seed, the image index (the pool, in order), the loop's id
    DIR/protocol.toml          the protocol file (the format of `albench run --protocol`); [dataset] is `images`
    DIR/classes.txt            a copy of the class names
    DIR/rounds/round-NNN/      selection.json, Label Studio tasks and config, CVAT XML, preview PNGs
    DIR/labels.parquet         the answers (albench.loop.answers)
    DIR/model.pt               each training stage's weights and one row per trained round
    DIR/cache/                 the superpixel cache
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from albench._atomic import atomic_write
from albench.errors import AlbenchError
from albench.run.protocol import BenchmarkConfig, ComponentChoice, load_protocol_file

__all__ = ["Selection", "Workspace", "now"]

CONFIG = "loop.json"


def now() -> str:
    """The current UTC time, ISO 8601."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def _write_json(path: Path, data: Any) -> None:
    """Write ``data`` as indented JSON, atomically."""

    def write(temporary: Path) -> None:
        temporary.write_text(json.dumps(data, indent=1), encoding="utf-8")

    atomic_write(path, write)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise AlbenchError(f"cannot write {value!r} to a protocol file")


def _toml_table(name: str, values: Mapping[str, Any]) -> str:
    """One ``[name]`` table; ``None`` is written ``"none"``, which parameters that may be unset read as None
    (TOML has no null, and a left-out key would read as its default, e.g. the default protocol's patience)."""
    lines = [f"[{name}]"] + [f"{key} = {_toml_value('none' if v is None else v)}" for key, v in values.items()]
    return "\n".join(lines) + "\n"


def protocol_text(config: BenchmarkConfig, seed: int) -> str:
    """``config`` as a protocol file that :func:`load_protocol_file` reads back to the same config."""
    parts = [
        "# The loop's protocol: edit before the first `albench loop query`; the same format as `albench run -p`.\n",
        f"seeds = [{seed}]\n",
        _toml_table("protocol", dataclasses.asdict(config.protocol)),
    ]
    for kind in ("dataset", "backbone", "superpixels", "labeling"):
        choice: ComponentChoice = getattr(config, kind)
        parts.append(_toml_table(kind, {"name": choice.name, **choice.params}))
    for strategy, params in config.strategy_params.items():
        parts.append(_toml_table(f"strategies.{strategy}", params))
    return "\n".join(parts)


@dataclass(frozen=True)
class Selection:
    """What one round asked for: regions as (image id, superpixel id), in the strategy's order."""

    round: int
    strategy: str
    budget: int
    regions: tuple[tuple[str, int], ...]
    costs: tuple[int, ...]
    queried_at: str

    def to_json(self) -> dict[str, Any]:
        return {
            "round": self.round,
            "strategy": self.strategy,
            "budget": self.budget,
            "queried_at": self.queried_at,
            "regions": [
                {"image": image, "superpixel": sp, "cost": cost} for (image, sp), cost in zip(self.regions, self.costs)
            ],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Selection:
        regions = tuple((str(r["image"]), int(r["superpixel"])) for r in data["regions"])
        costs = tuple(int(r["cost"]) for r in data["regions"])
        return cls(
            int(data["round"]), str(data["strategy"]), int(data["budget"]), regions, costs, str(data["queried_at"])
        )


class Workspace:
    """Paths and small state files of one loop directory."""

    def __init__(self, root: Path) -> None:
        self.root = root
        config_path = root / CONFIG
        if not config_path.is_file():
            raise AlbenchError(
                f"{root} is not a loop directory (no {CONFIG}); create one with `albench loop init {root} "
                "--images PATH --classes classes.txt`"
            )
        try:
            self.settings: dict[str, Any] = json.loads(config_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise AlbenchError(
                f"{config_path} is unreadable ({error}); recreate the loop with `albench loop init`"
            ) from None

    @classmethod
    def create(
        cls, root: Path, images: Path, classes: Path, seed: int, config: BenchmarkConfig, image_ids: list[str]
    ) -> Workspace:
        """Write a new loop directory (refusing to overwrite one)."""
        if (root / CONFIG).exists():
            raise AlbenchError(f"{root} is already a loop directory; choose another DIR or delete it first")
        root.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(classes, root / "classes.txt")
        loop_id = hashlib.sha256(f"{images.resolve()}|{seed}|{now()}".encode()).hexdigest()[:12]
        settings = {
            "format": 1,
            "loop_id": loop_id,
            "images": str(images.resolve()),
            "seed": seed,
            "created_at": now(),
            "val": None,
            "image_ids": image_ids,
        }
        (root / "protocol.toml").write_text(protocol_text(config, seed), encoding="utf-8")
        (root / CONFIG).write_text(json.dumps(settings, indent=1), encoding="utf-8")
        return cls(root)

    # -- settings -----------------------------------------------------------------------------------
    @property
    def loop_id(self) -> str:
        return str(self.settings["loop_id"])

    @property
    def images(self) -> Path:
        return Path(self.settings["images"])

    @property
    def seed(self) -> int:
        return int(self.settings["seed"])

    @property
    def image_ids(self) -> tuple[str, ...]:
        """The pool, in the order fixed at `loop init` (images added later are not part of it)."""
        return tuple(self.settings["image_ids"])

    @property
    def val(self) -> Path | None:
        return Path(self.settings["val"]) if self.settings.get("val") else None

    def remember_val(self, val: Path) -> None:
        self.settings["val"] = str(val.resolve())
        _write_json(self.root / CONFIG, self.settings)

    @property
    def classes(self) -> tuple[str, ...]:
        """The class names (checked by the images dataset at `loop init`)."""
        lines = [line.strip() for line in (self.root / "classes.txt").read_text(encoding="utf-8").splitlines()]
        while lines and not lines[-1]:
            lines.pop()
        return tuple(lines)

    def config(self) -> BenchmarkConfig:
        return load_protocol_file(self.root / "protocol.toml")

    # -- paths --------------------------------------------------------------------------------------
    @property
    def labels_path(self) -> Path:
        return self.root / "labels.parquet"

    @property
    def model_path(self) -> Path:
        return self.root / "model.pt"

    @property
    def cache_dir(self) -> Path:
        return self.root / "cache"

    def round_dir(self, round_index: int) -> Path:
        return self.root / "rounds" / f"round-{round_index:03d}"

    # -- selections ---------------------------------------------------------------------------------
    def selections(self) -> list[Selection]:
        """Every round's selection, by round."""
        found = []
        for path in sorted((self.root / "rounds").glob("round-*/selection.json")):
            try:
                found.append(Selection.from_json(json.loads(path.read_text(encoding="utf-8"))))
            except (OSError, ValueError, KeyError, TypeError) as error:
                raise AlbenchError(f"{path} is unreadable ({error}); query that round again with --again") from None
        return found

    def save_selection(self, selection: Selection) -> Path:
        directory = self.round_dir(selection.round)
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / "selection.json"
        _write_json(path, selection.to_json())
        return path
