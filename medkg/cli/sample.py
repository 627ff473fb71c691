"""`medkg sample`: draw entities from the graph with a sampling strategy.

Mount with ``app.command("sample")(sample)`` in ``medkg/cli/main.py``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.markup import escape
from rich.table import Table

from medkg.cli.common import (
    JsonOption,
    PathOption,
    StoreOption,
    console,
    handle_errors,
    out,
    print_json,
    store_from_options,
)
from medkg.errors import UsageError


@handle_errors
def sample(
    strategy: str = typer.Option(
        "uniform",
        "--strategy",
        help="spread, uniform, tree_balanced, inverse_frequency, rare_mixture, target or coverage_gap.",
    ),
    n: int = typer.Option(10, "--n", "-n", min=0, help="How many entities to draw."),
    seed: int = typer.Option(
        0, "--seed", help="Random seed: same graph + options + seed ⇒ same draws."
    ),
    alpha: float = typer.Option(
        None, "--alpha", help="rare_mixture: probability that a draw is a rare disease."
    ),
    base: str = typer.Option(
        None, "--base", help="rare_mixture: strategy for the non-rare draws (default uniform)."
    ),
    temperature: float = typer.Option(
        None,
        "--temperature",
        help="inverse_frequency: weight (count+1)^(-1/T); coverage_gap: gap^(1/T). Default 1.",
    ),
    counts: Path = typer.Option(
        None, "--counts", help="inverse_frequency: counts table (CSV id,count or JSON {id: count})."
    ),
    target: str = typer.Option(
        None,
        "--target",
        help="Target shares: kind=Disease:0.5,Phenotype:0.5, branch=<MET id>:<share>,... or a "
        'JSON file {"kind"|"branch": {group: share}}. Drives --strategy target; with another '
        "strategy it is the reference the realised distribution is compared with.",
    ),
    gaps: Path = typer.Option(
        None, "--gaps", help="coverage_gap: JSON gaps file ([{id, gap|count|score}, ...])."
    ),
    floor: int = typer.Option(
        None,
        "--floor",
        help="tree_balanced, spread: drawable rows under which a subtree is drawn uniformly "
        "(default 25; 1 = the classic walk, uniform over children at every level).",
    ),
    uniform_share: float = typer.Option(
        None, "--uniform-share", help="spread: share of the mixture that is uniform (0.5)."
    ),
    kind: list[str] = typer.Option(
        None, "--kind", help="Only draw entities of this kind (repeatable)."
    ),
    by: str = typer.Option(
        None,
        "--by",
        help="Group the realised distribution by kind, rare or branch:<depth> "
        "(default: the target's grouping, rare for rare_mixture, else kind).",
    ),
    show: int = typer.Option(20, "--show", help="Draws listed in the table (all with --json)."),
    store: str = StoreOption,
    path: Path = PathOption,
    as_json: bool = JsonOption,
) -> None:
    """Draw N entities with a seeded strategy; print them and the realised distribution."""
    import numpy as np

    from medkg.synthesis.sampling import (
        accepted_params,
        build_sampler,
        expected_distribution,
        parse_target,
        realised_distribution,
        total_variation,
    )

    # Every check that needs no graph runs before the store is read.
    given: dict[str, Any] = {
        "alpha": alpha,
        "base": base,
        "temperature": temperature,
        "counts": counts,
        "gaps": gaps,
        "floor": floor,
        "uniform_share": uniform_share,
    }
    params = {k: v for k, v in given.items() if v is not None}
    accepted = accepted_params(strategy)
    for key in params:
        if key not in accepted:
            raise UsageError(
                f"--{key} does not apply to --strategy {strategy} "
                f"(it takes {', '.join('--' + a for a in accepted if a in given) or 'no options'})"
            )
    reference: dict[str, float] | None = None
    group_by: str | list[str] = by or ("rare" if strategy == "rare_mixture" else "kind")
    if target is not None:
        target_by, shares = parse_target(target)
        reference = shares
        group_by = "kind" if target_by == "kind" else list(shares)
        if strategy == "target":
            params.update(by=target_by, shares=shares)
    elif strategy == "target":
        raise UsageError("--strategy target needs --target (e.g. kind=Disease:0.5,Phenotype:0.5)")
    if kind:
        params["kinds"] = list(kind)

    with store_from_options(store, path) as s:
        location = s.describe_location()
        content_hash = s.manifest().get("content_hash")
        nodes = s.load().nodes
    sampler = build_sampler(strategy, nodes, **params)
    draws = sampler.sample(n, np.random.default_rng(seed))

    realised = realised_distribution(nodes, draws, group_by)
    if reference is None:
        reference = expected_distribution(nodes, sampler.probabilities(), group_by)
        reference_kind = "expected"
    else:
        reference_kind = "target"
    tvd = total_variation(realised, reference)
    picked = nodes.select("id", "name", "kind", "rare").gather(draws)
    result: dict[str, Any] = {
        "strategy": strategy,
        "params": {k: str(v) if isinstance(v, Path) else v for k, v in params.items()},
        "seed": seed,
        "n": n,
        "graph": {"location": location, "content_hash": content_hash},
        "distribution": {
            "by": group_by,
            "reference": reference_kind,
            "realised": realised,
            reference_kind: reference,
            "tvd": tvd,
        },
        "rare_share": realised_distribution(nodes, draws, "rare").get("rare", 0.0),
        "draws": picked.to_dicts(),
    }
    if strategy == "target" and n:
        result["distribution"]["tolerance"] = {
            "per_group": 1 / n,
            "tvd_max": len(reference) / (2 * n),
            "allocation": sampler.allocation(n),  # type: ignore[attr-defined]
        }
    if as_json:
        print_json(result)
        return
    draws_table = Table(title=f"{n:,} draws ({strategy}, seed {seed})", title_justify="left")
    for col in ("id", "name", "kind", "rare"):
        draws_table.add_column(col)
    for row in picked.head(show).iter_rows():
        draws_table.add_row(*(escape(str(v)) for v in row))  # names are data, not markup
    out.print(draws_table)
    if n > show:
        console.print(f"... {n - show:,} more (use --json for all)")
    dist = Table(title=f"realised vs {reference_kind}", title_justify="left")
    for col in ("group", "realised", reference_kind):
        dist.add_column(col, justify="left" if col == "group" else "right")
    for g in sorted(set(realised) | set(reference)):
        dist.add_row(escape(g), f"{realised.get(g, 0.0):.4f}", f"{reference.get(g, 0.0):.4f}")
    out.print(dist)
    out.print(f"total variation distance: {tvd:.4f}   rare share: {result['rare_share']:.4f}")
