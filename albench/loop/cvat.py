"""CVAT's "CVAT for images 1.1" XML: a round's regions as masks to label, and the labeled file read back.

Each asked region is a ``<mask>`` (CVAT's run-length encoding over the region's bounding box, row-major,
starting with a run of zeros) with the label ``unlabeled`` and an ``albench_region`` attribute
(``<image id>#<superpixel>``). The annotator gives each mask its class (weak labels: one copy of the mask per
class present). The images are copied beside the XML (``images/``), as CVAT and datumaro expect.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from albench.loop.answers import Answer
from albench.loop.labelstudio import ExportReading

__all__ = ["UNLABELED", "cvat_rle", "read_cvat", "write_cvat"]

UNLABELED = "unlabeled"
ATTRIBUTE = "albench_region"


def cvat_rle(mask: np.ndarray) -> tuple[str, int, int, int, int]:
    """``(rle, left, top, width, height)`` of a boolean mask with at least one pixel set."""
    ys, xs = np.nonzero(mask)
    top, left, bottom, right = int(ys.min()), int(xs.min()), int(ys.max()), int(xs.max())
    crop = mask[top : bottom + 1, left : right + 1].reshape(-1).astype(np.int8)
    change = np.flatnonzero(np.diff(crop)) + 1
    runs = np.diff(np.concatenate([[0], change, [crop.size]])).tolist()
    if crop[0]:
        runs = [0, *runs]
    return ",".join(map(str, runs)), left, top, right - left + 1, bottom - top + 1


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attributes: str) -> ET.Element:
    element = ET.SubElement(parent, tag, attributes)
    if text is not None:
        element.text = text
    return element


def write_cvat(
    path: Path,
    task_name: str,
    classes: Sequence[str],
    images: Sequence[tuple[str, str, tuple[int, int], list[tuple[int, np.ndarray]]]],
) -> None:
    """``images``: (image id, file name under images/, (height, width), [(superpixel, mask)]) per image."""
    root = ET.Element("annotations")
    _sub(root, "version", "1.1")
    task = _sub(_sub(root, "meta"), "task")
    _sub(task, "name", task_name)
    _sub(task, "size", str(len(images)))
    _sub(task, "mode", "annotation")
    labels = _sub(task, "labels")
    for name in [*classes, UNLABELED]:
        label = _sub(labels, "label")
        _sub(label, "name", name)
        _sub(label, "type", "mask")
        attribute = _sub(_sub(label, "attributes"), "attribute")
        for key, value in (
            ("name", ATTRIBUTE),
            ("mutable", "False"),
            ("input_type", "text"),
            ("default_value", ""),
            ("values", ""),
        ):
            _sub(attribute, key, value)
    for frame, (image_id, file_name, (height, width), regions) in enumerate(images):
        image = _sub(root, "image", id=str(frame), name=file_name, width=str(width), height=str(height))
        for superpixel, mask in regions:
            rle, left, top, w, h = cvat_rle(mask)
            shape = _sub(
                image,
                "mask",
                label=UNLABELED,
                source="albench",
                occluded="0",
                rle=rle,
                left=str(left),
                top=str(top),
                width=str(w),
                height=str(h),
                z_order="0",
            )
            _sub(shape, "attribute", f"{image_id}#{superpixel}", name=ATTRIBUTE)
    ET.indent(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)


def read_cvat(
    path: Path, *, asked: dict[tuple[str, int], int], classes: Sequence[str], multiple: bool
) -> ExportReading:
    """The answers of a labeled CVAT XML: the classes given to each region's shapes."""
    reading = ExportReading()
    try:
        root = ET.parse(path).getroot()
    except (ET.ParseError, OSError) as error:
        reading.problems.append(f"{path}: not a readable CVAT XML file ({error})")
        return reading
    if root.tag != "annotations":
        reading.problems.append(
            f"{path}: not a CVAT for images file (root element <{root.tag}>, expected <annotations>)"
        )
        return reading
    owner = root.findtext("meta/task/owner/username") or root.findtext("meta/job/owner/username") or "unknown"
    dumped = root.findtext("meta/dumped") or ""
    given: dict[tuple[str, int], list[str]] = {}
    touched: set[tuple[str, int]] = set()  # regions given any label, valid or not
    for image in root.iter("image"):
        for shape in image:
            where = f"{path}: image {image.get('name')!r}, {shape.tag}"
            value = next((a.text for a in shape.iter("attribute") if a.get("name") == ATTRIBUTE), None)
            if value is None or "#" not in value:
                reading.problems.append(f"{where} has no {ATTRIBUTE} attribute: not an albench region; skipped")
                continue
            image_id, _, number = value.rpartition("#")
            if not number.isdigit() or (image_id, int(number)) not in asked:
                reading.problems.append(f"{where}: region {value} was not asked for by any round of this loop; skipped")
                continue
            label = shape.get("label", "")
            if label == UNLABELED:
                continue
            touched.add((image_id, int(number)))
            if label not in classes:
                reading.problems.append(f"{where}: label {label!r} is not a class of this loop; skipped")
                continue
            given.setdefault((image_id, int(number)), []).append(label)
    mentioned = {a.text for a in root.iter("attribute") if a.get("name") == ATTRIBUTE}
    reading.unanswered = sum(1 for r in asked if r not in touched and f"{r[0]}#{r[1]}" in mentioned)
    for region, names in given.items():
        unique = sorted(set(names), key=classes.index)
        if len(unique) > 1 and not multiple:
            reading.problems.append(
                f"{path}: region {region[0]}#{region[1]} has {len(unique)} classes "
                f"({', '.join(unique)}) but dominant labels take one; skipped"
            )
            continue
        ids = tuple(classes.index(name) for name in unique)
        reading.answers.append(
            Answer(
                answer_id=f"cvat:{region[0]}#{region[1]}:{'+'.join(unique)}:{dumped}",
                round=asked[region],
                image_id=region[0],
                superpixel=region[1],
                classes=ids,
                class_names=tuple(unique),
                annotator=owner,
                answered_at=dumped,
                tool="cvat",
                source=str(path),
            )
        )
    return reading
