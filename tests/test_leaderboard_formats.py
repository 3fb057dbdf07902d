"""Every leaderboard format parses and says the same thing: JSON loads, CSV reads back, markdown and LaTeX
have the expected structure (LaTeX is compiled when a TeX engine is installed)."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from albench.cli import app
from albench.cli._tables import latex_escape

RUNS = str(Path(__file__).parent / "fixtures" / "runs")
runner = CliRunner()


def _invoke(*args: str) -> str:
    result = runner.invoke(app, ["leaderboard", "-r", RUNS, *args])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_csv_reads_back_with_the_hand_computed_numbers():
    rows = list(csv.DictReader(io.StringIO(_invoke("--format", "csv"))))
    # one table (tiny-deeplab, dominant labels) × 5 strategies × (2 datasets + Average)
    assert len(rows) == 15
    cell = next(r for r in rows if (r["strategy"], r["column"]) == ("oreal (max)", "toy"))
    assert float(cell["mean"]) == pytest.approx(51.25) and float(cell["std"]) == pytest.approx(3.5355)
    assert (cell["n"], cell["seeds"], cell["incomplete_runs"], cell["bold"]) == ("2", "0 1", "1", "true")
    assert (cell["aggregation"], cell["strategy_label"]) == ("max", "oreal")
    # cityscapes: oreal (max) 41.875 bold, oreal (mean) 40.625 underlined, bvsb (max) 40.0 unmarked
    second = next(r for r in rows if (r["strategy"], r["column"]) == ("oreal (mean)", "cityscapes"))
    assert float(second["mean"]) == pytest.approx(40.625) and second["underline"] == "true"
    assert second["strategy_label"] == "oreal(aggregation=mean)" and second["aggregation"] == "mean"
    average = next(r for r in rows if (r["strategy"], r["column"]) == ("bvsb (max)", "Average"))
    assert float(average["mean"]) == pytest.approx((49.375 + 40.0) / 2) and average["underline"] == "true"
    assert average["dataset"] == "" and average["std"] == ""
    random = next(r for r in rows if r["strategy"] == "random")
    assert random["aggregation"] == "" and random["rank"] == "5"


def test_json_holds_the_csv_records_and_the_notes():
    payload = json.loads(_invoke("--format", "json"))
    rows = list(csv.DictReader(io.StringIO(_invoke("--format", "csv"))))
    assert len(payload["records"]) == len(rows)
    for record, row in zip(payload["records"], rows):
        assert list(record) == list(row)
        assert record["mean"] == pytest.approx(float(row["mean"]))
        assert str(record["n"]) == row["n"] and record["strategy"] == row["strategy"]
    assert [t["aggregation"] for t in payload["tables"]] == [None]
    notes = payload["tables"][0]["notes"]
    assert any("† not averaged, incomplete: oreal seed 2 on toy" in n for n in notes)
    assert any(n.startswith("(max), (mean): how the strategy aggregates") for n in notes)


def test_markdown_table_matches_the_csv():
    lines = _invoke("--format", "markdown").splitlines()
    assert lines[0] == "### AuALC (%) · backbone tiny-deeplab · dominant labels"
    assert lines[2] == "| strategy | cityscapes | toy | Average |"
    assert lines[3] == "|:---|---:|---:|---:|"
    # ranked by Average: 46.56, 44.69, 44.06, 40.625, 40.31; toy's incomplete seed-2 checkpoint flagged
    assert lines[4] == "| oreal (max) | **41.9 ± 4.4** | **51.3 ± 3.5** † | **46.6** |"
    assert lines[5] == "| bvsb (max) | 40.0 ± 7.1 | <u>49.4 ± 4.4</u> | <u>44.7</u> |"
    assert lines[6] == "| oreal (mean) | <u>40.6 ± 6.2</u> | 47.5 ± 3.5 | 44.1 |"
    assert lines[7] == "| bvsb (mean) | 36.2 ± 7.1 † | 45.0 ± 5.3 | 40.6 |"
    assert lines[8] == "| random | 38.1 ± 4.4 | 42.5 ± 3.5 | 40.3 |"
    assert "- n = 2 seeds per cell" in lines
    assert not any("SPEC.md" in line for line in lines)
    assert any("docs/metrics.md" in line for line in lines)


def test_by_aggregation_gives_a_table_per_aggregation():
    lines = _invoke("--format", "markdown", "--by", "aggregation").splitlines()
    assert lines[0] == "### AuALC (%) · backbone tiny-deeplab · dominant labels · aggregation max"
    assert lines[2] == "| strategy | cityscapes | toy | Average |"
    assert lines[4] == "| oreal | **41.9 ± 4.4** | **51.3 ± 3.5** † | **46.6** |"
    assert lines[5] == "| bvsb | <u>40.0 ± 7.1</u> | <u>49.4 ± 4.4</u> | <u>44.7</u> |"
    assert lines[6] == "| random | 38.1 ± 4.4 | 42.5 ± 3.5 | 40.3 |"
    assert "### AuALC (%) · backbone tiny-deeplab · dominant labels · aggregation mean" in lines
    assert "- random: no aggregation parameter, shown in every aggregation's table" in lines


def test_rich_table_names_every_strategy_and_prints_notes_to_stderr():
    result = runner.invoke(app, ["leaderboard", "-r", RUNS, "-d", "toy"])
    assert result.exit_code == 0
    assert all(name in result.stdout for name in ("oreal", "bvsb", "random", "51.3 ± 3.5"))
    assert "not averaged, incomplete" in result.stderr and "not averaged" not in result.stdout


def _check_latex_structure(text: str) -> None:
    assert text.count(r"\begin{table}") == text.count(r"\end{table}") == 1
    assert text.count(r"\begin{tabular}") == text.count(r"\end{tabular}") == 1
    for spec, body in re.findall(r"\\begin\{tabular\}\{(\w+)\}(.*?)\\end\{tabular\}", text, flags=re.S):
        rows = [line for line in body.splitlines() if line.endswith(r"\\")]
        assert rows and all(row.count(" & ") == len(spec) - 1 for row in rows)
    # braces balance and no raw special characters outside commands
    assert text.count("{") == text.count("}")
    assert "±" not in text and "†" not in text and "%" not in text.replace(r"\%", "").split("\n", 1)[1]


def test_latex_is_well_formed_and_compiles_when_tex_is_installed(tmp_path):
    text = _invoke("--format", "latex")
    _check_latex_structure(text)
    assert r"oreal (max) & \textbf{41.9 $\pm$ 4.4} & \textbf{51.3 $\pm$ 3.5} \dag{} & \textbf{46.6} \\" in text
    assert r"\underline{40.6 $\pm$ 6.2}" in text and r"\underline{40.0 $\pm$ 7.1}" not in text
    engine = shutil.which("pdflatex")
    if engine is None:
        return  # structural checks only: no TeX here
    document = tmp_path / "table.tex"
    document.write_text(
        "\\documentclass{article}\\usepackage{booktabs}\\begin{document}\n" + text + "\\end{document}\n"
    )
    done = subprocess.run(
        [engine, "-interaction=nonstopmode", document.name], cwd=tmp_path, capture_output=True, timeout=120
    )
    assert done.returncode == 0, done.stdout[-2000:]


def test_latex_escape_spells_specials_and_symbols():
    assert latex_escape("a_b & 50% ± 1 #x") == r"a\_b \& 50\% $\pm$ 1 \#x"
    assert latex_escape("oreal(tie_order=first-seen)") == r"oreal(tie\_order=first-seen)"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--metric", "f1"], "--metric 'f1' is not a metric"),
        (["--dataset", "voc*"], "no run in"),
    ],
)
def test_leaderboard_errors_are_one_line(args, message):
    result = runner.invoke(app, ["leaderboard", "-r", RUNS, *args])
    assert result.exit_code == 1
    assert message in result.stderr and "Traceback" not in result.output
