"""``albench loop``: the benchmark's strategies on your own unlabeled images, with a person as the oracle."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from PIL import Image
from rich.table import Table
from rich.text import Text

from albench.cli._common import RichProgress, err, handle_errors, out
from albench.errors import AlbenchError
from albench.host.registry import load_registry
from albench.loop.answers import LabelBook, read_answers
from albench.loop.imports import import_answers
from albench.loop.round_files import write_round_files
from albench.loop.session import LoopSession
from albench.loop.simulate import answer_tasks, write_example
from albench.loop.workspace import Workspace
from albench.results.metrics import gini
from albench.run.protocol import DEFAULT_CONFIG, ComponentChoice, load_protocol_file
from albench.run.runner import resolve_device
from albench.run.spec import resolve_component, resolve_dataset

app = typer.Typer(
    help="Query your own images, label the regions in Label Studio (or CVAT), train, repeat.", no_args_is_help=True
)

DirArgument = Annotated[Path, typer.Argument(help="The loop directory.")]
DeviceOption = Annotated[str, typer.Option(help="Torch device: cpu, cuda, cuda:N, mps.")]


@app.command("init")
def init(
    directory: DirArgument,
    images: Annotated[Path, typer.Option(help="Folder of images (png, jpg, ...; any subfolders).")],
    classes: Annotated[Path, typer.Option(help="Text file, one class name per line (line i is class i).")],
    protocol: Annotated[
        Path | None, typer.Option("--protocol", "-p", help="Protocol file to start from (as for `albench run`).")
    ] = None,
    backbone: Annotated[str | None, typer.Option(help="Backbone plugin.")] = None,
    superpixels: Annotated[str | None, typer.Option(help="Superpixel method plugin.")] = None,
    labeling: Annotated[
        str | None, typer.Option(help="dominant (one class per region) or weak (every class present).")
    ] = None,
    image_size: Annotated[int, typer.Option(help="Working size (square); 0 keeps the images' own size.")] = 0,
    seed: Annotated[int, typer.Option(help="Seed of the initial random set, training and queries.")] = 0,
) -> None:
    """Create a loop directory: protocol file, image index, classes; superpixels are computed on first query."""
    with handle_errors():
        registry = load_registry()
        config = load_protocol_file(protocol) if protocol else DEFAULT_CONFIG
        for kind, name in (("backbone", backbone), ("superpixels", superpixels), ("labeling", labeling)):
            if name is not None and name != getattr(config, kind).name:
                config = dataclasses.replace(config, **{kind: ComponentChoice(name)})  # type: ignore[arg-type]
            choice = getattr(config, kind)
            resolve_component(registry, kind, choice.name, choice.params)
        if not images.is_dir():
            raise AlbenchError(f"--images {images} is not a folder of images")
        if not classes.is_file():
            raise AlbenchError(f"--classes {classes} does not exist: write one class name per line")
        dataset_params = {"classes": str(classes.resolve()), "image_size": image_size}
        if config.dataset.name == "images":
            dataset_params = {**config.dataset.params, **dataset_params}
        _, dataset = resolve_dataset(registry, "images", dataset_params, images)
        image_ids = list(dataset.split(seed).pool)
        directory = directory.resolve()
        dataset_params["classes"] = str(directory / "classes.txt")
        config = dataclasses.replace(config, dataset=ComponentChoice("images", dataset_params))
        if config.protocol.patience is not None:  # early stopping needs a validation split, which a loop lacks
            config = dataclasses.replace(config, protocol=config.protocol.replace(patience=None))
        workspace = Workspace.create(directory, images, classes, seed, config, image_ids)
        out.print(
            f"loop {workspace.root}: {len(image_ids)} images, {len(dataset.classes)} classes "
            f"({', '.join(dataset.classes)}), labeling {config.labeling.name}, seed {seed}"
        )
        out.print(f"next: albench loop query {directory} --strategy oreal --budget 50")


@app.command("query")
def query(
    directory: DirArgument,
    strategy: Annotated[
        str, typer.Option("--strategy", "-s", help="Query strategy (round 0 is always the seeded random set).")
    ] = "oreal",
    budget: Annotated[int | None, typer.Option(help="Clicks this round, Q (default: the protocol's).")] = None,
    again: Annotated[
        bool, typer.Option("--again", help="Query a round anew that was queried but not trained.")
    ] = False,
    device: DeviceOption = "cpu",
) -> None:
    """Choose the next round's regions; write Label Studio tasks + config, CVAT XML and previews."""
    with handle_errors():
        resolve_device(device)
        workspace = Workspace(directory)
        with RichProgress() as progress:
            session = LoopSession(
                workspace, load_registry(), strategy=strategy, budget=budget, device=device, progress=progress
            )
            round_index = session.trained_rounds
            if any(s.round == round_index for s in workspace.selections()) and not again:
                raise AlbenchError(
                    f"round {round_index} was already queried ({workspace.round_dir(round_index)}); "
                    f"import its labels and run `albench loop train {directory}`, or pass --again"
                )
            selection = session.query()
            workspace.save_selection(selection)
            files = write_round_files(session, selection)
        out.print(
            f"round {round_index}: {len(selection.regions)} regions ({sum(selection.costs)} clicks) chosen by "
            f"{selection.strategy if round_index else 'the seeded random initial set'}"
        )
        out.print(f"  Label Studio: create a project with the labeling config {files.config}, import {files.tasks}")
        out.print(f"  CVAT: {files.cvat} (images beside it)   previews: {files.previews}")
        out.print(f"next: label them, export the project as JSON, then albench loop import {directory} EXPORT.json")


@app.command("import")
def import_(
    directory: DirArgument,
    export: Annotated[Path, typer.Argument(help="Label Studio JSON export, or a CVAT for images .xml file.")],
) -> None:
    """Record the answers of an export (checked against what was asked; nothing is recorded twice)."""
    with handle_errors():
        workspace = Workspace(directory)
        config = workspace.config()
        classes = _classes(workspace)
        outcome = import_answers(workspace, export, classes, multiple=config.labeling.name == "weak")
        for problem in outcome.problems:
            err.print(Text("problem: ", style="yellow") + Text(problem))
        out.print(
            f"{export}: {len(outcome.recorded)} answers recorded, {outcome.duplicates} already recorded, "
            f"{outcome.unanswered} tasks not answered yet, {len(outcome.problems)} problems"
        )
        if outcome.problems:
            raise typer.Exit(1)


@app.command("train")
def train(
    directory: DirArgument,
    val: Annotated[
        Path | None, typer.Option(help="Folder with images/ and masks/ (label PNGs) to measure mIoU on; remembered.")
    ] = None,
    device: DeviceOption = "cpu",
) -> None:
    """Train on every labeled region with the benchmark's training (all stages); save the model."""
    with handle_errors():
        resolve_device(device)
        workspace = Workspace(directory)
        with RichProgress() as progress:
            session = LoopSession(workspace, load_registry(), device=device, progress=progress)
            if val is not None:
                session.validation_dataset(val)  # a wrong folder fails before training, and is not remembered
                workspace.remember_val(val)
            outcome = session.train(workspace.selections(), workspace.val)
        if outcome.unanswered:
            err.print(
                f"note: {outcome.unanswered} regions of round {outcome.round} have no answer yet; they stay "
                "unlabeled (a later import adds them to the next training)"
            )
        quality = outcome.row["val_miou"]
        shown = f", validation mIoU {100 * quality:.1f}" if quality is not None else " (no --val: quality not measured)"
        out.print(
            f"round {outcome.round}: trained on {outcome.row['labeled_regions']} regions (+{outcome.added}){shown}"
        )
        out.print(f"next: albench loop query {directory}")


@app.command("status")
def status(directory: DirArgument) -> None:
    """Rounds, regions and clicks per class, model quality and class-balance Gini."""
    with handle_errors():
        workspace = Workspace(directory)
        classes = _classes(workspace)
        selections = workspace.selections()
        book = LabelBook(read_answers(workspace.labels_path))
        rows = _model_rows(workspace)
        rounds = Table(title=f"loop {workspace.root}", title_justify="left")
        for column in ("round", "strategy", "asked", "answered", "trained on", "clicks", "val mIoU"):
            rounds.add_column(column, justify="right")
        for selection in selections:
            row = rows[selection.round] if selection.round < len(rows) else None
            answered = sum(region in book for region in selection.regions)
            quality = row.get("val_miou") if row else None
            assert quality is None or isinstance(quality, float)
            rounds.add_row(
                str(selection.round),
                selection.strategy if selection.round else "random (initial)",
                str(len(selection.regions)),
                str(answered),
                str(row["labeled_regions"]) if row else "–",
                str(row["clicks_spent"]) if row else "–",
                f"{100 * quality:.1f}" if quality is not None else "–",
            )
        out.print(rounds)
        regions = np.zeros(len(classes), dtype=np.int64)
        clicks = np.zeros(len(classes), dtype=np.int64)
        skipped = 0
        for answer in book.latest.values():
            if not answer.classes:
                skipped += 1
            for c in answer.classes:
                clicks[c] += 1
            if answer.classes:
                regions[min(answer.classes)] += 1
        per_class = Table(title="labels per class", title_justify="left")
        for column in ("class", "regions", "clicks", "share"):
            per_class.add_column(column, justify="right" if column != "class" else "left")
        total = max(int(regions.sum()), 1)
        for c, name in enumerate(classes):
            per_class.add_row(name, str(regions[c]), str(clicks[c]), f"{100 * regions[c] / total:.1f}%")
        out.print(per_class)
        balance = f"{gini(regions):.3f}" if regions.sum() else "–"
        out.print(
            f"class-balance Gini of the labeled regions: {balance} (0 = balanced); "
            f"{len(book.latest)} regions answered, {skipped} skipped as unlabelable"
        )


@app.command("predict")
def predict(
    directory: DirArgument,
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the predicted masks (PNG, pixel value = class).")],
    device: DeviceOption = "cpu",
) -> None:
    """Write the current model's predicted mask of every pool image, at the image's own size."""
    with handle_errors():
        resolve_device(device)
        workspace = Workspace(directory)
        with RichProgress() as progress:
            session = LoopSession(workspace, load_registry(), device=device, progress=progress)
            with progress.task("predict", total=len(workspace.image_ids)) as advance:
                for image_id in workspace.image_ids:
                    mask = session.predict(image_id)
                    height, width = session.dataset.original_size(image_id)  # type: ignore[attr-defined]
                    picture = Image.fromarray(mask)
                    if mask.shape != (height, width):
                        picture = picture.resize((width, height), Image.Resampling.NEAREST)
                    path = out_dir / f"{image_id}.png"
                    path.parent.mkdir(parents=True, exist_ok=True)
                    picture.save(path)
                    advance(1)
        out.print(f"{len(workspace.image_ids)} masks written to {out_dir} (round {session.trained_rounds - 1} model)")


@app.command("answer")
def answer(
    directory: DirArgument,
    masks: Annotated[Path, typer.Option(help="Folder of full masks, <image id>.png, to answer from.")],
    out_file: Annotated[
        Path, typer.Option("--out", help="Where to write the answers (Label Studio JSON export format).")
    ],
    annotator: Annotated[str, typer.Option(help="Who the export says answered.")] = "simulated@albench",
) -> None:
    """A simulated annotator: answer the last queried round from full masks, as the benchmark's oracle would."""
    with handle_errors():
        workspace = Workspace(directory)
        selections = workspace.selections()
        if not selections:
            raise AlbenchError(f"no round of {directory} has been queried yet: run `albench loop query` first")
        session = LoopSession(workspace, load_registry())
        exported = answer_tasks(session, selections[-1].round, masks, annotator)
        out_file.parent.mkdir(parents=True, exist_ok=True)
        out_file.write_text(json.dumps(exported), encoding="utf-8")
        out.print(f"{len(exported)} tasks of round {selections[-1].round} answered into {out_file}")


@app.command("example")
def example(
    out_dir: Annotated[Path, typer.Argument(help="Where to write the example folder.")],
    protocol: Annotated[
        Path | None, typer.Option("--protocol", "-p", help="Protocol file whose dataset to write (default: the toy).")
    ] = None,
    images: Annotated[int | None, typer.Option(help="Number of toy scenes (pool + validation).")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the benchmark's split (use the same for the loop).")] = 0,
    data_root: Annotated[Path | None, typer.Option(help="Root directory of an on-disk dataset.")] = None,
) -> None:
    """Write a benchmark dataset's pool as a folder of images + classes.txt (+ masks/, val/) to try the loop."""
    with handle_errors():
        registry = load_registry()
        config = load_protocol_file(protocol) if protocol else DEFAULT_CONFIG
        params = {**config.dataset.params, **({"num_images": images} if images is not None else {})}
        _, dataset = resolve_dataset(registry, config.dataset.name, params, data_root)
        pool, evaluation = write_example(out_dir, dataset, seed)
        out.print(
            f"{out_dir}: images/ ({pool} pool images), classes.txt, masks/ (for `albench loop answer`), "
            f"val/ ({evaluation} images with masks)"
        )


def _classes(workspace: Workspace) -> tuple[str, ...]:
    return workspace.classes


def _model_rows(workspace: Workspace) -> list[dict[str, object]]:
    import torch

    if not workspace.model_path.exists():
        return []
    payload = torch.load(workspace.model_path, map_location="cpu", weights_only=True)
    return list(payload.get("rows", []))
