"""The loop's rounds, run by the benchmark's own runner with the imported answers as the oracle.

Each command opens a :class:`LoopSession`: the runner's state for the loop's spec (the protocol file, the
strategy and budget of the query), its pool on the loop's image index, each training stage's weights and the
labeled regions restored from ``model.pt``, and the answers applied to the pool. Round 0 is the protocol's
seeded random set, later rounds the strategy's selection scored by the last model; training is the runner's
(stages, seeds, warm start). So with answers equal to the ground truth, every round equals `albench run`'s.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from albench.components import Dataset, RegionLabels, Split
from albench.errors import AlbenchError
from albench.host.registry import Registry
from albench.loop.answers import LabelBook, read_answers
from albench.loop.workspace import Selection, Workspace, now
from albench.results.metrics import iou_per_class, mean_iou
from albench.run.checkpoint import Checkpoint, DamagedCheckpoint, load_checkpoint, save_checkpoint
from albench.run.evaluation import confusion_matrix
from albench.run.progress import NullProgress, Progress
from albench.run.runner import RunOptions, _distributions, _instantiate, _Run
from albench.run.spec import RunSpec, resolve_run
from albench.run.training import image_tensor

__all__ = ["LoopSession", "TrainOutcome"]


@dataclass(frozen=True)
class TrainOutcome:
    round: int
    added: int
    unanswered: int
    row: dict[str, Any]


class LoopSession:
    """The runner's state for one loop directory (see the module docstring)."""

    def __init__(
        self,
        workspace: Workspace,
        registry: Registry,
        *,
        strategy: str | None = None,
        budget: int | None = None,
        device: str = "cpu",
        progress: Progress | None = None,
    ) -> None:
        self.workspace = workspace
        self.registry = registry
        self.progress = progress or NullProgress()
        config = workspace.config()
        changes: dict[str, Any] = {"rounds": 1}  # the loop has no fixed number of rounds
        if budget is not None:
            changes["budget"] = budget
        config = dataclasses.replace(config, protocol=config.protocol.replace(**changes))
        self.spec: RunSpec = resolve_run(
            registry, config, strategy or "random", workspace.seed, data_root=workspace.images
        )
        parts = _instantiate(registry, self.spec, workspace.images)
        missing = sorted(set(workspace.image_ids) - set(parts.dataset.image_ids()))
        if missing:
            raise AlbenchError(
                f"{len(missing)} images of the loop's index are no longer in {workspace.images} "
                f"(first: {missing[0]!r}); put them back or start a new loop"
            )
        options = RunOptions(results_dir=workspace.root, cache_dir=workspace.cache_dir, device=device)
        self.run = _Run(
            self.spec,
            parts,
            options,
            self.progress,
            distributions=_distributions(registry, self.spec),
            split=Split(pool=workspace.image_ids, val=()),
            regions=self.regions,
        )
        if self.spec.protocol.patience is not None:
            raise AlbenchError(
                f"{workspace.root / 'protocol.toml'}: patience needs a validation split, which a loop "
                "does not have; remove patience from [protocol]"
            )
        self.book = LabelBook(read_answers(workspace.labels_path))
        self._apply_answers()
        self.rows: list[dict[str, Any]] = []
        try:
            saved = load_checkpoint(workspace.model_path, self.model_key)
        except DamagedCheckpoint:  # unreadable, or fails its checksum: the same advice as another protocol's
            saved = None
        if saved is None and workspace.model_path.exists():
            raise AlbenchError(
                f"{workspace.model_path} was trained with another protocol or is unreadable; restore "
                "protocol.toml as it was, or delete model.pt to train from round 0 again"
            )
        if saved is not None:
            self.rows = self.run.restore(saved)

    @property
    def dataset(self) -> Dataset:
        return self.run.parts.dataset

    @property
    def model_key(self) -> dict[str, Any]:
        """What the saved weights depend on: the spec without the strategy, budget and number of rounds."""
        canonical = self.spec.canonical()
        canonical.pop("strategy")
        canonical["protocol"] = {k: v for k, v in canonical["protocol"].items() if k not in ("budget", "rounds")}
        return {"loop": self.workspace.loop_id, "spec": canonical}

    @property
    def trained_rounds(self) -> int:
        return len(self.rows)

    # -- the oracle ----------------------------------------------------------------------------------
    def _apply_answers(self) -> None:
        """Each answered region's class (weak labels: the lowest of its set) and number of classes."""
        pool = self.run.pool
        index = {image_id: i for i, image_id in enumerate(pool.image_ids)}
        for (image_id, superpixel), answer in self.book.latest.items():
            if image_id not in index:
                continue
            region = int(pool.offsets[index[image_id]]) + superpixel
            pool.region_dominant[region] = min(answer.classes) if answer.classes else pool.ignore_index
            pool.region_classes[region] = len(answer.classes)

    def regions(self, image_id: str) -> RegionLabels:
        """The annotator's view of one image: answered regions get their classes, every pixel of a region its
        (lowest) class; unanswered regions stay void. The labeling scheme builds targets from it as from the
        ground truth."""
        entry = self.run.store.get(image_id)
        num_classes = self.dataset.num_classes
        ignore = self.dataset.ignore_index
        histogram = np.zeros((entry.num_regions, num_classes), dtype=np.int64)
        lookup = np.full(entry.num_regions, ignore, dtype=np.int64)
        sizes = np.bincount(entry.labels.reshape(-1), minlength=entry.num_regions)
        for superpixel, classes in self.book.by_image().get(image_id, {}).items():
            for c in classes:
                histogram[superpixel, c] = sizes[superpixel] if len(classes) == 1 else 1
            if classes:
                lookup[superpixel] = min(classes)
        return RegionLabels(entry.labels, lookup[entry.labels], histogram, ignore)

    # -- query ---------------------------------------------------------------------------------------
    def query(self) -> Selection:
        """The next round's regions: round 0 the seeded random set, later the strategy's choice."""
        strategy = self.run.parts.strategy
        if strategy.uses_ground_truth or strategy.labels_whole_pool:
            raise AlbenchError(
                f"strategy {self.spec.strategy.name!r} needs the ground truth of the whole pool; a loop "
                "has none (use a strategy such as oreal, entropy or random)"
            )
        round_index = self.trained_rounds
        started = time.perf_counter()
        chosen = self.run.query(round_index)
        images, local = self.run.pool.locate(chosen)
        costs = self.run.costs(chosen)
        regions = tuple((self.run.pool.image_ids[int(i)], int(k)) for i, k in zip(images, local))
        self.progress.log(
            f"round {round_index}: {len(regions)} regions chosen in {time.perf_counter() - started:.1f} s"
        )
        return Selection(
            round_index,
            self.spec.strategy.label,
            self.spec.protocol.budget,
            regions,
            tuple(int(c) for c in costs),
            now(),
        )

    # -- train ---------------------------------------------------------------------------------------
    def pending(self, selections: list[Selection]) -> tuple[list[tuple[str, int]], int]:
        """Answered regions not trained on yet (asked for in any round, earlier rounds first) and the number
        of the latest round's regions still without an answer."""
        labeled = self.run.pool.labeled
        index = {image_id: i for i, image_id in enumerate(self.run.pool.image_ids)}
        added: list[tuple[str, int]] = []
        seen: set[tuple[str, int]] = set()
        for selection in selections:
            for region in selection.regions:
                global_id = int(self.run.pool.offsets[index[region[0]]]) + region[1]
                if region in self.book and not labeled[global_id] and region not in seen:
                    added.append(region)
                    seen.add(region)
        unanswered = sum(region not in self.book for region in selections[-1].regions) if selections else 0
        return added, unanswered

    def train(self, selections: list[Selection], val: Path | None = None) -> TrainOutcome:
        """Train every stage on all answered regions (the runner's round), evaluate on ``val``, save."""
        round_index = self.trained_rounds
        current = [s for s in selections if s.round <= round_index]
        if not current or current[-1].round != round_index:
            raise AlbenchError(
                f"round {round_index} has not been queried yet: run `albench loop query {self.workspace.root}` first"
            )
        added, unanswered = self.pending(current)
        if not added:
            raise AlbenchError(
                f"no answers to train on for round {round_index}: label the tasks of "
                f"{self.workspace.round_dir(round_index)} and `albench loop import` the export first"
            )
        pool = self.run.pool
        index = {image_id: i for i, image_id in enumerate(pool.image_ids)}
        ids = pool.global_ids(np.array([index[i] for i, _ in added]), np.array([k for _, k in added]))
        clicks_before = int(self.rows[-1]["clicks_spent"]) if self.rows else 0
        clicks_round = int(
            sum(max(len(self.book.classes(*r)), 1) if self.spec.labeling.name == "weak" else 1 for r in added)
        )
        pool.mark_labeled(ids)
        started = time.perf_counter()
        self.run.train_and_evaluate(round_index)
        train_time = time.perf_counter() - started
        images, local = pool.locate(ids)
        row: dict[str, Any] = {
            "round": round_index,
            "strategy": current[-1].strategy,
            "budget": current[-1].budget,
            "added_image": images.tolist(),
            "added_superpixel": local.tolist(),
            "clicks_round": clicks_round,
            "clicks_spent": clicks_before + clicks_round,
            "labeled_regions": int(pool.labeled.sum()),
            "time_train_s": train_time,
            "trained_at": now(),
        }
        row.update(self.evaluate(val) if val is not None else {"val_miou": None, "stage_val_miou": None})
        self.rows.append(row)
        save_checkpoint(
            self.workspace.model_path, Checkpoint(self.model_key, self.rows, [m.state() for m in self.run.models])
        )
        return TrainOutcome(round_index, len(added), unanswered, row)

    def validation_dataset(self, val: Path) -> tuple[Dataset, list[str]]:
        """``val/images`` with masks in ``val/masks`` (same ids, PNG label values), read like the pool."""
        images, masks = val / "images", val / "masks"
        if not images.is_dir() or not masks.is_dir():
            raise AlbenchError(
                f"--val {val}: expected {images} (images) and {masks} (one PNG of label values per "
                "image, same relative name, 255 = void)"
            )
        params = {**self.spec.dataset.params, "masks": str(masks.resolve())}
        dataset: Dataset = self.registry.create("dataset", self.spec.dataset.name, params, root=images).instance
        if tuple(dataset.classes) != tuple(self.dataset.classes):
            raise AlbenchError(f"--val {val}: its classes differ from the loop's")
        ids = list(dataset.split(self.workspace.seed).val)
        if not ids:
            raise AlbenchError(f"--val {val}: no image under {images} has a mask under {masks}")
        return dataset, ids

    def evaluate(self, val: Path) -> dict[str, Any]:
        """mIoU of every stage's model on the validation images (the last stage's is ``val_miou``)."""
        dataset, ids = self.validation_dataset(val)
        protocol = self.spec.protocol
        confusions = [
            confusion_matrix(
                model.eval_model,
                dataset,
                ids,
                batch_size=protocol.eval_batch_size,
                device=self.run.device,
                progress=self.progress,
                description="validate",
            )
            for model in self.run.models
        ]
        background = dataset.background_class
        return {
            "val_miou": mean_iou(confusions[-1], protocol.metric, background),
            "stage_val_miou": [mean_iou(c, protocol.metric, background) for c in confusions],
            "val_iou_per_class": iou_per_class(confusions[-1], protocol.metric).tolist(),
            "val_confusion": confusions[-1].reshape(-1).tolist(),
            "val_images": len(ids),
        }

    # -- predict -------------------------------------------------------------------------------------
    @torch.inference_mode()
    def predict(self, image_id: str) -> np.ndarray:
        """``(H, W) uint8`` predicted classes at the working size."""
        if not self.rows:
            raise AlbenchError("no model yet: run `albench loop train` after the first import")
        model = self.run.eval_model
        model.eval()
        image = image_tensor(self.dataset.load(image_id).image)[None].to(self.run.device)
        return model(image).argmax(dim=1)[0].to(torch.uint8).cpu().numpy()  # type: ignore[no-any-return]
