"""Runs in the tools venv: read a CVAT-for-images folder with datumaro and print each mask as JSON."""

import json
import sys

import datumaro as dm
import numpy as np

dataset = dm.Dataset.import_from(sys.argv[1], "cvat")
labels = dataset.categories()[dm.AnnotationType.label]
shapes = []
for item in dataset:
    for annotation in item.annotations:
        pixels = np.flatnonzero(annotation.image.astype(bool).reshape(-1))
        shapes.append(
            {
                "item": item.id,
                "label": labels[annotation.label].name,
                "region": annotation.attributes["albench_region"],
                "pixels": pixels.tolist(),
                "size": list(item.media.size),
            }
        )
print(json.dumps({"formats": dm.Environment().detect_dataset(sys.argv[1]), "shapes": shapes}))
