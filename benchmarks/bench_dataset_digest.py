"""What the dataset content digest costs: the first run reads every byte, later runs only stat the files.

    python benchmarks/bench_dataset_digest.py [--files 2000] [--size-kib 256]

Writes a synthetic dataset of random files in a temporary directory and times ``content_digest`` cold (no
cache), warm (cache holds every file) and after one file changed. The first, cold, read also comes from the
page cache here (the files were just written), so it measures hashing, not the disk.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from albench.run.dataset_digest import content_digest


def _timed(function) -> float:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--size-kib", type=int, default=256)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root, cache = Path(tmp) / "data", Path(tmp) / "cache"
        root.mkdir()
        files = []
        for index in range(args.files):
            path = root / f"{index:06d}.png"
            path.write_bytes(os.urandom(args.size_kib * 1024))
            files.append(path)
        total_gib = args.files * args.size_kib / 2**20
        cold = _timed(lambda: content_digest(files, root, cache))
        warm = _timed(lambda: content_digest(files, root, cache))
        files[0].write_bytes(os.urandom(args.size_kib * 1024))
        one_changed = _timed(lambda: content_digest(files, root, cache))
    print(f"{args.files} files of {args.size_kib} KiB ({total_gib:.2f} GiB)")
    print("| pass | seconds | GiB/s |")
    print("|---|---:|---:|")
    print(f"| cold: every file read and hashed | {cold:.2f} | {total_gib / cold:.2f} |")
    print(f"| warm: cached, files only stat'ed | {warm:.3f} | – |")
    print(f"| one file changed | {one_changed:.3f} | – |")


if __name__ == "__main__":
    main()
