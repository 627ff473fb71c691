"""Synthesis on an engine: each family's first pass is one shard (or, with
``shards_per_family`` K > 1, each of its K seed ranges is: :mod:`medkg.synthesis.ranges`;
read "unit" for "family" below, in (family, range) order), checked globally after.

The plan. A family's draws depend on its own random stream (seeded by the run's seed and
the family's name, :func:`medkg.synthesis.pipeline.family_run`), its own seed counters,
and two shared checks: deduplication (against every item kept so far, of every family)
and decontamination (a fixed benchmark index, so per item). A shard runs one family's
first pass on a worker with a deduplicator of its own and records, for every item it
asked about, what deduplication and decontamination answered (the *trace*).

After the shards, on the driver, in family order (never in the order workers finished):
the traces are replayed through the run's one global deduplicator and decontaminator.
Where every answer is the same, the family's run is exactly what a run in one process
would have done (its draws differ from that run only through those answers), so its
state is taken over as is. Where an answer differs (an item that duplicates another
family's item), that family's first pass is run again on the driver against the global
state, as a run in one process does. Either way the global deduplicator ends up in the
state of a run in one process, the rebalancing rounds continue on the driver
(:func:`medkg.synthesis.runner.complete`), and the dataset is byte-identical to the one
made without an engine, whichever engine ran the shards and whichever worker finished
first. The global pass costs one deduplication check per traced item, which is small
next to making and verifying the items.
"""

from __future__ import annotations

import io
import pickle
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from medkg.engines.base import Engine, ShardTask
from medkg.kg.model import KnowledgeGraph
from medkg.progress import Progress
from medkg.synthesis.config import SynthConfig
from medkg.synthesis.decontam import Decontaminator
from medkg.synthesis.dedup import Deduplicator, Duplicate
from medkg.synthesis.items import QAItem
from medkg.synthesis.ranges import Unit, merge_runs, unit_label, unit_run, units
from medkg.synthesis.runner import FamilyRun

if TYPE_CHECKING:
    from medkg.synthesis.pipeline import FamilyPlan, SynthBackends

# One deduplication question: the item, the answer (None: new), and decontamination's
# answer for a new item (None: not asked, i.e. a duplicate or decontamination off).
TraceEntry = tuple[QAItem, Duplicate | None, bool | None]


class _TracedDedup:
    """A deduplicator that records its answers."""

    def __init__(self, dedup: Deduplicator, trace: list[TraceEntry]) -> None:
        self.dedup, self.trace = dedup, trace

    def check(self, item: QAItem) -> Duplicate | None:
        dup = self.dedup.check(item)
        self.trace.append((item, dup, None))
        return dup


class _TracedChecker:
    """A decontaminator that adds its answer to the last trace entry (always the item it
    is asked about: decontamination comes right after deduplication said new)."""

    def __init__(self, checker: Decontaminator, trace: list[TraceEntry]) -> None:
        self.checker, self.trace = checker, trace

    def keep(self, item: QAItem) -> bool:
        kept = self.checker.keep(item)
        last, dup, _ = self.trace[-1]
        assert last is item and dup is None
        self.trace[-1] = (item, None, kept)
        return kept


@dataclass
class FamilyOutcome:
    """What one family's shard sends back: its run state, its trace, its reject reasons."""

    name: str
    state: dict[str, Any]
    trace: list[TraceEntry]
    rejects: Counter[str]
    cpu_s: float = 0.0  # the shard's CPU time on its worker (a cost figure, not output)


def run_state(run: FamilyRun) -> dict[str, Any]:
    """A run's draw state (no plan, no family object: those are rebuilt where it lands)."""
    return {
        "rng": run.rng.bit_generator.state,
        "need": dict(run.need),
        "budget": run.budget,
        "funnel": Counter(run.funnel),
        "out": list(run.out),
        "made_by_seed": run.made_by_seed,
        "draws_by_seed": run.draws_by_seed,
        "cap_of": run.cap_of,
        "exhausted": set(run.exhausted),
        "loose": run.loose,
    }


def _pickler() -> type[pickle.Pickler]:
    """Ray's cloudpickle inside a Ray worker (a family class that came by value, e.g. one
    defined in a script, must go back by value), else the standard pickler."""
    if "ray" in sys.modules:
        from ray import cloudpickle

        return cloudpickle.Pickler
    return pickle.Pickler


class _GraphIn(pickle.Unpickler):
    """Unpickles a family object onto the graph view of the process it lands in."""

    def __init__(self, file: io.BytesIO, graph: Any) -> None:
        super().__init__(file)
        self.graph = graph

    def persistent_load(self, pid: Any) -> Any:
        if pid != "graph":
            raise pickle.UnpicklingError(f"unknown reference {pid!r}")
        return self.graph


def family_state(family: Any, graph: Any) -> bytes:
    """A family object's state after its draws (e.g. its OptionBalance, which steers the
    next items' distractors), without its graph view (a reference by name)."""

    class GraphOut(_pickler()):  # type: ignore[misc]
        def persistent_id(self, obj: Any) -> str | None:
            return "graph" if obj is graph else None

    buf = io.BytesIO()
    GraphOut(buf, protocol=pickle.HIGHEST_PROTOCOL).dump(family)
    return buf.getvalue()


def load_family(state: bytes, graph: Any) -> Any:
    """The family object of :func:`family_state`, on ``graph``."""
    return _GraphIn(io.BytesIO(state), graph).load()


def restore_run(run: FamilyRun, state: dict[str, Any]) -> FamilyRun:
    """``run`` (fresh, from the same plan and config) put into ``state``."""
    run.rng.bit_generator.state = state["rng"]
    run.need, run.budget, run.funnel = state["need"], state["budget"], state["funnel"]
    run.out, run.exhausted, run.loose = state["out"], state["exhausted"], state["loose"]
    run.made_by_seed = np.array(state["made_by_seed"], dtype=np.int32)
    run.draws_by_seed = np.array(state["draws_by_seed"], dtype=np.int32)
    run.cap_of = np.array(state["cap_of"], dtype=np.int32)
    return run


class FamilyPass(ShardTask[Unit, FamilyOutcome]):
    """One unit of the first pass (the shard is ``(family, range)``: the family's whole
    first pass when ``shards_per_family`` is 1, else one of its seed ranges,
    :mod:`medkg.synthesis.ranges`), with its own deduplicator; the graph view and every
    family's plan are built once per worker."""

    def __init__(
        self,
        kg: KnowledgeGraph,
        config: SynthConfig,
        families: Sequence[str],
        checker: Decontaminator | None,
        backends: SynthBackends | None = None,
    ) -> None:
        self.kg, self.config, self.families = kg, config, list(families)
        # a fresh checker with its benchmark index: workers need not see the files
        self.checker = None if checker is None else checker.fresh()
        self.backends = backends  # None: the default ones, built on the worker
        self._built: tuple[Any, Any, dict[str, FamilyPlan]] | None = None

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_built"] = None  # the graph view and families are rebuilt by setup()
        return state

    def setup(self) -> None:
        if self._built is not None:
            return
        from medkg.synthesis.pipeline import SynthBackends, plan_families

        backends = self.backends or SynthBackends.default()
        graph = backends.graph_from_kg(self.kg)
        plans = plan_families(self.kg, graph, self.config, self.families, backends)
        self._built = (backends, graph, {plan.name: plan for plan in plans})

    def run(self, shard: Unit) -> FamilyOutcome:
        self.setup()
        assert self._built is not None
        start = time.process_time()
        backends, graph, plans = self._built
        name, r = shard
        run = unit_run(plans[name], self.config, r, graph, backends)
        trace: list[TraceEntry] = []
        dedup = _TracedDedup(Deduplicator(self.config.dedup_config()), trace)
        checker = None if self.checker is None else _TracedChecker(self.checker.fresh(), trace)
        rejects: Counter[str] = Counter()
        run.run(graph, backends, dedup, checker, rejects, lambda: None)
        cpu = time.process_time() - start
        state = {**run_state(run), "family": family_state(run.plan.family, graph)}
        label = unit_label(shard, plans[name], self.config)
        return FamilyOutcome(label, state, trace, rejects, round(cpu, 2))


@dataclass
class FirstPass:
    """The families' runs after their first passes (a family's ranges merged), and the
    global checks' state."""

    runs: list[FamilyRun]
    dedup: Deduplicator
    checker: Decontaminator | None
    rejects: Counter[str]
    replayed: list[str]  # units (family or family#range) whose shard was taken over as is
    rerun: list[str]  # units run again on the driver (a duplicate of an earlier unit's item)
    shard_cpu_s: dict[str, float]  # each unit shard's CPU seconds on its worker
    driver_s: float  # wall seconds of the global replay (and any rerun) on the driver


def _replay(trace: Sequence[TraceEntry], dedup: Deduplicator, checker: Any) -> bool:
    """Feed ``trace`` to the global checks; False at the first answer that differs."""
    for item, dup, kept in trace:
        if dedup.check(item) != dup:
            return False
        if dup is None and checker is not None and checker.keep(item) != kept:
            return False
    return True


def first_pass_sharded(
    engine: Engine,
    kg: KnowledgeGraph,
    graph: Any,
    config: SynthConfig,
    families: Sequence[str],
    plans: Sequence[FamilyPlan],
    backends: SynthBackends,
    checker: Decontaminator | None,
    progress: Progress | None = None,
    *,
    task_backends: SynthBackends | None = None,
) -> FirstPass:
    """Every unit of the first pass (a family, or a family's seed range) as a shard on
    ``engine``, then the global replay in (family, range) order (module docstring);
    ``progress("shards", done, total)`` per shard, then ``progress("synthesise",
    accepted, n)`` per unit."""
    prototype = None if checker is None else checker.fresh()
    task = FamilyPass(kg, config, families, prototype, task_backends)
    keys = units(plans, config)
    outcomes = engine.map(task, keys, progress=progress)
    start = time.perf_counter()

    def fresh_checks(
        traces: Sequence[Sequence[TraceEntry]],
    ) -> tuple[Deduplicator, Decontaminator | None]:
        dedup = Deduplicator(config.dedup_config())
        fresh = None if prototype is None else prototype.fresh()
        for trace in traces:  # answers already known to agree: only the state matters
            _replay(trace, dedup, fresh)
        return dedup, fresh

    dedup, checker = fresh_checks([])
    plan_of = {plan.name: plan for plan in plans}
    unit_runs: dict[str, list[FamilyRun]] = {plan.name: [] for plan in plans}
    traces: list[list[TraceEntry]] = []
    rejects: Counter[str] = Counter()
    replayed: list[str] = []
    rerun: list[str] = []
    accepted = 0
    for key, outcome in zip(keys, outcomes, strict=True):
        plan = plan_of[key[0]]
        label = unit_label(key, plan, config)
        if outcome.name != label:  # an engine that lost the shard order
            raise RuntimeError(f"shard of {outcome.name!r} came back as {label!r}")
        run = unit_run(plan, config, key[1], graph, backends)
        if _replay(outcome.trace, dedup, checker):
            # the family object continues on the driver (rebalancing) with its own state
            run.plan.family = load_family(outcome.state["family"], graph)
            restore_run(run, outcome.state)
            traces.append(outcome.trace)
            rejects.update(outcome.rejects)
            replayed.append(label)
        else:
            # An earlier unit's item changes an answer: run this unit here, against the
            # global state of the units before it, as one process would.
            dedup, checker = fresh_checks(traces)
            trace: list[TraceEntry] = []
            traced_checker = None if checker is None else _TracedChecker(checker, trace)
            run.run(graph, backends, _TracedDedup(dedup, trace), traced_checker, rejects,
                    lambda: None)  # fmt: skip
            traces.append(trace)
            rerun.append(label)
        unit_runs[plan.name].append(run)
        accepted += len(run.out)
        if progress is not None:
            progress("synthesise", accepted, config.n)
    runs = [merge_runs(plan, config, unit_runs[plan.name]) for plan in plans]
    return FirstPass(
        runs, dedup, checker, rejects, replayed, rerun,
        {o.name: o.cpu_s for o in outcomes}, round(time.perf_counter() - start, 2),
    )  # fmt: skip


__all__ = ["FamilyOutcome", "FamilyPass", "FirstPass", "first_pass_sharded", "restore_run"]
