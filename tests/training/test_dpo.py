"""HeteroRAG preference pairs from items with evidence packs, judged with a deterministic
generator stand-in; TRL's conversational DPO format; a DPO stage of 2 steps on the tiny
model reading the written pairs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from medkg.llm.base import Generator, GenParams, Messages
from medkg.synthesis.items import LETTERS
from medkg.training.dpo import (
    PAIRS_FILE,
    NoisePool,
    PairConfig,
    build_pairs,
    noise_variants,
    read_evidence_items,
    write_pairs,
)
from medkg.training.recipe import load_recipe
from medkg.training.stages import METRICS, read_done, run_recipe
from medkg.training.tiny import build_tiny_model
from medkg.training.trainers import load_dataset

OPTIONS = ["Marfan syndrome", "Cystic fibrosis", "Huntington disease", "Fabry disease"]


def chunk(cid: str, text: str, supports: bool | None) -> dict[str, Any]:
    """An evidence dict as ``medkg retrieve attach`` writes it (``Evidence`` as a dict)."""
    return {
        "corpus": "pubmed",
        "corpus_kind": "research",
        "query": "q",
        "style": "keyword",
        "facts": [],
        "chunk_id": cid,
        "doc_id": cid.split(":")[1],
        "title": f"Doc {cid}",
        "text": text,
        "rank": 1,
        "score": 1.0,
        "supports": supports,
    }


def item(n: int, question: str, gold: int, evidence: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": f"item{n}",
        "family": "phenotype_to_disease",
        "question": question,
        "options": OPTIONS,
        "answer_index": gold,
        "answer_letter": LETTERS[gold],
        "answer": OPTIONS[gold],
        "evidence": evidence,
    }


ITEMS = [
    # not known bare; supporting evidence -> knowledge pair; noise -> both wrong
    item(1, "Tall stature, arachnodactyly and lens dislocation?", 0, [
        chunk("pubmed:1:0", "Marfan syndrome causes ectopia lentis.", True),
    ]),
    # known bare; evidence right too (both right); its own non-supporting chunk misleads
    item(2, "Chronic cough, meconium ileus and salty sweat?", 1, [
        chunk("pubmed:2:0", "Cystic fibrosis presents with meconium ileus.", True),
        chunk("pubmed:2:1", "Marfan syndrome is a connective tissue disorder.", False),
    ]),
    # known bare, no evidence pack: no knowledge candidate; other items' chunks mislead
    item(3, "Chorea with an autosomal dominant CAG expansion?", 2, []),
    # not known bare; an unjudged chunk that names the answer -> knowledge pair
    item(4, "Angiokeratoma and acroparesthesia in a young man?", 3, [
        chunk("pubmed:4:0", "Fabry disease: angiokeratoma, acroparesthesia.", None),
    ]),
    # known bare; evidence that names a wrong option -> reversed
    item(5, "Chorea, psychiatric change and caudate atrophy?", 2, [
        chunk("pubmed:5:0", "Marfan syndrome was considered and excluded.", None),
    ]),
]  # fmt: skip
KNOWN = {"item2", "item3", "item5"}


class EvidenceReader(Generator):
    """Stands in for a policy model: picks the first option its evidence names; with no
    evidence naming an option, answers right on the questions it "knows", else option B
    (A for a question whose answer is B)."""

    def __init__(self) -> None:
        super().__init__(batch_size=4)
        self.prompts: list[str] = []

    @property
    def model_name(self) -> str:
        return "evidence-reader"

    def _generate_batch(self, prompts: list[Messages], params: GenParams) -> list[list[str]]:
        out = []
        for p in prompts:
            text = p[-1]["content"]
            self.prompts.append(text)
            evidence, _, question = text.rpartition("Question:\n")
            row = next(r for r in ITEMS if r["question"] in question)
            named = [i for i, o in enumerate(OPTIONS) if o in evidence]
            if named:
                pick = named[0]
            elif row["id"] in KNOWN:
                pick = row["answer_index"]
            else:
                pick = 0 if row["answer_index"] == 1 else 1
            out.append([f"Reasoning: weighing the findings.\nAnswer: {LETTERS[pick]}"] * params.n)
        return out


def test_pairs_by_type_with_outcomes_and_variant_accuracy() -> None:
    gen = EvidenceReader()
    result = build_pairs(ITEMS, gen, PairConfig(seed=3))
    report = result.report
    assert report["pairs"] == {"knowledge": 2, "robustness": 3}
    assert report["outcomes"]["knowledge"] == {
        "pair": 2, "both_right": 1, "both_wrong": 0, "reversed": 1,
    }  # fmt: skip
    assert report["outcomes"]["robustness"] == {
        "pair": 3, "both_right": 0, "both_wrong": 2, "reversed": 0,
    }  # fmt: skip
    acc = report["variant_accuracy"]
    assert (acc["bare"]["right"], acc["bare"]["n"]) == (3, 5)
    assert (acc["evidence"]["right"], acc["evidence"]["n"]) == (3, 4)
    assert (acc["noise"]["right"], acc["noise"]["n"]) == (0, 5)
    assert report["n_generations"] == len(gen.prompts) == 14  # bare 5 + evidence 4 + noise 5
    # the supports=False chunk never reaches an evidence prompt
    assert not any("Doc pubmed:2:0" in p and "Doc pubmed:2:1" in p for p in gen.prompts)

    by_key = {(p.pair_type, p.item_id): p for p in result.pairs}
    assert set(by_key) == {
        ("knowledge", "item1"), ("knowledge", "item4"),
        ("robustness", "item2"), ("robustness", "item3"), ("robustness", "item5"),
    }  # fmt: skip
    know = by_key[("knowledge", "item1")]
    assert "Evidence:\n[1] Doc pubmed:1:0: Marfan syndrome causes" in know.prompt[-1]["content"]
    assert (know.chosen_letter, know.rejected_letter, know.gold) == ("A", "B", "A")
    robust = by_key[("robustness", "item2")]
    assert robust.variant == "noise:pubmed:2:1"  # its own non-supporting chunk first
    assert "connective tissue disorder" in robust.prompt[-1]["content"]
    assert (robust.chosen_letter, robust.rejected_letter) == ("B", "A")
    # an irrelevant chunk from another item never names the item's answer
    other = by_key[("robustness", "item3")]
    assert "Huntington disease" not in other.prompt[-1]["content"].split("Question:")[0]
    # same inputs and seed: same pairs
    again = build_pairs(ITEMS, EvidenceReader(), PairConfig(seed=3))
    assert [p.row() for p in again.pairs] == [p.row() for p in result.pairs]


def test_trl_conversational_format_and_atomic_export(tmp_path: Path) -> None:
    result = build_pairs(ITEMS, EvidenceReader(), PairConfig())
    out = write_pairs(result, tmp_path / "pairs", extra={"items": "items.jsonl"})
    rows = [json.loads(line) for line in (out / PAIRS_FILE).read_text().splitlines()]
    assert len(rows) == 5 and len({r["id"] for r in rows}) == 5
    for row in rows:
        assert [m["role"] for m in row["prompt"]] == ["system", "user"]
        assert [m["role"] for m in row["chosen"]] == ["assistant"]
        assert [m["role"] for m in row["rejected"]] == ["assistant"]
        assert f"Answer: {row['chosen_letter']}" in row["chosen"][0]["content"]
        assert row["chosen_letter"] == row["gold"] != row["rejected_letter"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["pairs"] == {"knowledge": 2, "robustness": 3}
    assert manifest["items"] == "items.jsonl" and PAIRS_FILE in manifest["files"]
    ds = load_dataset(out, "dpo")  # what a dpo stage reads from the folder
    assert {"prompt", "chosen", "rejected"} <= set(ds.column_names)
    # an export is replaced; a foreign non-empty folder is refused
    write_pairs(result, out)
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me", encoding="utf-8")
    with pytest.raises(ValueError, match="refusing to overwrite"):
        write_pairs(result, foreign)
    assert (foreign / "notes.txt").read_text() == "keep me"


def test_bad_items_and_configs_are_named() -> None:
    bad = [dict(ITEMS[0]), {**ITEMS[1], "options": ["only one"]}]
    with pytest.raises(ValueError, match=r"item 2 \('item2'\): needs 2-8 'options'"):
        build_pairs(bad, EvidenceReader())
    with pytest.raises(ValueError, match=r"answer_index=9 names no option"):
        build_pairs([{**ITEMS[0], "answer_index": 9}], EvidenceReader())
    with pytest.raises(ValueError, match=r"'evidence' must be a list of objects"):
        build_pairs([{**ITEMS[0], "evidence": "text"}], EvidenceReader())
    with pytest.raises(ValueError, match=r"register_variant\('image'\)"):
        build_pairs(ITEMS, EvidenceReader(), PairConfig(pair_types=("cross_modal",)))
    with pytest.raises(ValueError, match="unknown"):
        build_pairs(ITEMS, EvidenceReader(), PairConfig(pair_types=("visual",)))


def test_read_evidence_items_from_a_folder(tmp_path: Path) -> None:
    folder = tmp_path / "attached"
    folder.mkdir()
    (folder / "items.jsonl").write_text("".join(json.dumps(r) + "\n" for r in ITEMS))
    assert [r["id"] for r in read_evidence_items(folder)] == [r["id"] for r in ITEMS]
    with pytest.raises(FileNotFoundError, match="no items file"):
        read_evidence_items(tmp_path)


def test_dpo_stage_of_two_steps_on_the_tiny_model(tmp_path: Path) -> None:
    import torch

    torch.set_num_threads(1)
    model = build_tiny_model(tmp_path / "tiny")
    pairs = write_pairs(build_pairs(ITEMS, EvidenceReader()), tmp_path / "pairs")
    recipe = tmp_path / "dpo.yaml"
    recipe.write_text(
        f"""\
output_dir: {tmp_path / "runs"}
model: {model}
stages:
  - name: hetero_dpo
    trainer: dpo
    dataset: {pairs}
    lora: true
    args: {{max_steps: 2, per_device_train_batch_size: 2, max_length: 256,
            learning_rate: 1e-3, save_steps: 1, beta: 0.1}}
""",
        encoding="utf-8",
    )
    [result] = run_recipe(load_recipe(recipe), log=lambda _: None)
    assert result.status == "trained" and result.global_step == 2
    done = read_done(result.output_dir)
    assert done is not None and done["trainer"] == "dpo" and done["lora"] is True
    logged = [json.loads(line) for line in (result.output_dir / METRICS).read_text().splitlines()]
    assert [r["step"] for r in logged if "loss" in r] == [1, 2]
    assert all("rewards/margins" in r for r in logged if "loss" in r)
    assert (result.final_dir / "model.safetensors").is_file()


def test_cli_dpo_pairs_with_a_local_model(tmp_path: Path) -> None:
    """The command end to end with a real (tiny, random) local model: it answers nonsense,
    so every candidate is counted and no pair is made, and the folder is still complete."""
    from typer.testing import CliRunner

    from medkg.cli.train import app

    model = build_tiny_model(tmp_path / "tiny")
    items = tmp_path / "items.jsonl"
    items.write_text("".join(json.dumps(r) + "\n" for r in ITEMS), encoding="utf-8")
    out = tmp_path / "pairs"
    args = ["dpo-pairs", str(items), "--out", str(out), "--generator", str(model)]
    result = CliRunner().invoke(app, [*args, "--max-new-tokens", "4", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["n_generations"] == 14 and report["generator"]["generator"] == "local"
    assert sum(report["outcomes"]["knowledge"].values()) == 4  # one candidate per evidence item
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["items"] == str(items) and (out / PAIRS_FILE).is_file()
    bad = CliRunner().invoke(app, [*args[:4], "--pair-type", "cross_modal"])
    assert bad.exit_code == 2 and "register_variant('image')" in bad.output


@pytest.mark.parametrize("label", ["letter", "missing"])
def test_noise_excludes_chunks_naming_the_gold_option_whatever_the_label(label: str) -> None:
    # Rows labelled by letter (label_field="answer" holding "C") or with no answer text: the
    # noise filter must test the gold option's text, not the raw label ("c" is in every chunk;
    # "" is in every chunk too), else no item gets a noisy chunk from another pack.
    rows = [dict(r) for r in ITEMS]
    for r in rows:
        if label == "letter":
            r["answer"] = r["answer_letter"]
        else:
            del r["answer"]
    field = "answer" if label == "letter" else "answer_index"
    config = PairConfig(label_field=field, noise_per_item=3)
    pool = NoisePool(rows, config.seed)
    huntington = rows[2]  # item3: no pack of its own, gold "Huntington disease"
    noise = [vid.split(":", 1)[1] for vid, _ in noise_variants(huntington, config, pool)]
    assert len(noise) == 3
    assert not any(c.startswith("pubmed:3") for c in noise)
    fabry = rows[3]  # item4: gold "Fabry disease"; only its own pack names it
    prompts = [m[-1]["content"] for _, m in noise_variants(fabry, config, pool)]
    assert prompts and not any("Fabry disease:" in p.split("Question:")[0] for p in prompts)
