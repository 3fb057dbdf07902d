"""Label Studio: the tasks and labeling config a round writes, and reading the JSON export back.

One task per region. Its ``image`` is a PNG data URI of the image with the region outlined (self-contained:
no file serving, no network), and ``albench_*`` fields say which loop, round, image and superpixel it asks
about. The config has one ``Choices`` over the classes: single choice for dominant labels, multiple for weak
labels. The export (Label Studio's "JSON" format) gives per task the annotations with ``completed_by`` (a
user id, or ``{"email": ...}`` in snapshot exports), ``created_at`` and ``was_cancelled`` (a skipped task,
recorded as a region with no class: it costs its click and trains nothing).
"""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

import numpy as np
from PIL import Image

from albench.loop.answers import Answer

__all__ = ["ExportReading", "labeling_config", "png_data_uri", "read_export", "task"]

FROM_NAME = "label"
TO_NAME = "image"


def labeling_config(classes: Sequence[str], multiple: bool) -> str:
    """The XML labeling config: the outlined region and one (or several) class choices."""
    question = (
        "Which classes appear inside the outlined region? Tick every one."
        if multiple
        else "Which class covers most of the outlined region?"
    )
    choices = "\n".join(f"    <Choice value={quoteattr(name)}/>" for name in classes)
    return (
        "<View>\n"
        f'  <Image name="{TO_NAME}" value="$image" zoom="true" zoomControl="true"/>\n'
        f"  <Header value={quoteattr(question)}/>\n"
        f'  <Choices name="{FROM_NAME}" toName="{TO_NAME}" choice="{"multiple" if multiple else "single"}" '
        'showInline="true" required="true">\n'
        f"{choices}\n"
        "  </Choices>\n"
        "</View>\n"
    )


def png_data_uri(picture: np.ndarray) -> str:
    buffer = io.BytesIO()
    Image.fromarray(picture).save(buffer, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def task(loop_id: str, round_index: int, image_id: str, superpixel: int, picture: np.ndarray) -> dict[str, Any]:
    """One Label Studio task asking about one region."""
    return {
        "data": {
            "image": png_data_uri(picture),
            "albench_loop": loop_id,
            "albench_round": round_index,
            "albench_image": image_id,
            "albench_superpixel": superpixel,
            "albench_region": f"{image_id}#{superpixel}",
        }
    }


@dataclass
class ExportReading:
    """What an export held: valid answers, one message per problem, and tasks nobody answered yet."""

    answers: list[Answer] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    unanswered: int = 0


def _annotator(value: Any) -> str:
    if isinstance(value, dict):
        return str(value.get("email") or value.get("id") or "unknown")
    return f"user {value}" if value is not None else "unknown"


def read_export(
    path: Path, data: Any, *, loop_id: str, asked: dict[tuple[str, int], int], classes: Sequence[str], multiple: bool
) -> ExportReading:
    """Check every answer of a parsed JSON export against the regions asked for (region → round)."""
    reading = ExportReading()
    if not isinstance(data, list):
        reading.problems.append(
            f"{path}: not a Label Studio JSON export (expected a list of tasks); export with the JSON format"
        )
        return reading
    for position, item in enumerate(data):
        where = f"{path}: task {item.get('id', f'#{position}') if isinstance(item, dict) else f'#{position}'}"
        fields = item.get("data") if isinstance(item, dict) else None
        if not isinstance(fields, dict) or "albench_image" not in fields or "albench_superpixel" not in fields:
            reading.problems.append(f"{where}: not an albench task (no data.albench_image/albench_superpixel); skipped")
            continue
        if fields.get("albench_loop") != loop_id:
            reading.problems.append(
                f"{where}: belongs to another loop ({fields.get('albench_loop')!r}, this is {loop_id!r}); skipped"
            )
            continue
        try:
            region = (str(fields["albench_image"]), int(fields["albench_superpixel"]))
        except (TypeError, ValueError):
            reading.problems.append(
                f"{where}: albench_superpixel {fields['albench_superpixel']!r} is not an integer; skipped"
            )
            continue
        if region not in asked:
            reading.problems.append(
                f"{where}: region {region[0]}#{region[1]} was not asked for by any round of this loop; skipped"
            )
            continue
        annotations = [a for a in item.get("annotations") or [] if isinstance(a, dict)]
        if not annotations:
            reading.unanswered += 1
            continue
        for annotation in annotations:
            answer = _answer(where, annotation, region, asked[region], classes, multiple, path, reading.problems)
            if answer is not None:
                reading.answers.append(answer)
    return reading


def _answer(
    where: str,
    annotation: dict[str, Any],
    region: tuple[str, int],
    round_index: int,
    classes: Sequence[str],
    multiple: bool,
    path: Path,
    problems: list[str],
) -> Answer | None:
    where = f"{where}, annotation {annotation.get('id', '?')}"
    chosen: list[str] = []
    if not annotation.get("was_cancelled"):
        for result in annotation.get("result") or []:
            if isinstance(result, dict) and result.get("type") == "choices" and result.get("from_name") == FROM_NAME:
                chosen += list((result.get("value") or {}).get("choices") or [])
        if not chosen:
            problems.append(f"{where}: no class chosen (choose one, or skip the task if no class fits); skipped")
            return None
    unknown = [name for name in chosen if name not in classes]
    if unknown:
        problems.append(
            f"{where}: {', '.join(map(repr, unknown))} is not a class of this loop ({', '.join(classes)}); skipped"
        )
        return None
    if len(chosen) > 1 and not multiple:
        problems.append(
            f"{where}: {len(chosen)} classes chosen ({', '.join(chosen)}) but dominant labels take one; skipped"
        )
        return None
    ids = tuple(sorted({classes.index(name) for name in chosen}))
    return Answer(
        answer_id=f"label-studio:{annotation.get('id')}:{annotation.get('updated_at') or annotation.get('created_at')}",
        round=round_index,
        image_id=region[0],
        superpixel=region[1],
        classes=ids,
        class_names=tuple(classes[i] for i in ids),
        annotator=_annotator(annotation.get("completed_by")),
        answered_at=str(annotation.get("created_at") or ""),
        tool="label-studio",
        source=str(path),
    )


def load_json(path: Path) -> Any:
    """The parsed export, or ``None`` when it is not JSON (the caller reports it)."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
