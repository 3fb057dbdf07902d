"""One model of the results row: the schema the writer enforces, the README documents and old files still meet."""

from __future__ import annotations

import re
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from albench.components import RUN_KINDS
from albench.results.runs import load_runs
from albench.results.store import SCHEMA, check_row, read_results, write_results

README = Path(__file__).resolve().parent.parent / "README.md"


def _type_name(data_type: pa.DataType) -> str:
    if pa.types.is_list(data_type):
        return f"list<{_type_name(data_type.value_type)}>"
    return {"double": "float64"}.get(str(data_type), str(data_type))


def _readme_columns() -> dict[str, str]:
    """Column name → type as the README's results-schema table gives them (``<kind>`` expanded)."""
    text = README.read_text()
    section = text[text.index("## Results schema") :]
    section = section[: section.index("\n## ", 1)]
    columns: dict[str, str] = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) < 3 or not cells[0].startswith("`"):
            continue
        names = re.findall(r"`([^`]+)`", cells[0])
        expanded = [
            name.replace("<kind>", kind) for name in names for kind in (RUN_KINDS if "<kind>" in name else [""])
        ]
        types = [t.replace("(null if none)", "").strip() for t in cells[1].split(", ")]
        if len(types) == 1:
            types *= len(expanded)
        assert len(types) == len(expanded), f"README row {cells[0]}: {len(expanded)} columns but {len(types)} types"
        columns.update(zip(expanded, types))
    return columns


def test_the_readme_documents_every_column_with_its_type():
    documented = _readme_columns()
    assert documented == {field.name: _type_name(field.type) for field in SCHEMA}


def _row(**changes):
    row = {name: None for name in SCHEMA.names}
    row.update(
        run_id="r",
        protocol_hash="p",
        dataset="toy",
        strategy="random",
        seed=0,
        round=0,
        rounds=1,
        miou=0.5,
        confusion=[1, 0, 0, 1],
        num_classes=2,
        class_names=["a", "b"],
        strategy_label="random",
    )
    row.update(changes)
    return row


def test_the_writer_refuses_a_row_with_a_missing_or_unknown_column(tmp_path):
    row = _row()
    del row["miou"]
    with pytest.raises(ValueError, match=r"missing \['miou'\], unknown none"):
        write_results(tmp_path / "r.parquet", [row], {})
    with pytest.raises(ValueError, match=r"missing none, unknown \['mIoU'\]"):
        check_row(_row(mIoU=0.5))
    assert not (tmp_path / "r.parquet").exists()


def test_a_results_file_written_before_a_column_existed_reads_with_nulls(tmp_path):
    # A file as an early albench wrote it: only the core columns, no label_quality, stage_miou, class_names, ...
    early = [
        "run_id",
        "protocol_hash",
        "dataset",
        "backbone",
        "superpixels",
        "labeling",
        "strategy",
        "seed",
        "round",
        "rounds",
        "num_classes",
        "miou",
        "confusion",
    ]
    rows = [_row(round=r, rounds=2, miou=0.25 * (r + 1)) for r in range(2)]
    table = pa.Table.from_pylist(
        [{k: row[k] for k in early} for row in rows], schema=pa.schema([SCHEMA.field(name) for name in early])
    )
    pq.write_table(table, tmp_path / "r.parquet")
    contents = read_results(tmp_path)
    read = contents.table
    assert read.schema.names == SCHEMA.names and not contents.set_aside
    assert read.column("label_quality").to_pylist() == [None, None]
    (run,) = load_runs(tmp_path).runs
    assert run.complete and run.aualc() == pytest.approx(0.375)
    assert run.label_quality is None and run.stage_miou == (None, None)
