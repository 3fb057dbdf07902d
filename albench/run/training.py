"""One round of training on the labeled regions: seeded sampling, augmentation, the stage's loss, EMA."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Sampler

from albench.components import Dataset, RegionLabels, TrainingStage
from albench.determinism import derive_seed, seed_worker, torch_generator
from albench.losses import class_weights
from albench.run.execution import Execution
from albench.run.features import logits_and_features
from albench.run.progress import Progress
from albench.run.protocol import Protocol
from albench.run.superpixel_cache import SuperpixelStore

__all__ = [
    "EarlyStopping",
    "LabeledImages",
    "RegionsOf",
    "SeededSampler",
    "StageModel",
    "TrainingReport",
    "convergence_columns",
    "describe_training",
    "ground_truth_regions",
    "image_tensor",
    "stage_targets",
    "train_round",
    "update_ema",
]


def image_tensor(image: np.ndarray) -> torch.Tensor:
    """``(H, W, 3) uint8`` → ``(3, H, W) float32`` in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).float().div_(255.0)


#: The oracle: an image id → what the annotator said about its regions. The benchmark's oracle is the ground
#: truth (:func:`ground_truth_regions`); an annotation loop's is the answers it imported.
RegionsOf = Callable[[str], RegionLabels]


def ground_truth_regions(dataset: Dataset, store: SuperpixelStore) -> RegionsOf:
    """The benchmark's oracle: each image's mask and cached per-region class histogram."""

    def regions(image_id: str) -> RegionLabels:
        entry = store.get(image_id)
        return RegionLabels(entry.labels, dataset.load(image_id).mask, entry.histogram, dataset.ignore_index)

    return regions


class LabeledImages(torch.utils.data.Dataset[tuple[torch.Tensor, torch.Tensor]]):
    """The pool images that have labeled regions, with targets built by a training stage.

    Indexed by ``(item, seed)`` pairs from :class:`SeededSampler`, so each sample's augmentation is
    seeded by the sampler, whatever the number of workers. Targets of a stage that needs the previous
    stage's predictions are computed beforehand (:func:`stage_targets`) and passed as ``targets``. ``regions``
    is the oracle (default: the ground truth).
    """

    def __init__(
        self,
        dataset: Dataset,
        store: SuperpixelStore,
        stage: TrainingStage,
        items: Sequence[tuple[str, np.ndarray]],
        augment: bool,
        targets: Mapping[str, np.ndarray] | None = None,
        regions: RegionsOf | None = None,
    ) -> None:
        self.dataset = dataset
        self.store = store
        self.stage = stage
        self.items = list(items)
        self.augment = augment
        self.targets = targets
        self.regions = regions or ground_truth_regions(dataset, store)

    def __len__(self) -> int:
        return len(self.items)

    def target(self, image_id: str, labeled: np.ndarray) -> np.ndarray:
        if self.targets is not None:
            return self.targets[image_id]
        return self.stage.target(self.regions(image_id), labeled, None)

    def class_pixel_counts(self, num_classes: int) -> np.ndarray | None:
        """Labeled (non-ignored) target pixels per class over every item, unaugmented; None when the stage's
        targets are not ``(H, W)`` class maps (e.g. weak labels' class sets)."""
        counts = np.zeros(num_classes, dtype=np.int64)
        for image_id, labeled in self.items:
            target = self.target(image_id, labeled)
            if target.ndim != 2:
                return None
            valid = target[(target >= 0) & (target < num_classes)]
            counts += np.bincount(valid.reshape(-1), minlength=num_classes)
        return counts

    def __getitem__(self, key: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
        index, seed = key
        image_id, labeled = self.items[index]
        target = torch.from_numpy(np.ascontiguousarray(self.target(image_id, labeled), dtype=np.int64))
        image = image_tensor(self.dataset.load(image_id).image)
        if self.augment:
            image, target = self.dataset.augment(image, target, torch.Generator().manual_seed(seed))
        return image, target


@torch.inference_mode()
def stage_targets(
    model: nn.Module,
    stage: TrainingStage,
    dataset: Dataset,
    store: SuperpixelStore,
    items: Sequence[tuple[str, np.ndarray]],
    *,
    device: torch.device,
    progress: Progress,
    description: str,
    regions: RegionsOf | None = None,
    execution: Execution | None = None,
) -> dict[str, np.ndarray]:
    """Targets of a stage built from the previous stage's predictions, image by image (unaugmented); with the
    model's pixel features too when the stage asks for them (:mod:`albench.run.features`)."""
    regions_of = regions or ground_truth_regions(dataset, store)
    execution = execution or Execution(device)
    model.eval()
    targets: dict[str, np.ndarray] = {}
    with progress.task(description, total=len(items)) as advance:
        for image_id, labeled in items:
            image = execution.images(torch.from_numpy(np.ascontiguousarray(dataset.load(image_id).image))[None])
            features = None
            with execution.autocast():
                if stage.needs_previous_features:
                    logits, features = logits_and_features(model, image, dataset.num_classes)
                else:
                    logits = model(image)
            probs = torch.softmax(logits.float(), dim=1)[0].cpu().numpy()
            if features is None:
                targets[image_id] = stage.target(regions_of(image_id), labeled, probs)
            else:
                targets[image_id] = stage.target(regions_of(image_id), labeled, probs, features[0].cpu().numpy())
            advance(1)
    return targets


class SeededSampler(Sampler[tuple[int, int]]):
    """``num_samples`` draws of ``(item, augmentation seed)``: successive seeded permutations of the items."""

    def __init__(self, num_items: int, num_samples: int, seed: int) -> None:
        self.num_items = num_items
        self.num_samples = num_samples
        self.seed = seed

    def __len__(self) -> int:
        return self.num_samples

    def __iter__(self) -> Iterator[tuple[int, int]]:
        order_generator = torch_generator(self.seed, "order")
        seeds = torch.randint(0, 2**62, (self.num_samples,), generator=torch_generator(self.seed, "augment"))
        drawn = 0
        while drawn < self.num_samples:
            for item in torch.randperm(self.num_items, generator=order_generator).tolist():
                if drawn == self.num_samples:
                    break
                yield item, int(seeds[drawn])
                drawn += 1


@torch.no_grad()
def update_ema(ema: nn.Module, model: nn.Module, decay: float) -> None:
    """ema ← decay·ema + (1 − decay)·model, parameters and floating buffers alike."""
    ema_state = ema.state_dict()
    for name, value in model.state_dict().items():
        if value.dtype.is_floating_point:
            ema_state[name].mul_(decay).add_(value, alpha=1 - decay)
        else:
            ema_state[name].copy_(value)


class StageModel:
    """One training stage's model, with its exponential moving average when the protocol asks for one.

    The EMA (when present) is what is evaluated and what scores the pool (the OREAL authors' protocol).
    """

    def __init__(self, model: nn.Module, ema_decay: float | None) -> None:
        self.model = model
        self.initial_state = copy.deepcopy(model.state_dict())
        self.ema_decay = ema_decay
        self.ema: nn.Module | None = None
        if ema_decay is not None:
            self.ema = copy.deepcopy(model).eval()
            for parameter in self.ema.parameters():
                parameter.requires_grad_(False)

    @property
    def eval_model(self) -> nn.Module:
        return self.ema if self.ema is not None else self.model

    def reset(self) -> None:
        """Back to the initial weights (rounds that do not warm-start)."""
        self.model.load_state_dict(self.initial_state)
        if self.ema is not None:
            self.ema.load_state_dict(self.initial_state)

    def state(self) -> dict[str, Any]:
        return {"model": self.model.state_dict(), "ema": self.ema.state_dict() if self.ema is not None else None}

    def load(self, state: Mapping[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        if self.ema is not None and state.get("ema") is not None:
            self.ema.load_state_dict(state["ema"])


def _optimizer(model: nn.Module, protocol: Protocol) -> torch.optim.Optimizer:
    if protocol.optimizer == "sgd":
        return torch.optim.SGD(model.parameters(), lr=protocol.lr, momentum=0.9, weight_decay=protocol.weight_decay)
    return torch.optim.Adam(model.parameters(), lr=protocol.lr, weight_decay=protocol.weight_decay)


@dataclass(frozen=True)
class TrainingReport:
    """How one stage trained in one round: steps taken, why it stopped, and its validation curve.

    ``stop``: ``patience`` (validation stopped improving: converged), ``step-cap`` (every ``protocol.steps``
    step ran; with validation that means it was still improving within the last ``patience`` checks) or
    ``no-training`` (no steps or no labeled image).
    """

    steps: int
    stop: str
    val_steps: tuple[int, ...] = ()
    val_scores: tuple[float, ...] = ()

    @property
    def validated(self) -> bool:
        return bool(self.val_scores)

    @property
    def best(self) -> float | None:
        return max(self.val_scores) if self.val_scores else None

    @property
    def best_step(self) -> int | None:
        return self.val_steps[self.val_scores.index(max(self.val_scores))] if self.val_scores else None

    @property
    def last(self) -> float | None:
        return self.val_scores[-1] if self.val_scores else None

    @property
    def converged(self) -> bool | None:
        """True when early stopping ended the round; False when the step cap did; None without validation."""
        if not self.validated:
            return None
        return self.stop == "patience"


def convergence_columns(reports: Sequence[TrainingReport]) -> dict[str, Any]:
    """The results columns of a round's training: per stage (lists, in stage order) why it stopped, its steps
    and its validation curve's best and last; ``converged`` when every stage stopped early (None when some
    stage had no validation, so nothing is known)."""
    verdicts = [report.converged for report in reports]
    return {
        "converged": None if not reports or None in verdicts else all(verdicts),
        "train_stop": [report.stop for report in reports],
        "train_steps": [report.steps for report in reports],
        "val_best": [report.best for report in reports],
        "val_best_step": [report.best_step for report in reports],
        "val_last": [report.last for report in reports],
    }


def describe_training(reports: Sequence[TrainingReport], names: Sequence[str] = ()) -> str:
    """One line for the run's output: did each stage's training converge, and why did it stop."""
    parts = []
    for index, report in enumerate(reports):
        prefix = f"{names[index]}: " if len(reports) > 1 and index < len(names) else ""
        if report.stop == "no-training":
            parts.append(f"{prefix}no training")
        elif not report.validated:
            parts.append(
                f"{prefix}trained {report.steps} steps, convergence unknown (no validation: set protocol.patience)"
            )
        elif report.converged:
            parts.append(
                f"{prefix}converged: stopped at step {report.steps}, validation mIoU best {100 * (report.best or 0):.1f} "
                f"at step {report.best_step}"
            )
        else:
            parts.append(
                f"{prefix}NOT converged: the {report.steps}-step cap ended training with validation mIoU "
                f"{100 * (report.last or 0):.1f} (best {100 * (report.best or 0):.1f} at step {report.best_step})"
            )
    return "; ".join(parts)


class EarlyStopping:
    """Keeps the weights with the best validation score; says when ``patience`` checks brought none better."""

    def __init__(self, stage_model: StageModel, validate: Callable[[nn.Module], float], patience: int) -> None:
        self.stage_model = stage_model
        self.validate = validate
        self.patience = patience
        self.best = -math.inf
        self.best_state: dict[str, Any] | None = None
        self.checks_without_gain = 0
        self.scores: list[float] = []

    def check(self) -> bool:
        """Score the current weights; True when training should stop."""
        score = self.validate(self.stage_model.eval_model)
        self.scores.append(score)
        if score > self.best:
            self.best, self.checks_without_gain = score, 0
            self.best_state = copy.deepcopy(self.stage_model.state())
        else:
            self.checks_without_gain += 1
        self.stage_model.model.train()
        return self.checks_without_gain >= self.patience

    def restore_best(self) -> None:
        if self.best_state is not None:
            self.stage_model.load(self.best_state)


def train_round(
    stage_model: StageModel,
    data: LabeledImages,
    protocol: Protocol,
    *,
    seed: int,
    device: torch.device,
    progress: Progress,
    description: str,
    validate: Callable[[nn.Module], float] | None = None,
) -> TrainingReport:
    """Train the stage's model in place for ``protocol.steps`` steps on ``data`` (and update its EMA).

    ``seed`` must already identify the round and stage: sampling and augmentation derive from it. With
    ``protocol.patience``, ``validate(model)`` (a validation mIoU) is checked every ``protocol.eval_every``
    steps and the round ends early, with the best weights, once it stops improving.
    """
    if protocol.steps == 0 or len(data) == 0:
        return TrainingReport(steps=0, stop="no-training")
    stopper = None
    if protocol.patience is not None and validate is not None:
        stopper = EarlyStopping(stage_model, validate, protocol.patience)
    execution = Execution.of(protocol, device)
    sampler = SeededSampler(len(data), protocol.steps * protocol.batch_size, seed)
    # One pass over a sampler that covers every step: persistent workers would never be reused.
    loader = DataLoader(
        data,
        batch_size=protocol.batch_size,
        sampler=sampler,
        num_workers=protocol.num_workers,
        worker_init_fn=seed_worker,
        generator=torch_generator(seed, "workers"),
        persistent_workers=False,
        pin_memory=execution.pin_memory,
    )
    weights: dict[str, torch.Tensor] = {}
    if protocol.class_weights != "none":
        counts = data.class_pixel_counts(data.dataset.num_classes)
        if counts is not None:
            weights["class_weights"] = execution.to_device(
                torch.from_numpy(class_weights(counts, protocol.class_weights)).float()
            )
    model = stage_model.model
    optimizer = _optimizer(model, protocol)
    model.train()
    steps, stop, checked = 0, "step-cap", []
    with progress.task(description, total=protocol.steps) as advance:
        for step, (images, targets) in enumerate(loader, start=1):
            with execution.autocast():
                logits = model(execution.inputs(images))
            # The loss in float32 (a no-op in fp32): bf16 logits would round the loss and its gradient.
            loss = data.stage.loss(
                logits.float(), execution.to_device(targets), protocol, data.dataset.ignore_index, **weights
            )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()  # type: ignore[no-untyped-call]
            optimizer.step()
            if stage_model.ema is not None and stage_model.ema_decay is not None:
                update_ema(stage_model.ema, model, stage_model.ema_decay)
            advance(1)
            steps = step
            if stopper is not None and (step % protocol.eval_every == 0 or step == protocol.steps):
                checked.append(step)
                if stopper.check():
                    stop = "patience"
                    break
    if stopper is not None:
        stopper.restore_best()
    model.eval()
    scores = tuple(stopper.scores) if stopper is not None else ()
    return TrainingReport(steps=steps, stop=stop, val_steps=tuple(checked), val_scores=scores)


def round_seed(seed: int, round_index: int, stage_index: int) -> int:
    """The training seed of one stage of one round; stage 0 keeps the single-stage seed."""
    if stage_index == 0:
        return derive_seed(seed, "train", round_index)
    return derive_seed(seed, "train", round_index, "stage", stage_index)
