"""The one progress protocol: long library steps report (stage, done, total) and the
result does not depend on whether anyone listens."""

from __future__ import annotations

from medkg.embed import HashingEmbedder
from medkg.synthesis.pipeline import SynthConfig, synthesize
from tests.factories.graphs import synthetic_kg

Tick = tuple[str, int, "int | None"]


def test_synthesis_reports_each_accepted_item() -> None:
    kg = synthetic_kg()
    config = SynthConfig(n=40, seed=3, rare_share=None)
    ticks: list[Tick] = []
    heard = synthesize(kg, config, progress=lambda *t: ticks.append(t))
    quiet = synthesize(kg, config)
    assert [i.to_dict() for i in heard.items] == [i.to_dict() for i in quiet.items]
    assert ticks == [("synthesise", k, 40) for k in range(1, len(heard.items) + 1)]


def test_embedding_reports_rows_done() -> None:
    ticks: list[Tick] = []
    texts = [f"text {i}" for i in range(10)]
    HashingEmbedder(batch_size=4).embed(texts, progress=lambda *t: ticks.append(t))
    assert ticks[-1] == ("embed", 10, 10)
    assert [d for _, d, _ in ticks] == sorted({d for _, d, _ in ticks})  # rising, no repeats


def test_source_load_times_go_to_timings() -> None:
    from medkg.kg.build import load_sources
    from tests.factories.graphs import FIXTURES

    timings: dict[str, float] = {}
    (graph,) = load_sources(["hpo"], {"hpo": FIXTURES / "mini.obo"}, timings=timings)
    assert graph.nodes.height > 0
    assert list(timings) == ["load.hpo"] and timings["load.hpo"] > 0
