"""Composed surface forms: disease names built by rules of clinical terminology from the
graph's own names, symbols and associations (no corpus strings). Added to the linker's
dictionary after every real form and every variant (:mod:`medkg.coverage.surfaces`), so a
real name or synonym always wins a tie.

* **site + morphology** — MeSH indexes a site-specific carcinoma under the site's
  "<Site> Neoplasms" descriptor (e.g. "Prostatic Neoplasms" holds prostate cancer; the
  morphology goes to a second descriptor such as "Carcinoma", which a one-concept linker
  cannot return). For every form "<site> cancer|neoplasm|tumor" (one or two site words,
  MeSH's own adjective and noun entry terms: "prostatic" and "prostate", "renal" and
  "kidney") of an entity whose name is a MeSH "… Neoplasms" descriptor, the forms
  "<site> carcinoma", "<site> adenocarcinoma" and "<site> malignancy" (and plurals) are
  added.
* **gene + deficiency** — "<SYMBOL> deficiency", "<SYMBOL>-deficient", "deficiency of
  <SYMBOL>" name the disease caused by loss of that gene's product. The graph's
  ``GENE_ASSOCIATED_WITH`` edges give the gene's diseases; the forms point at one: a
  disease whose name says "deficiency", else the one with the fewest words (the general
  entry rather than a subtype), then the linker's prefix order.
* **deficient** — for a real form "<X> deficiency", its adjective "<X> deficient"
  ("<X>-deficient") and the prepositional "deficiency of <X>".
* **disease / disorder** — "<X> disorders" for a real form "<X> diseases" and back
  (MeSH names classes "… Diseases"; text says "… disorders" as often).
* **class paraphrase** — "<X> defects|abnormalities|anomalies|dysfunction|manifestations"
  for a real form "<X> diseases|disorders" of one or two words before the head (also with
  a "system" before the head dropped: "immune defects" for "Immune System Diseases").
  Text names a class of diseases by its site or mechanism and a generic head as often as
  by "diseases"; MeSH lists few such entry terms. A real form of the paraphrase (MeSH
  "Eye Abnormalities", "Heart Defects, Congenital") always wins.
* **inherited class** — "autosomal recessive|dominant disease|disorder",
  "inherited|hereditary (human) disease|disorder", "X-linked disease|disorder": MeSH has no
  descriptor per inheritance mode; such phrases are indexed under the descriptor whose
  entry terms include "hereditary disease" / "genetic disorder" (Genetic Diseases,
  Inborn), and "X-linked" ones under the one named "x-linked genetic diseases" when the
  graph holds it. The target is looked up by those forms in the dictionary, never by id.
"""

from __future__ import annotations

import polars as pl

from medkg.coverage.variants import plural
from medkg.kg.model import GENE, GENE_ASSOCIATED_WITH, KnowledgeGraph
from medkg.text import surface_key

_TUMOUR_HEADS = frozenset({"cancer", "cancers", "neoplasm", "neoplasms", "tumor", "tumors",
                           "tumour", "tumours"})  # fmt: skip
_MORPHOLOGY = ("carcinoma", "adenocarcinoma", "malignancy")
_INHERITANCE = ("autosomal recessive", "autosomal dominant", "inherited", "hereditary",
                "inherited human", "hereditary human", "genetic human")  # fmt: skip
_CLASS_HEADS = ("disease", "diseases", "disorder", "disorders")
# the class entity is the one the dictionary gives these forms (MeSH entry terms)
_GENETIC_CLASS_FORMS = ("hereditary disease", "genetic disorder", "inherited diseases")
_XLINKED_CLASS_FORMS = ("x linked genetic diseases", "genetic diseases x linked")
_DEFICIENCY = ("{} deficiency", "{} deficiencies", "{} deficient", "deficiency of {}",
               "deficiencies of {}")  # fmt: skip


def _site_morphology(forms: pl.DataFrame) -> list[tuple[str, str, str]]:
    """(entity id, kind, key) for site + morphology heads of '<site> Neoplasms' entities."""
    site = forms.join(
        forms.filter(pl.col("form").str.to_lowercase().str.ends_with(" neoplasms"))
        .filter(pl.col("rank") == 0)
        .select("id")
        .unique(),
        on="id",
    )
    out = []
    for ent, kind, key in site.select("id", "kind", "key").iter_rows():
        words = key.split()
        if not 2 <= len(words) <= 3 or words[-1] not in _TUMOUR_HEADS:
            continue
        mod = " ".join(words[:-1])
        for head in _MORPHOLOGY:
            for h in (head, plural(head) or head):
                out.append((ent, kind, f" {mod} {h} "))
    return out


def _gene_deficiency(kg: KnowledgeGraph, kinds: tuple[str, ...], prefixes: tuple[str, ...]
                     ) -> list[tuple[str, str, str]]:  # fmt: skip
    genes = kg.nodes.filter((pl.col("kind") == GENE) & ~pl.col("obsolete")).select("id", "name")
    diseases = kg.nodes.filter(pl.col("kind").is_in(list(kinds)) & ~pl.col("obsolete")).select(
        pl.col("id").alias("dst"), pl.col("name").alias("dname"), pl.col("kind")
    )
    assoc = (
        kg.edges.filter(pl.col("rel") == GENE_ASSOCIATED_WITH)
        .select("src", "dst")
        .join(genes.rename({"id": "src"}), on="src")
        .join(diseases, on="dst")
    )
    prefix_rank = {p: i for i, p in enumerate(prefixes)}
    by_symbol: dict[str, list[tuple[tuple[int, int, int, str], str, str]]] = {}
    for _, dst, symbol, dname, kind in assoc.iter_rows():
        if not symbol or len(symbol) < 2 or not any(c.isupper() or c.isdigit() for c in symbol):
            continue
        order = (
            0 if "deficien" in dname.lower() else 1,
            len(dname.split()),
            prefix_rank.get(dst.split(":")[0], len(prefix_rank)),
            dst,
        )
        by_symbol.setdefault(symbol, []).append((order, dst, kind))
    out = []
    for symbol, cands in sorted(by_symbol.items()):
        _, dst, kind = min(cands)
        for pattern in _DEFICIENCY:
            out.append((dst, kind, surface_key(pattern.format(symbol))))
    return out


def _deficient(forms: pl.DataFrame) -> list[tuple[str, str, str]]:
    """'<X> deficient' and 'deficiency of <X>' for every real form '<X> deficiency'."""
    out: list[tuple[str, str, str]] = []
    real = forms.filter((pl.col("rank") < 3) & pl.col("key").str.ends_with(" deficiency "))
    for ent, kind, key in real.select("id", "kind", "key").iter_rows():
        x = key.strip()[: -len(" deficiency")].strip()
        if x and len(x.split()) <= 4:
            out.extend((ent, kind, f" {p} ") for p in (f"{x} deficient", f"deficiency of {x}"))
    return out


_CLASS_SWAP = {"disease": "disorder", "diseases": "disorders", "disorder": "disease",
               "disorders": "diseases"}  # fmt: skip


def _disease_disorder(forms: pl.DataFrame) -> list[tuple[str, str, str]]:
    """'<X> disorders' for a real form '<X> diseases' and back (two or more words)."""
    real = forms.filter(
        (pl.col("rank") < 3) & pl.col("key").str.contains(r" (?:diseases?|disorders?) $")
    )
    out = []
    for ent, kind, key in real.select("id", "kind", "key").iter_rows():
        words = key.split()
        if len(words) >= 2:
            out.append((ent, kind, " " + " ".join([*words[:-1], _CLASS_SWAP[words[-1]]]) + " "))
    return out


_PARAPHRASE_HEADS = ("defect", "defects", "abnormality", "abnormalities", "anomaly",
                     "anomalies", "dysfunction", "manifestations")  # fmt: skip


def _class_paraphrase(forms: pl.DataFrame) -> list[tuple[str, str, str]]:
    """'<X> <generic head>' for a real form '<X> [system] diseases|disorders' (X: 1-2 words)."""
    real = forms.filter(
        (pl.col("rank") < 3) & pl.col("key").str.contains(r" (?:diseases?|disorders?) $")
    )
    out: list[tuple[str, str, str]] = []
    for ent, kind, key in real.select("id", "kind", "key").iter_rows():
        words = key.split()[:-1]
        if words and words[-1] == "system":
            words = words[:-1]
        if 1 <= len(words) <= 2:
            out.extend((ent, kind, " " + " ".join([*words, h]) + " ") for h in _PARAPHRASE_HEADS)
    return out


def _inherited_class(forms: pl.DataFrame) -> list[tuple[str, str, str]]:
    real = forms.filter(pl.col("rank") < 3)
    out = []
    for targets, modes in (
        (_GENETIC_CLASS_FORMS, _INHERITANCE),
        (_XLINKED_CLASS_FORMS, ("x linked",)),
    ):
        keys = [surface_key(t) for t in targets]
        hit = real.filter(pl.col("key").is_in(keys)).sort("rank", "id").head(1)
        if hit.height == 0:
            continue
        ent, kind = hit.get_column("id")[0], hit.get_column("kind")[0]
        for mode in modes:
            for head in _CLASS_HEADS:
                out.append((ent, kind, surface_key(f"{mode} {head}")))
    return out


def composed_forms(
    kg: KnowledgeGraph, forms: pl.DataFrame, kinds: tuple[str, ...], prefixes: tuple[str, ...]
) -> pl.DataFrame:
    """Composed keys (columns ``id``, ``kind``, ``form``, ``key``) from the graph and its
    real surface forms ``forms`` (columns ``id``, ``kind``, ``form``, ``key``, ``rank``)."""
    rows = _site_morphology(forms) + _inherited_class(forms) + _deficient(forms)
    rows += _disease_disorder(forms) + _class_paraphrase(forms)
    rows += _gene_deficiency(kg, kinds, prefixes)
    return pl.DataFrame(
        {
            "id": [r[0] for r in rows],
            "kind": [r[1] for r in rows],
            "form": [r[2].strip() for r in rows],
            "key": [r[2] for r in rows],
        },
        schema={"id": pl.String(), "kind": pl.String(), "form": pl.String(), "key": pl.String()},
    )


__all__ = ["composed_forms"]
