"""``endovis2018``: the MICCAI 2018 Robotic Scene Segmentation challenge (Allan et al. 2020, arXiv:2001.11190).

Layout (``--data-root``)::

    seq_<n>/left_frames/<frame>.png      1280×1024 RGB frames (right_frames/ is not used)
    seq_<n>/labels/<frame>.png           colour-coded labels, one colour per class
    seq_<n>/labels.json                  optional: [{"name": ..., "color": [r, g, b], "classid": ...}, ...]

Sequences may also sit one folder deeper (``miccai_challenge_2018_release_1/seq_1/...``). Sequences under
``test/`` (``test_dir``), when that folder exists, are the test set; the training set is the sequences under
``train/`` (``train_dir``) if that folder exists, else every other sequence. Without a test folder, mIoU is
measured on the validation fold. Ids are ``<sequence path>/<frame>``, e.g. ``train/seq_1/frame000``.

Colours: the sequence's ``labels.json`` when present (else one in its parent folder or the root), matched to
the classes by name; otherwise the official 12-class map below, as distributed with the challenge data and
reproduced identically in several public loaders (e.g. DKFZ's ``mml`` dataset creator
``endovis18_rob_instr``, and mmsegmentation-based ``Endovis2018Dataset`` palettes). A colour found in no map is
an error naming the file and the pixel. Background (``background-tissue``) is class 0.

Splits: a seeded 6-fold split of the training set by whole sequence (``split_by = "sequence"``: consecutive
frames are near duplicates, so a sequence never straddles pool and validation) or by frame. Frames are
resized to ``image_size``² (224 in the paper) bilinearly, labels with nearest neighbour.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from albench import Register, hookimpl
from albench.errors import DatasetError

from ._base import FileDataset, ImageRecord, check_crop_params, check_folds, check_probability, check_size_param
from ._io import read_colour_labels
from ._transforms import resized_crop_flip

# The official class colours (see the module docstring for the sources checked).
OFFICIAL_COLOURS: tuple[tuple[str, tuple[int, int, int]], ...] = (
    ("background-tissue", (0, 0, 0)),
    ("instrument-shaft", (0, 255, 0)),
    ("instrument-clasper", (0, 255, 255)),
    ("instrument-wrist", (125, 255, 12)),
    ("kidney-parenchyma", (255, 55, 0)),
    ("covered-kidney", (24, 55, 125)),
    ("thread", (187, 155, 25)),
    ("clamps", (0, 255, 125)),
    ("suturing-needle", (255, 255, 125)),
    ("suction-instrument", (123, 15, 175)),
    ("small-intestine", (124, 155, 5)),
    ("ultrasound-probe", (12, 255, 141)),
)
CLASSES = tuple(name for name, _ in OFFICIAL_COLOURS)
# Other spellings of class names met in labels.json files and loaders.
_ALIASES = {"background": "background-tissue", "intestine": "small-intestine", "us-probe": "ultrasound-probe"}
LAYOUT = "expected seq_<n>/left_frames/*.png and seq_<n>/labels/*.png (optionally under train/ and test/)"

ColourMap = dict[int, int]  # packed 0xRRGGBB → class index


def _pack(colours: np.ndarray) -> np.ndarray:
    """``(..., 3) uint8`` → ``(...) int64`` 0xRRGGBB."""
    c = colours.astype(np.int64)
    return (c[..., 0] << 16) | (c[..., 1] << 8) | c[..., 2]


def _unpack(code: int) -> tuple[int, int, int]:
    return (code >> 16) & 255, (code >> 8) & 255, code & 255


OFFICIAL_MAP: ColourMap = {
    int(_pack(np.array(colour, dtype=np.uint8))): index for index, (_, colour) in enumerate(OFFICIAL_COLOURS)
}


def _class_index(name: object, path: Path) -> int:
    key = re.sub(r"[\s_]+", "-", str(name).strip().lower())
    key = _ALIASES.get(key, key)
    if key not in CLASSES:
        raise DatasetError(
            f"{path} names class {name!r}, which is not one of the EndoVis 2018 classes ({', '.join(CLASSES)})"
        )
    return CLASSES.index(key)


def parse_labels_json(path: Path) -> ColourMap:
    """The colour map of an EndoVis ``labels.json``: a list of ``{"name", "color": [r, g, b]}`` entries."""
    try:
        entries = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise DatasetError(f"{path} is not a readable JSON file: {error}") from None
    if not isinstance(entries, list):
        raise DatasetError(f'{path} must hold a list of {{"name", "color"}} entries')
    colour_map: ColourMap = {}
    for entry in entries:
        colour = entry.get("color") if isinstance(entry, dict) else None
        if not (
            isinstance(colour, list) and len(colour) == 3 and all(isinstance(v, int) and 0 <= v <= 255 for v in colour)
        ):
            raise DatasetError(f'{path}: entry {entry!r} needs a "color" of three integers 0..255')
        index = _class_index(entry.get("name"), path)
        code = int(_pack(np.array(colour, dtype=np.uint8)))
        if colour_map.get(code, index) != index:
            raise DatasetError(f"{path}: colour {tuple(colour)} is given to two classes")
        colour_map[code] = index
    return colour_map


def colours_to_classes(colours: np.ndarray, colour_map: ColourMap, path: Path, source: str) -> np.ndarray:
    """``(H, W, 3)`` label colours → ``(H, W) int64`` class indices; an unmapped colour is an error.

    One comparison per mapped colour (a dozen), which is faster than sorting the pixels' colours."""
    codes = _pack(colours)
    classes = np.full(codes.shape, -1, dtype=np.int64)
    for code, index in colour_map.items():
        classes[codes == code] = index
    unmapped = np.argwhere(classes < 0)
    if unmapped.size:
        row, col = (int(v) for v in unmapped[0])
        raise DatasetError(
            f"label file {path} has colour {_unpack(int(codes[row, col]))} at pixel (row {row}, column "
            f"{col}), which is not in the class colour map ({source})"
        )
    return classes


def _natural_key(path: Path) -> list[object]:
    """Sort seq_2 before seq_10."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path.as_posix())]


@dataclass(frozen=True)
class EndoVisParams:
    """Parameters of ``endovis2018``. Augmentation (supplementary §3.2): a random resized crop
    back to the working size, then a flip.

    Attributes:
        image_size: the working resolution (square).
        folds: k of the k-fold pool/validation split.
        split_by: split by whole ``sequence`` or by ``frame``.
        train_dir: the subfolder of the root holding the training sequences, when the root has one.
        test_dir: the subfolder of the root holding the test sequences, when the root has one.
        crop_scale: the range of the crop's area fraction.
        crop_ratio: the range of the crop's aspect ratio.
        flip_probability: the chance of a horizontal flip.
    """

    image_size: int = 224
    folds: int = 6
    split_by: Literal["sequence", "frame"] = "sequence"
    train_dir: str = "train"
    test_dir: str = "test"
    crop_scale: tuple[float, ...] = (0.85, 1.0)
    crop_ratio: tuple[float, ...] = (3 / 4, 4 / 3)
    flip_probability: float = 0.5

    def __post_init__(self) -> None:
        check_size_param(self.image_size)
        check_folds(self.folds)
        check_probability("flip_probability", self.flip_probability)
        check_crop_params(self.crop_scale, self.crop_ratio)


class EndoVis2018(FileDataset):
    """12 classes (background-tissue = 0); every pixel is labeled, so nothing is void unless a mask says so."""

    name = "endovis2018"
    split_and_augmentation_params = frozenset({"folds", "split_by", "crop_scale", "crop_ratio", "flip_probability"})
    version = "1"
    Params = EndoVisParams
    classes = CLASSES
    ignore_index = 255
    background_class = 0
    layout = LAYOUT

    def __init__(self, params: EndoVisParams, root: Path | str | None = None) -> None:
        super().__init__(params, root)
        self._colour_files: dict[str, Path | None] = {}  # image id → its labels.json (None: official map)
        self._colour_maps: dict[Path, ColourMap] = {}

    def _sequences(self, folder: Path, exclude: Path | None = None) -> list[Path]:
        """``seq_*`` folders in ``folder`` or one level deeper (release folders), except under ``exclude``."""
        found = [p for p in (*folder.glob("seq_*"), *folder.glob("*/seq_*")) if p.is_dir()]
        if exclude is not None:
            found = [p for p in found if exclude not in p.parents]
        return sorted(found, key=_natural_key)

    def _colour_file(self, sequence: Path, root: Path) -> Path | None:
        for folder in (sequence, sequence.parent, root):
            if (folder / "labels.json").is_file():
                return folder / "labels.json"
        return None

    def _scan(self, root: Path) -> list[ImageRecord]:
        train_folder, test_folder = root / self.params.train_dir, root / self.params.test_dir
        test_sequences = self._sequences(test_folder) if test_folder.is_dir() else []
        if train_folder.is_dir():
            train_sequences = self._sequences(train_folder)
        else:  # sequences directly in the root (or in release folders), the test folder aside
            train_folder, train_sequences = root, self._sequences(root, exclude=test_folder)
        if not train_sequences:
            raise DatasetError(f"dataset 'endovis2018' found no seq_* folders in {train_folder} ({LAYOUT})")
        records: list[ImageRecord] = []
        for sequences, is_test in ((train_sequences, False), (test_sequences, True)):
            for sequence in sequences:
                frames_dir = sequence / "left_frames"
                if not frames_dir.is_dir():
                    raise DatasetError(f"sequence {sequence} has no left_frames/ folder ({LAYOUT})")
                sequence_id = sequence.relative_to(root).as_posix()
                colour_file = self._colour_file(sequence, root)
                for frame in sorted(frames_dir.glob("*.png"), key=_natural_key):
                    image_id = f"{sequence_id}/{frame.stem}"
                    group = sequence_id if self.params.split_by == "sequence" else image_id
                    records.append(ImageRecord(image_id, frame, sequence / "labels" / frame.name, group, is_test))
                    self._colour_files[image_id] = colour_file
        return records

    def colour_map(self, image_id: str) -> tuple[ColourMap, str]:
        """The colour map of an image and where it comes from (for messages)."""
        _ = self.records  # the index knows each image's labels.json
        path = self._colour_files[image_id]
        if path is None:
            return OFFICIAL_MAP, "the official EndoVis 2018 colours"
        if path not in self._colour_maps:
            self._colour_maps[path] = parse_labels_json(path)
        return self._colour_maps[path], str(path)

    def _read_labels(self, record: ImageRecord) -> np.ndarray:
        colour_map, source = self.colour_map(record.image_id)
        return colours_to_classes(read_colour_labels(record.mask), colour_map, record.mask, source)

    def _fingerprint_files(self, record: ImageRecord) -> tuple[Path, ...]:
        colour_file = self._colour_files.get(record.image_id)
        return (record.image, record.mask) + ((colour_file,) if colour_file is not None else ())

    def augment(
        self, image: torch.Tensor, target: torch.Tensor, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Random resized crop, scale (0.85, 1), ratio (3/4, 4/3), back to the size, flip 0.5 (supplementary §3.2)."""
        p = self.params
        return resized_crop_flip(
            image,
            target,
            generator,
            scale=(p.crop_scale[0], p.crop_scale[1]),
            ratio=(p.crop_ratio[0], p.crop_ratio[1]),
            flip_probability=p.flip_probability,
        )


@hookimpl
def register_datasets(register: Register) -> None:
    register(EndoVis2018)
