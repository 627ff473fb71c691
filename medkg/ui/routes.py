"""The workbench's pages: explore (search, entity, tree, neighbourhood), datasets,
mappings and coverage. Handlers parse input, call the modules beside them and render."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from markupsafe import escape
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from medkg.kg.curated import curated_path, read_curated
from medkg.kg.curie import normalise_curie
from medkg.synthesis.review import DECISIONS, export_reviewed, keep_reviews, record_decisions
from medkg.ui.app import UIState, UserError, render
from medkg.ui.coverage import branches_side_by_side, compare_metrics, generate_for_gap
from medkg.ui.datasets import (
    PAGE_SIZE,
    Dataset,
    ItemFilter,
    distractor_reasons,
    graph_path,
)
from medkg.ui.entity import entity_page, neighbourhood
from medkg.ui.mappings import evidence, record_decision, review_queue


def _ui(request: Request) -> UIState:
    state: UIState = request.app.state.ui
    return state


def _int(value: str | None, default: int, name: str) -> int:
    if value in (None, ""):
        return default
    try:
        return int(value)
    except ValueError:
        raise UserError(f"{name} must be a whole number, got {value!r}") from None


def _float(value: str | None, name: str) -> float | None:
    if value in (None, ""):
        return None
    try:
        return float(value)
    except ValueError:
        raise UserError(f"{name} must be a number, got {value!r}") from None


def _known_id(request: Request, raw: str) -> str:
    index = _ui(request).index
    node_id = normalise_curie(raw.strip())
    if node_id not in index:
        hits = index.search(node_id.partition(":")[2] or node_id, limit=3)
        hint = f"; did you mean {', '.join(h['id'] for h in hits)}?" if hits else ""
        raise UserError(f"no entity {raw!r} in the graph{hint}", status=404)
    return node_id


# ----------------------------------------------------------------------------- explore
async def home(request: Request) -> Response:
    ui = _ui(request)
    return render(request, "home.html", kinds=ui.index.kind_counts())


async def search(request: Request) -> Response:
    ui = _ui(request)
    q = request.query_params.get("q", "").strip()
    kind = request.query_params.get("kind", "")
    limit = min(max(_int(request.query_params.get("limit"), 50, "limit"), 1), 500)
    hits = ui.index.search(q, limit=limit, kind=kind or None) if q else []
    return render(request, "search.html", q=q, kind=kind, hits=hits, kinds=ui.index.kind_counts())


async def entity(request: Request) -> Response:
    node_id = _known_id(request, request.path_params["node_id"])
    page = entity_page(_ui(request).index, node_id)
    return render(request, "entity.html", page=page)


async def neighbourhood_json(request: Request) -> Response:
    node_id = _known_id(request, request.path_params["node_id"])
    return JSONResponse(neighbourhood(_ui(request).index, node_id))


def _overlay(request: Request) -> tuple[Any, list[str]]:
    ui = _ui(request)
    folder = request.query_params.get("audit", "")
    if not folder:
        return None, []
    view = ui.audit(folder)
    return view, view.names


async def tree(request: Request) -> Response:
    ui = _ui(request)
    index = ui.index
    root = index.root or ""
    opened = request.query_params.get("open", "")
    path_ids = [r.id for r in index.met_path(_known_id(request, opened))][::-1] if opened else []
    view, names = _overlay(request)
    total, kids = index.met_children(root)
    return render(
        request,
        "tree.html",
        root=index.ref(root),
        children=kids,
        total=total,
        open_path=path_ids,
        audit=view,
        names=names,
    )


async def tree_children(request: Request) -> Response:
    ui = _ui(request)
    node_id = _known_id(request, request.path_params["node_id"])
    offset = _int(request.query_params.get("offset"), 0, "offset")
    total, kids = ui.index.met_children(node_id, offset=offset)
    view, names = _overlay(request)
    open_path = [p for p in request.query_params.get("path", "").split(",") if p]
    return render(
        request,
        "_tree_children.html",
        parent=node_id,
        children=kids,
        total=total,
        offset=offset,
        audit=view,
        names=names,
        open_path=open_path,
    )


# ----------------------------------------------------------------------------- datasets
def _dataset(request: Request, path: str | None) -> Dataset:
    if not path:
        raise UserError("choose a dataset folder")
    return Dataset.open(path)


def _filters(request: Request) -> ItemFilter:
    q = request.query_params
    return ItemFilter(
        family=q.get("family", ""),
        rare=q.get("rare", ""),
        template=q.get("template", ""),
        branch=normalise_curie(q.get("branch", "").strip()) if q.get("branch") else "",
        min_difficulty=_float(q.get("min_difficulty"), "min_difficulty"),
        max_difficulty=_float(q.get("max_difficulty"), "max_difficulty"),
        review=q.get("review", ""),
        text=q.get("text", "").strip(),
        warnings="yes" if q.get("warnings") == "yes" else "",
    )


async def datasets(request: Request) -> Response:
    ui = _ui(request)
    opened = request.query_params.get("path", "").strip()
    if opened:
        ds = Dataset.open(opened)  # a message page when it is not a dataset
        if ds.path.resolve() not in ui.datasets:
            ui.datasets.append(ds.path.resolve())
        return RedirectResponse("/dataset?" + urlencode({"path": str(ds.path.resolve())}), 303)
    known = []
    for p in ui.datasets:
        try:
            known.append(
                {"path": p, "n_items": Dataset.open(p).manifest.get("n_items"), "error": ""}
            )
        except ValueError as exc:
            known.append({"path": p, "n_items": None, "error": str(exc)})
    return render(request, "datasets.html", known=known)


async def dataset(request: Request) -> Response:
    ui = _ui(request)
    ds = _dataset(request, request.query_params.get("path"))
    f = _filters(request)
    if f.branch:
        _known_id(request, f.branch)
    offset = max(_int(request.query_params.get("offset"), 0, "offset"), 0)
    decisions = ds.decisions()  # a malformed review file stops here, with its line
    total, rows = ds.page(f, offset=offset, size=PAGE_SIZE, index=ui.index)
    counts = {d: sum(1 for e in decisions.values() if e["decision"] == d) for d in DECISIONS}
    return render(
        request,
        "dataset.html",
        ds=ds,
        rows=rows,
        total=total,
        offset=offset,
        size=PAGE_SIZE,
        f=f,
        facets=ds.facets(),
        counts=counts,
        warnings=ds.inspect_warnings() if f.warnings else None,
    )


async def item(request: Request) -> Response:
    ui = _ui(request)
    ds = _dataset(request, request.query_params.get("path"))
    item_id = request.query_params.get("id", "")
    row = ds.item(item_id)
    if row is None:
        raise UserError(f"{ds.path} has no item {item_id!r}", status=404)
    decision = ds.decisions().get(item_id)
    return render(
        request,
        "item.html",
        ds=ds,
        item=row,
        decision=decision,
        options=distractor_reasons(row, ui.index),
        path=graph_path(row, ui.index),
    )


async def review(request: Request) -> Response:
    form = await request.form()
    ds = _dataset(request, str(form.get("path", "")))
    item_id, decision = str(form.get("item_id", "")), str(form.get("decision", ""))
    reason = str(form.get("reason", ""))
    if decision not in DECISIONS:
        raise UserError(f"decision must be one of {list(DECISIONS)}")
    if not ds.has_item(item_id):
        raise UserError(f"{ds.path} has no item {item_id!r}", status=404)
    if decision != "accept" and not reason.strip():
        raise UserError(f"say why you {decision} this item (a reason is required)")
    written = record_decisions(
        ds.path, [{"item_id": item_id, "decision": decision, "reason": reason}]
    )
    entry = ds.decisions()[item_id]
    return render(request, "_review_status.html", decision=entry, written=written)


async def export_reviewed_dataset(request: Request) -> Response:
    """Re-export the dataset without its rejected items into ``<folder>-reviewed`` beside it."""
    form = await request.form()
    ds = _dataset(request, str(form.get("path", "")))
    out = ds.path.with_name(f"{ds.path.name}-reviewed")
    keep_reviews(out)
    report = export_reviewed(ds.path, out)
    ui = _ui(request)
    if out.resolve() not in ui.datasets:
        ui.datasets.append(out.resolve())
    link = "/dataset?" + urlencode({"path": str(out)})
    left_out = report.manifest["review"]["left_out"]
    return HTMLResponse(
        f'<span id="exported">wrote {report.manifest["n_items"]} item(s) to '
        f'<a href="{escape(link)}">{escape(str(out))}</a> ({left_out} rejected left out)</span>'
    )


# ----------------------------------------------------------------------------- mappings
async def mappings(request: Request) -> Response:
    ui = _ui(request)
    given = _float(request.query_params.get("threshold"), "threshold")
    threshold = 0.7 if given is None else given  # 0 is a threshold (conflicts only)
    offset = max(_int(request.query_params.get("offset"), 0, "offset"), 0)
    decided = read_curated(curated_path(ui.home))
    queue = review_queue(ui.index, threshold)
    show = request.query_params.get("show", "open")
    rows = []
    for r in queue.iter_rows(named=True):
        d = decided.get((r["src"], r["dst"]))
        if show == "open" and d is not None:
            continue
        rows.append(
            {
                **r,
                "decision": ("reject" if d and d["predicate_modifier"] == "Not" else "accept")
                if d
                else "",
            }
        )
    page = rows[offset : offset + 20]
    for r in page:
        r["subject"], r["object"] = evidence(ui.index, r["src"]), evidence(ui.index, r["dst"])
    return render(
        request,
        "mappings.html",
        rows=page,
        total=len(rows),
        offset=offset,
        threshold=threshold,
        show=show,
        decided=len(decided),
        sssom=curated_path(ui.home),
    )


async def mapping_decide(request: Request) -> Response:
    form = await request.form()
    subject = _known_id(request, str(form.get("subject", "")))
    obj = _known_id(request, str(form.get("object", "")))
    decision = str(form.get("decision", ""))
    ui = _ui(request)
    path = record_decision(
        ui.index, subject, obj, decision, str(form.get("comment", "")), curated_path(ui.home)
    )
    return HTMLResponse(
        f'<span class="decided {decision}">{decision}ed — saved to <code>{path}</code></span>'
    )


# ----------------------------------------------------------------------------- coverage
async def coverage(request: Request) -> Response:
    ui = _ui(request)
    folder = request.query_params.get("audit", "").strip()
    if not folder:
        if len(ui.audits) == 1:
            return RedirectResponse("/coverage?" + urlencode({"audit": str(ui.audits[0])}), 303)
        return render(request, "coverage_pick.html", audits=ui.audits)
    view = ui.audit(folder)
    uncovered = {d["name"]: d.get("top_uncovered", []) for d in view.data["datasets"]}
    branches = branches_side_by_side(view)
    return render(
        request,
        "coverage.html",
        audit=view,
        metrics=compare_metrics(view),
        uncovered=uncovered,
        branches=branches,
    )


async def coverage_branch(request: Request) -> Response:
    ui = _ui(request)
    view = ui.audit(request.query_params.get("audit", ""))
    name = request.query_params.get("dataset") or view.names[0]
    view.dataset(name)
    node_id = _known_id(request, request.query_params.get("id", ""))
    info = view.branch(name, node_id, ui.index)
    return render(
        request,
        "branch.html",
        audit=view,
        name=name,
        node=ui.index.ref(node_id),
        info=info,
        path=ui.index.met_path(node_id)[::-1],
    )


async def coverage_generate(request: Request) -> Response:
    ui = _ui(request)
    form = await request.form()
    view = ui.audit(str(form.get("audit", "")))
    name = str(form.get("dataset", "")) or view.names[0]
    view.dataset(name)
    node_id = _known_id(request, str(form.get("branch", "")))
    n = _int(str(form.get("n", "")), 20, "n")
    seed = _int(str(form.get("seed", "")), 0, "seed")
    info = view.branch(name, node_id, ui.index)
    out, summary = generate_for_gap(
        ui.kg, info["gaps"], node_id, n, seed, ui.home / "ui" / "generated", ui.synth_backends
    )
    ds = Dataset.open(out)
    if out.resolve() not in ui.datasets:
        ui.datasets.append(out.resolve())
    _, rows = ds.page(ItemFilter(), size=PAGE_SIZE)
    return render(request, "_generated.html", ds=ds, rows=rows, summary=summary, branch=node_id)


ROUTES = [
    Route("/", home),
    Route("/search", search),
    Route("/entity/{node_id:path}", entity),
    Route("/api/neighbourhood/{node_id:path}", neighbourhood_json),
    Route("/tree", tree),
    Route("/tree/children/{node_id:path}", tree_children),
    Route("/datasets", datasets),
    Route("/dataset", dataset),
    Route("/dataset/item", item),
    Route("/dataset/review", review, methods=["POST"]),
    Route("/dataset/export", export_reviewed_dataset, methods=["POST"]),
    Route("/mappings", mappings),
    Route("/mappings/decide", mapping_decide, methods=["POST"]),
    Route("/coverage", coverage),
    Route("/coverage/branch", coverage_branch),
    Route("/coverage/generate", coverage_generate, methods=["POST"]),
]
