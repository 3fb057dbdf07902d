"""The labels a person gave, one row per answer, in ``labels.parquet`` with who and when.

An answer names a region by (image id, superpixel id), the round that asked for it, the classes chosen
(one for dominant labels, a set for weak labels, none when the annotator skipped an unlabelable region), who
answered and when (as the export says), and the answer's id in its tool. The id makes importing the same
export twice record nothing twice. When a region has several answers, the last one recorded counts.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from albench._atomic import atomic_write

__all__ = ["Answer", "LabelBook", "read_answers", "record_answers"]

SCHEMA = pa.schema(
    [
        ("answer_id", pa.string()),
        ("round", pa.int64()),
        ("image_id", pa.string()),
        ("superpixel", pa.int64()),
        ("classes", pa.list_(pa.int64())),
        ("class_names", pa.list_(pa.string())),
        ("annotator", pa.string()),
        ("answered_at", pa.string()),
        ("tool", pa.string()),
        ("source", pa.string()),
    ]
)


@dataclass(frozen=True)
class Answer:
    """One region's label as one annotator gave it."""

    answer_id: str
    round: int
    image_id: str
    superpixel: int
    classes: tuple[int, ...]
    class_names: tuple[str, ...]
    annotator: str
    answered_at: str
    tool: str
    source: str

    @property
    def region(self) -> tuple[str, int]:
        return self.image_id, self.superpixel


def read_answers(path: Path) -> list[Answer]:
    """Every recorded answer, in the order recorded (none when the file does not exist yet)."""
    if not path.exists():
        return []
    rows = pq.read_table(path).to_pylist()
    return [
        Answer(**{**row, "classes": tuple(row["classes"]), "class_names": tuple(row["class_names"])}) for row in rows
    ]


def record_answers(path: Path, answers: Iterable[Answer]) -> tuple[list[Answer], int]:
    """Append the answers whose id is not recorded yet; return them and how many were already there."""
    existing = read_answers(path)
    seen = {answer.answer_id for answer in existing}
    new: list[Answer] = []
    duplicates = 0
    for answer in answers:
        if answer.answer_id in seen:
            duplicates += 1
            continue
        seen.add(answer.answer_id)
        new.append(answer)
    if new:
        rows = [{**asdict(a), "classes": list(a.classes), "class_names": list(a.class_names)} for a in existing + new]
        table = pa.Table.from_pylist(rows, schema=SCHEMA)
        atomic_write(path, lambda temporary: pq.write_table(table, temporary))
    return new, duplicates


class LabelBook:
    """The answer that counts for each region: the last one recorded."""

    def __init__(self, answers: Sequence[Answer]) -> None:
        self.latest: dict[tuple[str, int], Answer] = {}
        for answer in answers:
            self.latest[answer.region] = answer

    def __contains__(self, region: tuple[str, int]) -> bool:
        return region in self.latest

    def classes(self, image_id: str, superpixel: int) -> tuple[int, ...]:
        return self.latest[(image_id, superpixel)].classes

    def by_image(self) -> dict[str, dict[int, tuple[int, ...]]]:
        """Image id → superpixel id → chosen classes."""
        images: dict[str, dict[int, tuple[int, ...]]] = {}
        for (image_id, superpixel), answer in self.latest.items():
            images.setdefault(image_id, {})[superpixel] = answer.classes
        return images
