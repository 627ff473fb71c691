"""``report.html``: the coverage audit as plots, readable offline (plotly.js is inlined).

Built from the folder :func:`medkg.coverage.audit.write_audit` wrote, so ``medkg coverage
report DIR`` can re-render it: a side-by-side summary, a sunburst of the MET per dataset
(wedge size = subtree size, colour = share of the subtree's nodes the dataset mentions),
coverage per level and per branch, the rank–frequency curve of entity counts (log–log),
AMCS histograms of each direction, and tables of the top uncovered branches and of the
reference entities AMCS finds least covered.
"""

from __future__ import annotations

import html
import itertools
from pathlib import Path
from typing import Any

import polars as pl

from medkg.coverage.audit import read_audit_folder
from medkg.outputs import write_text

MAX_SUNBURST_NODES = 1500
PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")


def _go() -> Any:
    import plotly.graph_objects as go

    return go


def sunburst(nodes: pl.DataFrame, title: str, max_depth: int = 4) -> Any:
    """The upper MET as a sunburst coloured by covered share of each subtree."""
    go = _go()
    top = (
        nodes.filter(pl.col("depth") <= max_depth)
        .sort(["depth", "subtree_size", "id"], descending=[False, True, False])
        .head(MAX_SUNBURST_NODES)
    )
    keep = set(top.get_column("id").to_list())
    # a node is drawn only if its parent is drawn (the head() above may cut a parent's siblings)
    rows = [r for r in top.iter_rows(named=True) if r["depth"] == 0 or r["met_parent"] in keep]
    ids = {r["id"] for r in rows}
    rows = [r for r in rows if r["depth"] == 0 or r["met_parent"] in ids]
    share = [r["covered_below"] / max(r["subtree_size"], 1) for r in rows]
    fig = go.Figure(
        go.Sunburst(
            ids=[r["id"] for r in rows],
            labels=[(r["name"] or r["id"])[:40] for r in rows],
            parents=["" if r["depth"] == 0 else r["met_parent"] for r in rows],
            values=[r["subtree_size"] for r in rows],
            branchvalues="total",
            marker={
                "colors": share,
                "colorscale": "YlGnBu",
                "cmin": 0.0,
                "cmax": max(0.05, max(share[1:], default=0.05)),
                "colorbar": {"title": "covered share"},
            },
            customdata=[[r["id"], r["covered_below"], r["rollup_items"]] for r in rows],
            hovertemplate=(
                "%{label} (%{customdata[0]})<br>nodes: %{value}<br>covered nodes: "
                "%{customdata[1]}<br>items reaching it: %{customdata[2]}<extra></extra>"
            ),
            maxdepth=3,
        )
    )
    fig.update_layout(title=title, height=650, margin={"t": 50, "l": 0, "r": 0, "b": 0})
    return fig


def rank_frequency(datasets: list[dict[str, Any]]) -> Any:
    go = _go()
    fig = go.Figure()
    for i, d in enumerate(datasets):
        counts = d["rank_frequency"]
        fig.add_trace(
            go.Scatter(
                x=list(range(1, len(counts) + 1)),
                y=counts,
                mode="lines",
                name=d["name"],
                line={"color": PALETTE[i % len(PALETTE)]},
            )
        )
    fig.update_layout(title="Rank–frequency of linked entities (items per entity)",
                      xaxis={"type": "log", "title": "rank"},
                      yaxis={"type": "log", "title": "items"}, height=420)  # fmt: skip
    return fig


def levels_chart(datasets: list[dict[str, Any]]) -> Any:
    go = _go()
    fig = go.Figure()
    for i, d in enumerate(datasets):
        lv = d["levels"]
        fig.add_trace(go.Bar(x=[r["depth"] for r in lv], y=[r["coverage"] for r in lv],
                             name=d["name"], marker_color=PALETTE[i % len(PALETTE)]))  # fmt: skip
    fig.update_layout(title="Coverage by MET level (share of nodes with ≥ 1 item)",
                      xaxis={"title": "depth"}, yaxis={"title": "coverage", "tickformat": ".1%"},
                      barmode="group", height=400)  # fmt: skip
    return fig


def branches_chart(datasets: list[dict[str, Any]], top: int = 25) -> Any:
    go = _go()
    first = datasets[0]["branches"][:top]
    order = [b["id"] for b in first]
    label = {b["id"]: f"{(b['name'] or b['id'])[:45]} ({b['subtree_size']:,})" for b in first}
    fig = go.Figure()
    for i, d in enumerate(datasets):
        by_id = {b["id"]: b["coverage"] for b in d["branches"]}
        fig.add_trace(go.Bar(y=[label[b] for b in order], x=[by_id.get(b, 0.0) for b in order],
                             orientation="h", name=d["name"],
                             marker_color=PALETTE[i % len(PALETTE)]))  # fmt: skip
    fig.update_layout(title="Coverage of the largest branches (share of the subtree's nodes mentioned)",
                      xaxis={"tickformat": ".1%"}, yaxis={"autorange": "reversed"},
                      barmode="group", height=max(400, 28 * len(order) * max(1, len(datasets))))  # fmt: skip
    return fig


def amcs_chart(datasets: list[dict[str, Any]]) -> Any | None:
    with_amcs = [d for d in datasets if d.get("amcs")]
    if not with_amcs:
        return None
    from plotly.subplots import make_subplots

    go = _go()
    ref = with_amcs[0]["amcs"]["reference"]
    fig = make_subplots(rows=1, cols=2, subplot_titles=(
        f"forward: each {ref} entity → best match in the dataset",
        "backward: each linked entity → best match in the reference"))  # fmt: skip
    for i, d in enumerate(with_amcs):
        a = d["amcs"]
        edges = a["bin_edges"]
        mids = [(x + y) / 2 for x, y in itertools.pairwise(edges)]
        for col, key, direction in (
            (1, "forward_hist", "forward"),
            (2, "backward_hist", "backward"),
        ):
            fig.add_trace(go.Bar(x=mids, y=a[key], name=f"{d['name']} ({direction} {a[direction]:.3f})",
                                 marker_color=PALETTE[i % len(PALETTE)], opacity=0.7),
                          row=1, col=col)  # fmt: skip
    fig.update_layout(title=f"AMCS histograms (model {with_amcs[0]['amcs']['model']})",
                      barmode="overlay", height=420)  # fmt: skip
    fig.update_xaxes(title_text="max cosine similarity")
    return fig


def _table(
    rows: list[dict[str, Any]], columns: list[str], fmt: dict[str, str] | None = None
) -> str:
    fmt = fmt or {}
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = []
    for r in rows:
        cells = []
        for c in columns:
            v = r.get(c)
            if isinstance(v, float):
                v = format(v, fmt.get(c, ".4f"))
            elif isinstance(v, int):
                v = f"{v:,}"
            cells.append(f"<td>{html.escape('' if v is None else str(v))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


CSS = """
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1200px;color:#222}
table{border-collapse:collapse;margin:1em 0;font-size:14px}
td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}
th{background:#f3f3f3} td:first-child,th:first-child{text-align:left}
h2{margin-top:2em;border-bottom:1px solid #ddd}
.note{color:#666;font-size:13px}
"""


def render(data: dict[str, Any], tables: dict[str, pl.DataFrame]) -> str:
    """The whole HTML page of an audit folder's contents."""
    datasets = data["datasets"]
    names = [d["name"] for d in datasets]
    parts = [f"<h1>Coverage audit: {html.escape(', '.join(names))}</h1>"]
    parts.append(
        f"<p class=note>graph {html.escape(str(data.get('graph_hash', ''))[:12])}; "
        f"AMCS reference {html.escape(str(data.get('amcs_reference')))}; "
        f"model {html.escape(str(data.get('model')))}</p>"
    )
    if "comparison" in data:
        rows = data["comparison"]["summary"]
    else:
        s = datasets[0]["summary"]
        rows = [{"metric": k, names[0]: v} for k, v in s.items() if isinstance(v, int | float)]
        for k in ("forward", "backward"):
            if datasets[0].get("amcs"):
                rows.append({"metric": f"AMCS {k}", names[0]: datasets[0]["amcs"][k]})
    parts.append("<h2>Summary</h2>" + _table(rows, ["metric", *names]))
    rules = sorted({str(d["summary"].get("coverage_rollup", "entity only")) for d in datasets})
    parts.append(
        f"<p class=note>coverage counts concepts: a node is covered by a mention of "
        f"{html.escape(' / '.join(rules))}; <code>covered_via_equivalents_only</code> counts "
        "the nodes only an equivalent's mention covers</p>"
    )
    figures = []
    for d in datasets:
        figures.append(("Medical entity tree: " + d["name"],
                        sunburst(tables[d["name"]], f"{d['name']}: covered share of each MET branch")))  # fmt: skip
    figures.append(("Long tail", rank_frequency(datasets)))
    figures.append(("Coverage by level", levels_chart(datasets)))
    figures.append(("Coverage by branch", branches_chart(datasets)))
    amcs = amcs_chart(datasets)
    if amcs is not None:
        figures.append(("AMCS", amcs))
    for i, (title, fig) in enumerate(figures):
        parts.append(f"<h2>{html.escape(title)}</h2>")
        # a fixed div id (plotly draws a random one) keeps the report byte-identical per input
        parts.append(fig.to_html(full_html=False, include_plotlyjs=(i == 0),
                                 div_id=f"medkg-figure-{i}",
                                 config={"displaylogo": False}))  # fmt: skip
    for d in datasets:
        parts.append(f"<h2>Top uncovered branches: {html.escape(d['name'])}</h2>")
        parts.append(
            "<p class=note>maximal MET subtrees no item reaches (their parent is reached), largest first</p>"
        )
        parts.append(
            _table(
                d["top_uncovered"], ["id", "name", "kind", "parent_name", "depth", "subtree_size"]
            )
        )
        if d.get("amcs"):
            parts.append(
                f"<h2>Least covered reference entities (AMCS): {html.escape(d['name'])}</h2>"
            )
            parts.append(_table(d["amcs"]["least_covered"],
                                ["id", "name", "best_match", "best_match_name", "cosine"]))  # fmt: skip
    body = "\n".join(parts)
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>medkg coverage</title>"
        f"<style>{CSS}</style></head><body>{body}</body></html>"
    )


def write_report(folder: str | Path) -> Path:
    """Render ``folder/report.html`` from the audit files in ``folder``; atomic."""
    folder = Path(folder)
    data, tables = read_audit_folder(folder)
    page = render(data, tables)
    path = folder / "report.html"
    write_text(path, page)
    return path


__all__ = ["render", "sunburst", "write_report"]
