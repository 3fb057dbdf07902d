"""The runner: one active-learning run on the common protocol (docs/protocol.md).

Round t: add regions to the labeled set (round 0: Q random regions drawn from the seed, identical for every
strategy; later: the strategy's selection, scored with round t−1's model), train, evaluate, record a row,
save a checkpoint. Every random draw comes from a seed derived from (run seed, purpose, round).
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import torch
from torch import nn

from albench.components import (
    RUN_KINDS,
    Backbone,
    Dataset,
    LabelingScheme,
    SelectionContext,
    Split,
    Strategy,
    SuperpixelMethod,
)
from albench.determinism import configure_determinism, derive_seed, numpy_generator
from albench.errors import AlbenchError, DatasetError, ProtocolError, StorageError
from albench.host.registry import Registry
from albench.results import files
from albench.results.metrics import iou_per_class, mean_iou
from albench.results.store import (
    SetAside,
    environment,
    quarantine,
    read_run_file,
    result_path,
    write_results,
)
from albench.run.checkpoint import Checkpoint, DamagedCheckpoint, checkpoint_path, load_checkpoint, save_checkpoint
from albench.run.evaluation import confusion_matrix
from albench.run.execution import Execution
from albench.run.guards import check_batch_fits, check_labels
from albench.run.pool import Pool
from albench.run.pool_scoring import score_pool
from albench.run.progress import NullProgress, Progress
from albench.run.spec import RunSpec, open_component
from albench.run.superpixel_cache import SuperpixelStore, image_cache_directory
from albench.run.training import (
    LabeledImages,
    RegionsOf,
    StageModel,
    TrainingReport,
    convergence_columns,
    describe_training,
    round_seed,
    stage_targets,
    train_round,
)
from albench.selection import take_within_budget, validate_selection

__all__ = ["RunOptions", "RunOutcome", "execute_run", "resolve_device"]


@dataclass(frozen=True)
class RunOptions:
    """Where a run reads and writes, and on which device; none of these change its numbers on CPU."""

    results_dir: Path
    cache_dir: Path
    device: str = "cpu"
    data_root: Path | None = None
    force: bool = False
    image_cache: bool = True  # let the dataset keep decoded images under cache_dir (Dataset.use_cache)


@dataclass(frozen=True)
class RunOutcome:
    spec: RunSpec
    path: Path
    status: Literal["completed", "resumed", "skipped"]
    table: pa.Table


def resolve_device(name: str) -> torch.device:
    """``--device`` to a torch device, with a clear error when it is not available."""
    try:
        device = torch.device(name)
    except RuntimeError:
        raise AlbenchError(f"unknown device {name!r}; use cpu, cuda, cuda:N or mps") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise AlbenchError(f"device {name!r} requested, but this PyTorch build sees no CUDA GPU; use --device cpu")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise AlbenchError(f"device {name!r} requested, but MPS is not available here; use --device cpu")
    return device


@dataclass
class _Components:
    dataset: Dataset
    backbone: Backbone
    superpixels: SuperpixelMethod
    labeling: LabelingScheme
    strategy: Strategy


def _distributions(registry: Registry, spec: RunSpec) -> dict[str, str]:
    """``<kind>_distribution`` columns: the installed package that provides each component, and its version."""
    columns = {}
    for kind in RUN_KINDS:
        registration = registry.get(kind, spec.component(kind).name)
        columns[f"{kind}_distribution"] = f"{registration.distribution} {registration.distribution_version}".strip()
    return columns


def _instantiate(registry: Registry, spec: RunSpec, data_root: Path | None) -> _Components:
    return _Components(
        **{kind: open_component(registry, spec.component(kind), data_root=data_root) for kind in RUN_KINDS}
    )


def _check_budget(spec: RunSpec, pool: Pool, unit_cost: bool) -> None:
    """Fail before training when the protocol would run out of regions to label."""
    needed = spec.protocol.budget * spec.protocol.rounds
    if spec.protocol.budget > pool.num_regions or (unit_cost and needed > pool.num_regions):
        raise ProtocolError(
            f"budget {spec.protocol.budget} × {spec.protocol.rounds} rounds needs {needed} regions, but the pool "
            f"of dataset {spec.dataset.name!r} has only {pool.num_regions} superpixels; lower --budget or --rounds"
        )


class _Run:
    """The state of one run in progress.

    An annotation loop (:mod:`albench.loop`) drives the same rounds with a person as the oracle: it passes
    its own ``split`` (every image pooled, evaluation only where it has masks, possibly none) and
    ``regions``, the answers it imported (default: the dataset's ground truth).
    """

    def __init__(
        self,
        spec: RunSpec,
        parts: _Components,
        options: RunOptions,
        progress: Progress,
        *,
        distributions: dict[str, str],
        split: Split | None = None,
        regions: RegionsOf | None = None,
    ) -> None:
        self.spec = spec
        self.parts = parts
        self.options = options
        self.progress = progress
        self.protocol = spec.protocol
        self.device = resolve_device(options.device)
        if self.device.type != spec.device:
            raise AlbenchError(
                f"run {spec.run_id} was resolved for device type {spec.device!r} but was started "
                f"on {options.device!r}; resolve it with the same --device"
            )
        self.execution = Execution.of(self.protocol, self.device)
        configure_determinism(spec.seed, self.protocol.threads, self.device)
        dataset = parts.dataset
        if options.image_cache:
            dataset.use_cache(image_cache_directory(options.cache_dir, dataset, spec.dataset))
        self.split = split or dataset.split(spec.seed)
        self.regions = regions
        if not self.split.pool or (not self.split.evaluation and split is None):
            raise DatasetError(
                f"dataset {spec.dataset.name!r} gave an empty pool or validation split for seed {spec.seed}"
            )
        self._check_memory()
        self.store = SuperpixelStore(options.cache_dir, dataset, parts.superpixels, spec.dataset, spec.superpixels)
        self.pool = Pool.build(self.store, self.split.pool, progress)
        if regions is None:  # an annotation loop's pool has no masks: its labels come from a person
            check_labels(self.pool.dominant_confusion, spec.dataset.name, "pool", self.split.pool, dataset.ignore_index)
        if not parts.strategy.labels_whole_pool:
            _check_budget(spec, self.pool, parts.labeling.unit_cost)
        self.graph = self.pool.graph(self.store)
        self.stages = list(parts.labeling.stages(dataset.num_classes))
        self.models = [self._build_model() for _ in self.stages]
        self.environment = environment(self.device)
        self.distributions = distributions

    def _check_memory(self) -> None:
        """Fail before the superpixels are computed when a training batch cannot fit in memory. The model is
        a throwaway built under a forked generator: the run's own models and random draws are untouched."""
        dataset = self.parts.dataset
        height, width = dataset.load(self.split.pool[0]).image.shape[:2]
        with torch.random.fork_rng(devices=[]):
            model = self.parts.backbone.build(dataset.num_classes)
        check_batch_fits(
            model, self.protocol.batch_size, height, width, dataset.num_classes, self.device, self.spec.backbone.name
        )

    def _build_model(self) -> StageModel:
        """A model from the run's initial weights: the same for every strategy and every stage."""
        torch.manual_seed(derive_seed(self.spec.seed, "init"))
        model = self.execution.prepare(self.parts.backbone.build(self.parts.dataset.num_classes))
        return StageModel(model, self.protocol.ema_decay)

    @property
    def eval_model(self) -> nn.Module:
        """The last stage's model: it is reported as ``miou`` and scores the pool."""
        return self.models[-1].eval_model

    def restore(self, checkpoint: Checkpoint) -> list[dict[str, Any]]:
        if len(checkpoint.stages) != len(self.models):
            raise AlbenchError("checkpoint has a different number of training stages; rerun with --force")
        for stage_model, state in zip(self.models, checkpoint.stages):
            stage_model.load(state)
        for row in checkpoint.rows:
            self.pool.mark_labeled(self.pool.global_ids(row["added_image"], row["added_superpixel"]))
            for column, value in self.distributions.items():  # checkpoints written before the column existed
                row.setdefault(column, value)
        return checkpoint.rows

    @property
    def overshoot(self) -> bool:
        """The protocol's ``overshoot``, for labeling schemes whose regions cost different numbers of clicks: the
        authors' click loop exists only for multi-class labels; with one click per region a round takes Q."""
        return self.protocol.overshoot and not self.parts.labeling.unit_cost

    def costs(self, region_ids: np.ndarray) -> np.ndarray:
        return self.parts.labeling.region_cost(self.pool.region_classes[region_ids])

    def query(self, round_index: int) -> np.ndarray:
        """Round 0: random regions worth Q clicks, drawn from the seed alone (the same for every strategy;
        with one click per region, Q regions). Later: the strategy's selection."""
        strategy = self.parts.strategy
        if round_index == 0:
            order = numpy_generator(self.spec.seed, "initial").permutation(self.pool.num_regions)
            if strategy.labels_whole_pool:
                return order.astype(np.int64)
            return take_within_budget(order, self.costs(order), self.protocol.budget, overshoot=self.overshoot)
        statistics = strategy.statistics(self.parts.dataset.num_classes)
        region_stats: dict[str, np.ndarray] = {}
        pool_stats: dict[str, np.ndarray] = {}
        if statistics:
            region_stats, pool_stats = score_pool(
                self.eval_model,
                self.parts.dataset,
                self.store,
                self.split.pool,
                statistics,
                batch_size=self.protocol.score_batch_size,
                device=self.device,
                progress=self.progress,
                execution=self.execution,
                workers=self.protocol.num_workers,
                description=f"round {round_index - 1}: score pool",
            )
            # Statistics that need the first pass's pool statistics (PixelBal's exact p95): a second pass.
            second_pass = strategy.second_pass(self.parts.dataset.num_classes, pool_stats)
            if second_pass:
                more, _ = score_pool(
                    self.eval_model,
                    self.parts.dataset,
                    self.store,
                    self.split.pool,
                    second_pass,
                    batch_size=self.protocol.score_batch_size,
                    device=self.device,
                    progress=self.progress,
                    execution=self.execution,
                    workers=self.protocol.num_workers,
                    description=f"round {round_index - 1}: score pool, second pass",
                )
                region_stats = {**region_stats, **more}
        order = self.pool.labeled_order()
        context = SelectionContext(
            round=round_index - 1,
            budget=self.protocol.budget,
            num_classes=self.parts.dataset.num_classes,
            background_class=self.parts.dataset.background_class,
            labeled=self.pool.labeled.copy(),
            labeled_order=order,
            labeled_classes=self.pool.region_dominant[order],
            labeled_class_counts=self.pool.labeled_class_counts(),
            region_stats=region_stats,
            pool_stats=pool_stats,
            region_sizes=self.pool.region_size,
            region_image=self.pool.region_image,
            region_cost=self.costs,
            unit_cost=self.parts.labeling.unit_cost,
            overshoot=self.overshoot,
            graph=self.graph,
            generator=numpy_generator(self.spec.seed, "query", round_index),
            ground_truth=self.pool.region_dominant.copy() if strategy.uses_ground_truth else None,
            labeled_round=self.pool.labeled_round(),
            labeled_class_sets=self.parts.labeling.named_classes(
                self.pool.region_dominant[order], self.pool.classes_present(order)
            ),
        )
        return validate_selection(
            strategy.select(context),
            strategy=self.spec.strategy.name,
            labeled=self.pool.labeled,
            costs_of=self.costs,
            budget=self.protocol.budget,
            overshoot=self.overshoot,
        )

    def validation_miou(self, model: nn.Module) -> float:
        """mIoU on the validation split: what early stopping watches (never the reported test split)."""
        confusion = confusion_matrix(
            model,
            self.parts.dataset,
            self.split.val,
            batch_size=self.protocol.eval_batch_size,
            device=self.device,
            progress=self.progress,
            description="validate",
            execution=self.execution,
            workers=self.protocol.num_workers,
        )
        check_labels(confusion, self.spec.dataset.name, "validation", self.split.val, self.parts.dataset.ignore_index)
        return mean_iou(confusion, self.protocol.metric, self.parts.dataset.background_class)

    def train_and_evaluate(self, round_index: int) -> tuple[list[np.ndarray], float, float, list[TrainingReport]]:
        """Train every stage in order, evaluating each; return the confusion matrices, the times and how each
        stage's training went."""
        items = [(self.split.pool[i], local) for i, local in self.pool.labeled_by_image().items()]
        confusions: list[np.ndarray] = []
        reports: list[TrainingReport] = []
        train_time = eval_time = 0.0
        for index, (stage, stage_model) in enumerate(zip(self.stages, self.models)):
            label = f"round {round_index}: {stage.name}" if len(self.stages) > 1 else f"round {round_index}"
            started = time.perf_counter()
            if round_index > 0 and not self.protocol.warm_start:
                stage_model.reset()
            targets = None
            if stage.needs_previous_stage and index > 0:
                targets = stage_targets(
                    self.models[index - 1].eval_model,
                    stage,
                    self.parts.dataset,
                    self.store,
                    items,
                    device=self.device,
                    progress=self.progress,
                    execution=self.execution,
                    description=f"{label}: targets from the previous stage",
                    regions=self.regions,
                )
            data = LabeledImages(
                self.parts.dataset, self.store, stage, items, self.protocol.augment, targets, self.regions
            )
            report = train_round(
                stage_model,
                data,
                self.protocol,
                seed=round_seed(self.spec.seed, round_index, index),
                device=self.device,
                progress=self.progress,
                description=f"{label}: train",
                validate=self.validation_miou,
            )
            reports.append(report)
            trained = time.perf_counter()
            if not self.split.evaluation:  # an annotation loop without evaluation masks
                train_time += trained - started
                continue
            confusions.append(
                confusion_matrix(
                    stage_model.eval_model,
                    self.parts.dataset,
                    self.split.evaluation,
                    batch_size=self.protocol.eval_batch_size,
                    device=self.device,
                    progress=self.progress,
                    execution=self.execution,
                    workers=self.protocol.num_workers,
                    description=f"{label}: evaluate",
                )
            )
            check_labels(
                confusions[-1],
                self.spec.dataset.name,
                "evaluation",
                self.split.evaluation,
                self.parts.dataset.ignore_index,
            )
            train_time += trained - started
            eval_time += time.perf_counter() - trained
        return confusions, train_time, eval_time, reports

    def row(
        self,
        round_index: int,
        added: np.ndarray,
        confusions: list[np.ndarray],
        times: dict[str, float],
        clicks_before: int,
        reports: Sequence[TrainingReport] = (),
    ) -> dict[str, Any]:
        spec, dataset = self.spec, self.parts.dataset
        confusion = confusions[-1]
        images, local = self.pool.locate(added)
        clicks_round = int(self.costs(added).sum())
        row: dict[str, Any] = {"run_id": spec.run_id, "protocol_hash": spec.protocol_hash}
        for kind in RUN_KINDS:
            component = spec.component(kind)
            row[kind] = component.name
            row[f"{kind}_params"] = json.dumps(dict(component.params), sort_keys=True)
            row[f"{kind}_version"] = component.version
        row.update(
            strategy_label=spec.strategy.label,
            aggregation=spec.strategy.params.get("aggregation"),
            seed=spec.seed,
            round=round_index,
            rounds=self.protocol.rounds,
            budget=self.protocol.budget,
            protocol=json.dumps(dataclasses.asdict(self.protocol), sort_keys=True),
            num_classes=dataset.num_classes,
            class_names=list(dataset.classes),
            background_class=dataset.background_class,
            pool_images=len(self.split.pool),
            pool_regions=self.pool.num_regions,
            added_image=images.tolist(),
            added_superpixel=local.tolist(),
            clicks_round=clicks_round,
            clicks_spent=clicks_before + clicks_round,
            labeled_regions=int(self.pool.labeled.sum()),
            labeled_per_class=self.pool.labeled_class_counts().tolist(),
            metric=self.protocol.metric,
            miou=mean_iou(confusion, self.protocol.metric, dataset.background_class),
            stage_miou=[mean_iou(c, self.protocol.metric, dataset.background_class) for c in confusions],
            label_quality=mean_iou(self.pool.dominant_confusion, self.protocol.metric, dataset.background_class),
            iou_per_class=iou_per_class(confusion, self.protocol.metric).tolist(),
            confusion=confusion.reshape(-1).tolist(),
            **convergence_columns(reports),
            **times,
            **self.environment,
            **self.distributions,
        )
        return row

    def checkpoint(self, rows: list[dict[str, Any]]) -> Checkpoint:
        return Checkpoint(self.spec.canonical(), rows, [m.state() for m in self.models])


def _resume_point(partial: Path, spec: RunSpec, results_dir: Path, progress: Progress) -> Checkpoint | None:
    """The run's checkpoint, if it has a sound one; a damaged one is moved to the quarantine."""
    try:
        saved = load_checkpoint(partial, spec.canonical())
    except DamagedCheckpoint as damaged:
        reason = f"checkpoint {damaged.reason}"
        progress.log(
            f"{SetAside(partial, reason, quarantined=quarantine(partial, results_dir, reason)).note()}; "
            f"starting the run over"
        )
        return None
    if saved is None and partial.exists():
        progress.log(f"checkpoint {partial} belongs to another spec; starting the run over")
    return saved


def execute_run(spec: RunSpec, registry: Registry, options: RunOptions, progress: Progress | None = None) -> RunOutcome:
    """Run ``spec`` to completion, resuming a saved checkpoint; skip it if its results exist (unless forced).

    A results file that fails its check is moved to the quarantine and the run done again. A run that fails
    on bad input (an :class:`AlbenchError`) leaves no result or checkpoint behind; one that crashes, is
    killed or cannot write (a :class:`StorageError`) keeps its checkpoint, and rerunning resumes after the
    last completed round.
    """
    progress = progress or NullProgress()
    results_dir = options.results_dir
    path = result_path(results_dir, spec.run_id)
    if path.exists() and not options.force:
        table, aside = read_run_file(path, results_dir)
        if table is not None:
            return RunOutcome(spec, path, "skipped", table)
        progress.log(f"{aside.note() if aside else path}; running it again")
    files.ensure_writable(results_dir)
    partial = checkpoint_path(results_dir, spec.run_id)
    if options.force:
        files.remove(partial)
    try:
        run = _Run(
            spec,
            _instantiate(registry, spec, options.data_root),
            options,
            progress,
            distributions=_distributions(registry, spec),
        )
        saved = _resume_point(partial, spec, results_dir, progress)
        rows = run.restore(saved) if saved is not None else []
        if rows:
            progress.log(f"resuming run {spec.run_id} after round {len(rows) - 1}")
        for round_index in range(len(rows), spec.protocol.rounds):
            clicks_before = int(rows[-1]["clicks_spent"]) if rows else 0
            started = time.perf_counter()
            added = run.query(round_index)
            run.pool.mark_labeled(added)
            queried = time.perf_counter()
            confusions, train_time, eval_time, reports = run.train_and_evaluate(round_index)
            times = {"time_query_s": queried - started, "time_train_s": train_time, "time_eval_s": eval_time}
            rows.append(run.row(round_index, added, confusions, times, clicks_before, reports))
            save_checkpoint(partial, run.checkpoint(rows))
            progress.log(
                f"{spec.strategy.label} seed {spec.seed} round {round_index}: mIoU {100 * rows[-1]['miou']:.1f}, "
                f"{rows[-1]['labeled_regions']} regions labeled; {describe_training(reports, [s.name for s in run.stages])}"
            )
    except StorageError:
        raise  # the disk, not the input: keep the checkpoint to resume from
    except AlbenchError:
        files.remove(partial)
        raise
    write_results(
        path,
        rows,
        {"spec": spec.canonical(), "split": {"pool": list(run.split.pool), "evaluation": list(run.split.evaluation)}},
    )
    files.remove(partial)
    table, aside = read_run_file(path, results_dir)
    if table is None:
        raise StorageError(
            f"results file {path} did not read back as written ({aside.reason if aside else '?'}); "
            f"check the disk, then rerun"
        )
    return RunOutcome(spec, path, "resumed" if saved is not None else "completed", table)
