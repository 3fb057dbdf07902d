"""`albench loop import`: read a Label Studio JSON export or a CVAT XML file and record its valid answers."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from albench.errors import AlbenchError
from albench.loop.answers import Answer, record_answers
from albench.loop.cvat import read_cvat
from albench.loop.labelstudio import ExportReading, load_json, read_export
from albench.loop.workspace import Workspace

__all__ = ["ImportOutcome", "import_answers"]


@dataclass(frozen=True)
class ImportOutcome:
    recorded: list[Answer]
    duplicates: int
    unanswered: int
    problems: list[str]


def import_answers(workspace: Workspace, path: Path, classes: tuple[str, ...], multiple: bool) -> ImportOutcome:
    """Check every answer of ``path`` against the regions asked for; record the valid ones not recorded yet."""
    if not path.is_file():
        raise AlbenchError(
            f"{path} does not exist: pass the JSON file Label Studio exported (Export → JSON) or a "
            "CVAT for images XML file"
        )
    asked: dict[tuple[str, int], int] = {}
    for selection in workspace.selections():
        for region in selection.regions:
            asked.setdefault(region, selection.round)
    if not asked:
        raise AlbenchError(f"no round of {workspace.root} has been queried yet: run `albench loop query` first")
    reading: ExportReading
    if path.suffix.lower() == ".xml":
        reading = read_cvat(path, asked=asked, classes=classes, multiple=multiple)
    else:
        data = load_json(path)
        if data is None:
            raise AlbenchError(
                f"{path} is not JSON: export the Label Studio project in the JSON format, or pass a "
                "CVAT for images .xml file"
            )
        reading = read_export(path, data, loop_id=workspace.loop_id, asked=asked, classes=classes, multiple=multiple)
    recorded, duplicates = record_answers(workspace.labels_path, reading.answers)
    return ImportOutcome(recorded, duplicates, reading.unanswered, reading.problems)
