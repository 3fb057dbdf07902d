"""Figures of the paper from runs (matplotlib, Agg backend: no display needed).

Each function returns a :class:`matplotlib.figure.Figure`; :func:`save_figure` writes PNG, SVG or PDF by
the file's extension, and :func:`figure_svg` gives the SVG that the HTML report embeds: ``albench plot`` and
``albench report html`` draw the same figures. Only complete runs are drawn (incomplete ones are the caller's
to report). Strategies are labelled as in the leaderboard (``oreal (max)``, :func:`albench.results.grouping.row_label`).

- :func:`curves_figure`: mIoU vs round (or vs clicks), mean ± std band over seeds, one panel per dataset,
  one line per strategy (Figs. 3–5).
- :func:`class_distribution_figure`: the labeled set's class distribution per strategy (Figs. 9–10, top).
- :func:`per_class_gain_figure`: per-class AuALC gain bars of one strategy over each baseline (Figs. 9–10).
- :func:`selection_figure`: an image, its superpixel boundaries and the regions a run selected (Fig. 6).
"""

from __future__ import annotations

import io
import math
from collections import defaultdict
from collections.abc import Sequence
from contextlib import AbstractContextManager
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # plots are files; never open a window (no display on servers or in CI)

import numpy as np  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

from albench.errors import AlbenchError  # noqa: E402
from albench.results.grouping import row_label
from albench.results.runs import ConventionChoice, Run
from albench.results.selection_view import SelectionView
from albench.results.tables import Grid

__all__ = [
    "FORMATS",
    "class_distribution_figure",
    "curve_labels",
    "curves_figure",
    "figure_png",
    "figure_svg",
    "per_class_gain_figure",
    "save_figure",
    "selection_figure",
    "strategy_colours",
]

FORMATS = (".png", ".svg", ".pdf")

PanelKey = tuple[str, str, str, str]  # backbone, labeling, dataset, protocol hash


def _panels(runs: Sequence[Run]) -> dict[PanelKey, list[Run]]:
    """Complete runs per panel: one per dataset × protocol, and per backbone × labeling where those vary."""
    panels: dict[PanelKey, list[Run]] = defaultdict(list)
    for run in runs:
        if run.complete:
            panels[(run.backbone, run.labeling, run.dataset, run.protocol_hash)].append(run)
    if not panels:
        raise AlbenchError("no complete run to plot; check the filters, or let the runs finish")
    return dict(sorted(panels.items()))


def _panel_titles(keys: Sequence[PanelKey]) -> list[str]:
    settings = {(b, lab) for b, lab, _, _ in keys}
    protocols: dict[str, set[str]] = defaultdict(set)
    for _, _, dataset, protocol in keys:
        protocols[dataset].add(protocol)
    titles = []
    for backbone, labeling, dataset, protocol in keys:
        title = dataset + (f" [{protocol[:8]}]" if len(protocols[dataset]) > 1 else "")
        titles.append(title + (f"\n{backbone} · {labeling}" if len(settings) > 1 else ""))
    return titles


def _grid_of_axes(
    figure: Figure, count: int, width: float = 4.4, height: float = 3.4, columns: int | None = None
) -> list[Axes]:
    columns = columns or min(count, 3)
    rows = math.ceil(count / columns)
    figure.set_size_inches(width * columns + 2.2, height * rows)
    axes = figure.subplots(rows, columns, squeeze=False).ravel().tolist()
    for spare in axes[count:]:
        spare.remove()
    return axes[:count]


def strategy_colours(labels: Sequence[str]) -> dict[str, tuple[float, float, float, float]]:
    """A stable colour per strategy label (the same in every panel and figure of the same labels)."""
    cmap = matplotlib.colormaps["tab10" if len(labels) <= 10 else "tab20"]
    return {label: cmap(i % cmap.N) for i, label in enumerate(sorted(labels))}


def _references(runs: Sequence[Run], key: PanelKey) -> dict[str, list[Run]]:
    """Fully labeled references (strategy ``full``) of the panel's dataset, backbone and protocol under another
    labeling scheme, e.g. full supervision (``precise``) beside dominant-label curves, by their legend label."""
    backbone, labeling, dataset, protocol = key
    references: dict[str, list[Run]] = defaultdict(list)
    for run in runs:
        if (
            run.complete
            and run.strategy == "full"
            and run.labeling != labeling
            and (run.backbone, run.dataset, run.protocol_hash) == (backbone, dataset, protocol)
        ):
            references[f"{run.strategy_label} ({run.labeling})"].append(run)
    return references


def curve_labels(runs: Sequence[Run]) -> list[str]:
    """The strategy labels :func:`curves_figure` draws, in legend order: artist ids ``strategy-<i>-…`` (SVG
    ``id``) follow this order, so a page can show and hide one strategy's lines, bands and legend entry."""
    return sorted({row_label(r) for members in _panels(runs).values() for r in members})


def curves_figure(runs: Sequence[Run], x: str = "round", convention: ConventionChoice = "recorded") -> Figure:
    """mIoU (%) vs round (``x="round"``) or vs clicks spent (``x="clicks"``): per panel one line per
    strategy label at the mean over seeds, with a ± one standard deviation band; one legend for all. The
    fully labeled reference of another labeling scheme (``full`` with ``precise``: full supervision) is drawn
    dashed in the panels of the same dataset, backbone and protocol: the upper bound of their curves."""
    if x not in ("round", "clicks"):
        raise AlbenchError(f"x axis {x!r}: use 'round' or 'clicks'")
    panels = _panels(runs)
    labels = curve_labels(runs)
    colours = strategy_colours(labels)
    index = {label: i for i, label in enumerate(labels)}
    figure = Figure(layout="constrained")
    seeds: set[int] = set()
    for panel, (ax, title, (key, members)) in enumerate(
        zip(_grid_of_axes(figure, len(panels)), _panel_titles(list(panels)), panels.items())
    ):
        by_label: dict[str, list[Run]] = defaultdict(list)
        for run in members:
            by_label[row_label(run)].append(run)
        references = _references(runs, key)
        for label, label_runs in [*sorted(by_label.items()), *sorted(references.items())]:
            curves = np.array([100 * r.miou(convention) for r in label_runs])
            xs = np.arange(curves.shape[1]) if x == "round" else np.mean([r.clicks_spent for r in label_runs], axis=0)
            mean = curves.mean(axis=0)
            if label in references:
                ax.plot(xs, mean, linestyle="--", color="0.35", label=label)
                continue
            ax.plot(
                xs,
                mean,
                marker="o",
                markersize=3,
                color=colours[label],
                label=label,
                gid=f"strategy-{index[label]}-line-{panel}",
            )
            if len(label_runs) > 1:
                std = curves.std(axis=0, ddof=1)
                ax.fill_between(
                    xs,
                    mean - std,
                    mean + std,
                    color=colours[label],
                    alpha=0.12,
                    linewidth=0,
                    gid=f"strategy-{index[label]}-band-{panel}",
                )
            seeds.add(len(label_runs))
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("round" if x == "round" else "clicks spent")
        ax.set_ylabel("mIoU (%)")
        ax.grid(alpha=0.3)
        if x == "round":
            ax.set_xticks(range(int(max(r.rounds for r in members))))
    handles = [Line2D([], [], color=colour, marker="o", markersize=3, label=label) for label, colour in colours.items()]
    reference_labels = sorted({label for key in panels for label in _references(runs, key)})
    handles += [Line2D([], [], linestyle="--", color="0.35", label=label) for label in reference_labels]
    legend = figure.legend(handles=handles, loc="outside right upper", fontsize=8, title="strategy")
    for i, (handle, text) in enumerate(zip(legend.legend_handles[: len(labels)], legend.get_texts())):
        if handle is not None:
            handle.set_gid(f"strategy-{i}-legend-mark")
        text.set_gid(f"strategy-{i}-legend-text")
    count = f"{min(seeds)}" if len(seeds) == 1 else f"{min(seeds)}–{max(seeds)}"
    figure.suptitle(f"mIoU vs {x}: mean ± std over {count} seed{'' if count == '1' else 's'}", fontsize=11)
    return figure


def class_distribution_figure(runs: Sequence[Run], round_index: int = -1) -> Figure:
    """Share (%) of the labeled regions per class after ``round_index`` (default: the last), mean over seeds
    with the std as error bars, one bar per strategy label and class; 1 − Gini in the legend."""
    panels = _panels(runs)
    colours = strategy_colours(curve_labels(runs))
    figure = Figure(layout="constrained")
    for ax, title, members in zip(
        _grid_of_axes(figure, len(panels), width=5.5), _panel_titles(list(panels)), panels.values()
    ):
        by_label: dict[str, list[Run]] = defaultdict(list)
        for run in members:
            by_label[row_label(run)].append(run)
        class_names = members[0].class_names
        width = 0.8 / len(by_label)
        for i, (label, label_runs) in enumerate(sorted(by_label.items())):
            counts = np.array([r.labeled_per_class[round_index] for r in label_runs], dtype=np.float64)
            shares = 100 * counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
            spread = shares.std(axis=0, ddof=1) if len(label_runs) > 1 else None
            balance = np.nanmean([r.paper_balance(round_index) for r in label_runs])
            ax.bar(
                np.arange(len(class_names)) + (i - (len(by_label) - 1) / 2) * width,
                shares.mean(axis=0),
                width,
                yerr=spread,
                color=colours[label],
                label=f"{label} (1−Gini {balance:.2f})",
                capsize=2,
            )
        ax.set_xticks(range(len(class_names)), class_names, rotation=45, ha="right", fontsize=8)
        ax.set_ylabel("labeled regions (%)")
        ax.set_title(title, fontsize=10)
        ax.legend(fontsize=7)
    where = "final" if round_index == -1 else f"round {round_index}"
    figure.suptitle(
        f"Class distribution of the labeled set ({where}); 1−Gini: foreground where there is a background class",
        fontsize=10,
    )
    return figure


def per_class_gain_figure(grids: Sequence[Grid]) -> Figure:
    """Bars of the per-class AuALC gain tables (:func:`albench.results.report.per_class_gain`), one panel each."""
    if not grids:
        raise AlbenchError(
            "no per-class gains to plot: the target and its baselines need complete runs with the same seeds"
        )
    figure = Figure(layout="constrained")
    baselines = sorted({c.header for g in grids for c in g.columns})
    colours = strategy_colours(baselines)
    # One row per dataset, one column per aggregation (the paper: mean left, max right).
    order = {"mean": 0, "max": 1, "p95": 2}
    grids = sorted(
        grids,
        key=lambda g: (
            str(g.fields["dataset"]),
            str(g.fields["protocol_hash"]),
            order.get(str(g.fields["aggregation"]), 3),
        ),
    )
    aggregations = {g.fields["aggregation"] for g in grids}
    datasets = {(g.fields["dataset"], g.fields["protocol_hash"]) for g in grids}
    columns = len(aggregations) if len(aggregations) * len(datasets) == len(grids) else None
    for ax, grid in zip(_grid_of_axes(figure, len(grids), width=5.5, columns=columns), grids):
        width = 0.8 / len(grid.columns)
        for i, column in enumerate(grid.columns):
            means = np.array([row.cells[column.key].mean for row in grid.rows])
            stds = np.array([row.cells[column.key].std for row in grid.rows])
            ax.bar(
                np.arange(len(grid.rows)) + (i - (len(grid.columns) - 1) / 2) * width,
                means,
                width,
                yerr=np.nan_to_num(stds),
                color=colours[column.header],
                label=column.header,
                capsize=2,
            )
        ax.axhline(0, color="black", linewidth=0.8)
        ax.set_xticks(range(len(grid.rows)), [row.label for row in grid.rows], rotation=45, ha="right", fontsize=8)
        ax.set_ylabel(f"AuALC gain of {grid.fields['target']} (points)")
        ax.set_title(f"{grid.fields['dataset']} · aggregation {grid.fields['aggregation'] or '–'}", fontsize=10)
    figure.legend(
        handles=[Patch(color=colour, label=label) for label, colour in colours.items()],
        loc="outside right upper",
        fontsize=8,
        title="baseline",
    )
    figure.suptitle("Per-class AuALC gain (positive: the target is better), mean ± std over seed pairs", fontsize=10)
    return figure


def _boundaries(labels: np.ndarray) -> np.ndarray:
    """Pixels whose right or lower neighbour lies in another region: a one-pixel line between regions."""
    edge = np.zeros(labels.shape, dtype=bool)
    edge[:, :-1] |= labels[:, :-1] != labels[:, 1:]
    edge[:-1, :] |= labels[:-1, :] != labels[1:, :]
    return edge


def _upscale(array: np.ndarray, factor: int) -> np.ndarray:
    """Nearest-neighbour enlargement, so one-pixel boundaries stay thin on small images."""
    return np.repeat(np.repeat(array, factor, axis=0), factor, axis=1)


def selection_figure(views: Sequence[SelectionView]) -> Figure:
    """Per view: the image (muted grey), superpixel boundaries, regions labeled in earlier rounds (hatched)
    and this round's selection in colour, tinted by each region's dominant ground-truth class."""
    if not views:
        raise AlbenchError("no run to show")
    figure = Figure(layout="constrained")
    axes = _grid_of_axes(figure, len(views), width=4.0, height=4.4)
    cmap = matplotlib.colormaps["tab10"]
    shown_classes: set[int] = set()
    for ax, view in zip(axes, views):
        factor = max(1, math.ceil(480 / max(view.superpixels.shape)))
        superpixels = _upscale(view.superpixels, factor)
        picture = _upscale(view.image, factor).astype(np.float64) / 255.0
        grey = picture.mean(axis=2, keepdims=True)
        overlay = np.repeat(0.25 + 0.5 * grey, 3, axis=2)
        selected_pixels = view.selected[superpixels]
        region_class = view.dominant[superpixels]
        for c in np.unique(region_class[selected_pixels]):
            mask = selected_pixels & (region_class == c)
            if c >= len(view.class_names):  # an all-void region: shown in its own colours
                overlay[mask] = picture[mask]
                continue
            overlay[mask] = 0.35 * picture[mask] + 0.65 * np.asarray(cmap(int(c) % cmap.N)[:3])
            shown_classes.add(int(c))
        earlier_pixels = view.earlier[superpixels]
        overlay[earlier_pixels] = 0.6 * overlay[earlier_pixels] + 0.4
        overlay[_boundaries(superpixels)] = (0.1, 0.1, 0.1)
        ax.imshow(overlay, interpolation="nearest")
        if earlier_pixels.any():
            ax.contourf(earlier_pixels.astype(float), levels=[0.5, 1.5], colors="none", hatches=["///"])
        ax.set_title(f"{view.title}\n{view.image_id}", fontsize=8)
        ax.set_axis_off()
    names = views[0].class_names
    handles = [
        Patch(color=cmap(c % cmap.N), label=names[c] if c < len(names) else str(c)) for c in sorted(shown_classes)
    ]
    handles.append(Patch(facecolor="white", edgecolor="grey", hatch="///", label="labeled earlier"))
    figure.legend(
        handles=handles, loc="outside right center", fontsize=8, title="selected this round\n(dominant class)"
    )
    return figure


def _svg_style() -> AbstractContextManager[None]:
    """SVG text as <text> (small, selectable) naming one font (matplotlib's own, which it always draws with
    here), and ids that do not change between two runs of a command."""
    return matplotlib.rc_context(
        {"svg.fonttype": "none", "svg.hashsalt": "albench", "font.sans-serif": ["DejaVu Sans"]}
    )


def save_figure(figure: Figure, path: Path) -> None:
    """Write ``figure`` to ``path``; the extension picks PNG, SVG or PDF."""
    if path.suffix.lower() not in FORMATS:
        raise AlbenchError(f"cannot write {path}: the file name must end in {', '.join(FORMATS)}")
    path.parent.mkdir(parents=True, exist_ok=True)
    with _svg_style():
        figure.savefig(path, dpi=150, metadata={"Date": None} if path.suffix.lower() == ".svg" else None)


def figure_svg(figure: Figure) -> str:
    """The figure as an SVG document (text as text, no date: the same figure gives the same bytes)."""
    buffer = io.StringIO()
    with _svg_style():
        figure.savefig(buffer, format="svg", metadata={"Date": None})
    return buffer.getvalue()


def figure_png(figure: Figure, dpi: int = 100, colours: int | None = None) -> bytes:
    """The figure as PNG bytes (where SVG would be large: images, figures of thousands of bars); ``colours``
    reduces the palette (a chart has few colours: 64 keep it crisp at a third of the bytes)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi, metadata={"Software": None})
    if colours is None:
        return buffer.getvalue()
    from PIL import Image

    image = Image.open(buffer).convert("RGB").quantize(colors=colours, method=Image.Quantize.MEDIANCUT)
    reduced = io.BytesIO()
    image.save(reduced, format="png", optimize=True)
    return reduced.getvalue()
