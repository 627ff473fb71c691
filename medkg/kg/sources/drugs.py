"""Drugs with synonyms, brand names and structures, from ``drug-named-entity-recognition``.

Input formats
-------------
* **Bundled dictionary** (default): ``drug_named_entity_recognition/
  drug_ner_dictionary.pkl.bz2``, a bz2-compressed pickle of a dict with
  ``drug_canonical_to_data`` ({canonical: {name, drugbank_id?, mesh_id?, mesh_tree?,
  medline_plus_id?, smiles?, formula?, synonyms?, wikipedia_url?, ...}}),
  ``drug_variant_to_canonical`` ({variant: [canonical]}) and
  ``drug_variant_to_variant_data`` ({variant: {is_brand}}).
* **TSV**: UTF-8, tab-separated, one drug per line, an optional header line starting
  with ``name``, ``#`` comment lines skipped. Columns, in this order (trailing ones may
  be omitted; ``|`` separates several values)::

      name  drugbank_id  mesh_id  medline_plus_id  mesh_tree_numbers  synonyms  brand_names  smiles  formula

* **Another pickle** only with ``DrugsSource(path, trust_pickle=True)`` (pickle can run
  code while loading); it is unpickled with no globals allowed.

Identity
--------
MeSH ids are first checked against independent evidence (:mod:`mesh_evidence`: the MeSH
2026 descriptor list and MEDLINE index names; option ``verify_ids``, default on for
pickles, off for a TSV) by the drug's whole name: ``confirmed``; ``repaired`` (the
package's id is mostly a pharmacological action, Acetaminophen D058633 Antipyretics, and
the evidence has the drug's own descriptor: D000082); ``added`` (no id given, the name is a
descriptor's); ``unconfirmed`` (dropped). ``props.mesh_id_check`` / ``mesh_id_given``
record it; counts ``drugs.mesh_ids_*`` are in ``kg.report`` and the manifest counts.
DrugBank ids are checked the same way (:mod:`drugbank_evidence`: DrugBank's own id ->
name table; same option): ``confirmed`` (DrugBank's name), ``repaired`` (the package's
"Propranolol" carries DB03322, DrugBank's Dexpropranolol; DrugBank gives the name to
DB00571), ``synonym`` (DrugBank's name is one of the entry's synonyms: Aspirin DB00945
"Acetylsalicylic acid"), ``added`` (no id given, the name is a DrugBank name);
``unconfirmed`` ids (newer than the table, or naming another drug) are never an id nor an
xref: they stay in ``props.drugbank_id_unverified``. ``props.drugbank_id_check`` /
``drugbank_id_given`` record it; counts ``drugs.drugbank_ids_*``.

Node id, first that applies: ``DRUGBANK:DBxxxxx`` (confirmed); else ``MESH:<id>`` when
that MeSH id is reliable; else ``MEDLINEPLUS:<id>`` when no other drug shares it; else a
local id from the canonical name's slug (lower case, runs of other characters -> ``-``,
``-2``, ``-3`` ... on a clash): ``DRUGBANKX:<slug>`` for a drug whose DrugBank id was
unconfirmed, ``DRUGNER:<slug>`` otherwise. A MeSH id (after the check) listed by several drugs, or
equal to a descriptor of the MeSH disease dictionary (the ``mesh`` source, checked too),
is neither used as an id nor as an xref; it stays in ``props.mesh_id_unreliable``
(unchecked, the package gives 126 drugs D007155). Drugs whose ids coincide are merged (names become
synonyms). Every such decision is counted in ``kg.report``.

Nodes are kind ``Drug``; provenance ``source`` is ``"DrugNER"`` (registry key ``drugs``). Synonyms are the dictionary's variants: scope ``BRAND`` for
variants flagged ``is_brand``, ``RELATED`` otherwise. ``xrefs`` hold the other ids.
``props``: ``smiles``, ``formula``, ``mass_lower``/``mass_upper``, ``tree_numbers`` (MeSH),
``wikipedia_url``. (The package's NHS URL fields are malformed in 2.0.9 and not kept.)

Hierarchy: a drug with MeSH tree numbers gets ``IS_A`` to the drug owning the nearest
ancestor tree number whose categories are all the drug's own (a parent also filed in
another category is passed over, ``props.broader_in_other_categories``, counted as
``drugs.parents_in_other_categories_passed_over``), else to the MeSH category (``MESH:D02`` "Organic Chemicals", kind
``Category``) under ``MESH:D`` "Chemicals and Drugs". Drugs without tree numbers get no
``IS_A``; the tree builder places them. Only Chemicals-and-Drugs (``D``) numbers
make edges; any other branch is the ``mesh`` source's (kept in props, counted).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from medkg.kg.model import DRUG, IS_A, KnowledgeGraph, SourceInfo, props_json, stamp
from medkg.kg.sources.base import Source, SourceError, bundled_file, read_text_utf8, register_source
from medkg.kg.sources.drugbank_evidence import DrugbankNames, drugbank_names
from medkg.kg.sources.frames import (
    edge_table,
    grouped_synonyms,
    is_bundled,
    is_pickle_file,
    kind_rel_counts,
    load_dictionary_pickle,
    node_table,
    split_multi,
)
from medkg.kg.sources.mesh import MESH_ID, bundled_disease_descriptor_ids
from medkg.kg.sources.mesh_categories import category_table, is_tree_number, link_tree_numbers
from medkg.kg.sources.mesh_evidence import MeshNames, mesh_names

SOURCE_NAME = "DrugNER"
PACKAGE = "drug_named_entity_recognition"
PACKAGE_VERSION = "2.0.9"
RELATED, BRAND = "RELATED", "BRAND"
DRUGBANK_ID = re.compile(r"^DB\d{5}$")
MEDLINEPLUS_ID = re.compile(r"^a\d{6}$")
LICENSE = (
    "drug-named-entity-recognition (MIT); DrugBank open data (CC0); MeSH: U.S. National "
    "Library of Medicine (public domain); Wikipedia-derived names (CC BY-SA 3.0)"
)
URL = "https://github.com/fastdatascience/drug_named_entity_recognition"
CITATION = (
    "Wood, T.A., Drug Named Entity Recognition [Computer software], Fast Data Science Ltd; "
    "Knox C. et al., DrugBank 6.0, Nucleic Acids Res. 2024;52(D1):D1265-D1275."
)
TSV_COLUMNS = (
    "name",
    "drugbank_id",
    "mesh_id",
    "medline_plus_id",
    "mesh_tree_numbers",
    "synonyms",
    "brand_names",
    "smiles",
    "formula",
)
_PROP_KEYS = ("smiles", "formula", "mass_lower", "mass_upper", "wikipedia_url")
_SLUG = re.compile(r"[^a-z0-9]+")


@dataclass
class DrugEntry:
    """One canonical drug of the dictionary (or one TSV line)."""

    key: str
    name: str
    drugbank_id: str | None = None
    mesh_id: str | None = None
    medline_plus_id: str | None = None
    tree_numbers: list[str] = field(default_factory=list)
    synonyms: list[tuple[str, str]] = field(default_factory=list)  # (text, scope)
    props: dict[str, Any] = field(default_factory=dict)
    #: Verdict of the MeSH evidence check: "unchecked", "confirmed", "repaired",
    #: "unconfirmed" (the id is dropped) or "added" (found by the drug's name).
    mesh_check: str = "unchecked"
    #: The MeSH id the input gave, where the check replaced or dropped it.
    mesh_given: str | None = None
    #: Verdict of the DrugBank evidence check (see :mod:`drugbank_evidence`, plus
    #: "unchecked" and "added"), and the DrugBank id the input gave where it was replaced
    #: or dropped.
    drugbank_check: str = "unchecked"
    drugbank_given: str | None = None


def verify_drug_mesh_ids(entries: list[DrugEntry], evidence: MeshNames) -> dict[str, int]:
    """Check each drug's MeSH id against the evidence (in place), by whole name only.

    The package often gives a drug one of its pharmacological actions (Acetaminophen
    D058633 Antipyretics): where the evidence has the drug's own name, its UI replaces
    the given one (``repaired``); a drug without a MeSH id whose name is a descriptor's
    gets it (``added``); a given id naming something else with no descriptor of the
    drug's name is dropped (``unconfirmed``, kept in ``props.mesh_id_unreliable``).
    """
    counts = dict.fromkeys(("confirmed", "repaired", "unconfirmed", "added"), 0)
    for e in entries:
        check = evidence.verify(e.mesh_id, e.name, word_keys=False)
        if e.mesh_id is None:
            if check.ui is None:
                continue
            e.mesh_check = "added"
        else:
            e.mesh_check = check.verdict
            if check.ui != e.mesh_id:
                e.mesh_given = e.mesh_id
        e.mesh_id = check.ui
        counts[e.mesh_check] += 1
    return {f"drugs.mesh_ids_{verdict}": n for verdict, n in counts.items()}


def verify_drug_drugbank_ids(entries: list[DrugEntry], evidence: DrugbankNames) -> dict[str, int]:
    """Check each drug's DrugBank id against DrugBank's own names (in place).

    The entry's name decides before its synonyms: the "Propranolol" entry lists
    "dexpropranolol" among its synonyms, and DB03322 is Dexpropranolol, but DrugBank names
    DB00571 "Propranolol", so the id is repaired rather than confirmed through a synonym.
    An unconfirmed id is dropped (``drugbank_given`` keeps it).
    """
    counts = dict.fromkeys(("confirmed", "repaired", "synonym", "unconfirmed", "added"), 0)
    for e in entries:
        if e.drugbank_id is None:
            found = evidence.id_of(e.name)
            if found is None:
                continue
            e.drugbank_id, e.drugbank_check = found, "added"
        else:
            check = evidence.verify(e.drugbank_id, e.name, (text for text, _ in e.synonyms))
            e.drugbank_check = check.verdict
            if check.drugbank_id != e.drugbank_id:
                e.drugbank_given = e.drugbank_id
            e.drugbank_id = check.drugbank_id
        counts[e.drugbank_check] += 1
    return {f"drugs.drugbank_ids_{verdict}": n for verdict, n in counts.items()}


def _clean(value: Any) -> str | None:
    text = str(value).strip() if value is not None else ""
    return text or None


def read_drug_pickle(obj: Mapping[str, Any]) -> tuple[list[DrugEntry], dict[str, int]]:
    """Entries of the bundled dictionary, and counts of what could not be attached."""
    canon = obj["drug_canonical_to_data"]
    flags = obj.get("drug_variant_to_variant_data") or {}
    brands = {v for v, f in flags.items() if isinstance(f, Mapping) and f.get("is_brand")}
    variants: dict[str, list[tuple[str, str]]] = defaultdict(list)
    orphans = 0
    for variant, targets in obj["drug_variant_to_canonical"].items():
        scope = BRAND if variant in brands else RELATED
        for target in targets:
            if target in canon:
                variants[target].append((variant, scope))
            else:
                orphans += 1
    unattached_flags = sum(1 for v in flags if v not in obj["drug_variant_to_canonical"])
    entries = []
    for key, data in canon.items():
        syn = list(variants.get(key, []))
        syn.extend((s, RELATED) for s in data.get("synonyms") or [])
        entries.append(
            DrugEntry(
                key=key,
                name=_clean(data.get("name")) or key,
                drugbank_id=_clean(data.get("drugbank_id")),
                mesh_id=_clean(data.get("mesh_id")),
                medline_plus_id=_clean(data.get("medline_plus_id")),
                tree_numbers=[t for t in (_clean(t) for t in data.get("mesh_tree") or []) if t],
                synonyms=syn,
                props={k: data[k] for k in _PROP_KEYS if data.get(k) is not None},
            )
        )
    return entries, {
        "drugs.variants_without_entry": orphans,
        "drugs.brand_flags_without_variant": unattached_flags,
    }


def read_drug_tsv(path: Path) -> list[DrugEntry]:
    """Entries of the documented TSV format; any bad line raises with its number."""
    entries = []
    header_seen = False
    for lineno, line in enumerate(read_text_utf8(path).splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        cells = [c.strip() for c in line.split("\t")]
        if not header_seen:
            header_seen = True
            if cells[0].lower() == "name":
                continue
        if len(cells) > len(TSV_COLUMNS):
            raise SourceError(
                path, f"expected at most {len(TSV_COLUMNS)} columns, got {len(cells)}", lineno
            )
        row = dict(zip(TSV_COLUMNS, cells + [""] * (len(TSV_COLUMNS) - len(cells)), strict=True))
        if not row["name"]:
            raise SourceError(path, "empty drug name", lineno)
        for col, pattern in (
            ("drugbank_id", DRUGBANK_ID),
            ("mesh_id", MESH_ID),
            ("medline_plus_id", MEDLINEPLUS_ID),
        ):
            if row[col] and not pattern.match(row[col]):
                raise SourceError(path, f"malformed {col}: {row[col]!r}", lineno)
        trees = split_multi(row["mesh_tree_numbers"])
        bad = [t for t in trees if not is_tree_number(t)]
        if bad:
            raise SourceError(path, f"malformed tree number(s) {bad}", lineno)
        entries.append(
            DrugEntry(
                key=row["name"].lower(),
                name=row["name"],
                drugbank_id=row["drugbank_id"] or None,
                mesh_id=row["mesh_id"] or None,
                medline_plus_id=row["medline_plus_id"] or None,
                tree_numbers=trees,
                synonyms=[(s, RELATED) for s in split_multi(row["synonyms"])]
                + [(s, BRAND) for s in split_multi(row["brand_names"])],
                props={k: row[k] for k in ("smiles", "formula") if row[k]},
            )
        )
    if not entries:
        raise SourceError(path, "no drug lines")
    return entries


@register_source("drugs")
class DrugsSource(Source):
    """Drugs (DrugBank, MeSH, MedlinePlus ids) from drug-named-entity-recognition.

    Options: ``trust_pickle`` (see module docs), ``version``, and ``disease_mesh_ids``
    (descriptor ids a drug must not take; default: those of the bundled ``mesh`` source).
    """

    option_names = frozenset(("disease_mesh_ids", "trust_pickle", "verify_ids", "version"))

    title = "Drugs with synonyms and brands (drug-named-entity-recognition)"

    @classmethod
    def default_path(cls) -> Path:
        return bundled_file(PACKAGE, "drug_ner_dictionary.pkl.bz2")

    def _load(self) -> KnowledgeGraph:  # Source.load pauses the GC around this
        skipped: dict[str, int] = {}
        if is_pickle_file(self.path):
            obj = load_dictionary_pickle(
                self.path,
                bundled=is_bundled(self.path, self.default_path),
                trust=bool(self.options.get("trust_pickle", False)),
                required=("drug_canonical_to_data", "drug_variant_to_canonical"),
            )
            entries, skipped = read_drug_pickle(obj)
            version = f"{PACKAGE_VERSION} (DrugBank open data, MeSH 2025)"
        else:
            entries = read_drug_tsv(self.path)
            version = "tsv"
        version = str(self.options.get("version", version))
        # As for the mesh source: a pickle's ids are checked by default, a TSV's on request.
        if self.options.get("verify_ids", is_pickle_file(self.path)):
            skipped.update(verify_drug_mesh_ids(entries, mesh_names()))
            skipped.update(verify_drug_drugbank_ids(entries, drugbank_names()))
        disease_ids = self.options.get("disease_mesh_ids")
        if disease_ids is None:
            disease_ids = bundled_disease_descriptor_ids()
        info = SourceInfo(SOURCE_NAME, version, LICENSE, str(self.path), URL, CITATION)
        return build_drug_graph(entries, info, frozenset(disease_ids), skipped)


def _slug(text: str) -> str:
    return _SLUG.sub("-", text.lower()).strip("-") or "drug"


def build_drug_graph(
    entries: list[DrugEntry],
    info: SourceInfo,
    disease_mesh_ids: frozenset[str] = frozenset(),
    report: Mapping[str, int] | None = None,
) -> KnowledgeGraph:
    """Assign ids, merge drugs sharing one, derive the MeSH D-tree hierarchy, stamp provenance."""
    counts: dict[str, int] = defaultdict(int, report or {})
    mesh_users: dict[str, int] = defaultdict(int)
    medline_users: dict[str, int] = defaultdict(int)
    for e in entries:
        if e.mesh_id:
            mesh_users[e.mesh_id] += 1
        if e.medline_plus_id:
            medline_users[e.medline_plus_id] += 1

    slugs: set[str] = set()
    groups: dict[str, list[DrugEntry]] = {}
    xrefs_by_node: dict[str, dict[str, None]] = defaultdict(dict)
    unreliable_mesh: dict[str, dict[str, None]] = defaultdict(dict)
    for e in entries:
        xrefs: list[str] = []
        db = e.drugbank_id if e.drugbank_id and DRUGBANK_ID.match(e.drugbank_id) else None
        if e.drugbank_id and not db:
            counts["drugs.malformed_drugbank_ids"] += 1
        mesh = None
        if e.mesh_id:
            if not MESH_ID.match(e.mesh_id):
                counts["drugs.malformed_mesh_ids"] += 1
            elif mesh_users[e.mesh_id] > 1:
                counts["drugs.mesh_ids_shared_by_several_drugs"] += 1
            elif e.mesh_id in disease_mesh_ids:
                counts["drugs.mesh_ids_colliding_with_disease_descriptors"] += 1
            else:
                mesh = f"MESH:{e.mesh_id}"
        medline = None
        if e.medline_plus_id:
            if not MEDLINEPLUS_ID.match(e.medline_plus_id):
                counts["drugs.malformed_medlineplus_ids"] += 1
            else:
                medline = f"MEDLINEPLUS:{e.medline_plus_id}"
        if db:
            node_id = f"DRUGBANK:{db}"
        elif mesh:
            node_id = mesh
        elif medline and medline_users[e.medline_plus_id or ""] == 1:
            node_id = medline
        else:
            slug = base = _slug(e.key)
            n = 1
            while slug in slugs:
                n += 1
                slug = f"{base}-{n}"
            counts["drugs.local_id_slug_clashes"] += int(n > 1)
            slugs.add(slug)
            if e.drugbank_check == "unconfirmed":
                # Labelled local: the package's DrugBank id could not be confirmed.
                node_id = f"DRUGBANKX:{slug}"
                counts["drugs.unconfirmed_drugbank_local_ids"] += 1
            else:
                node_id = f"DRUGNER:{slug}"
                counts["drugs.local_ids"] += 1
        xrefs = [x for x in (f"DRUGBANK:{db}" if db else None, mesh, medline) if x and x != node_id]
        if e.mesh_id and mesh is None:
            unreliable_mesh[node_id][e.mesh_id] = None
        if e.mesh_check == "unconfirmed" and e.mesh_given:
            unreliable_mesh[node_id][e.mesh_given] = None
        xrefs_by_node[node_id].update(dict.fromkeys(xrefs))
        groups.setdefault(node_id, []).append(e)

    cols: dict[str, Any] = {k: [] for k in ("id", "name", "xrefs", "props")}
    owner: list[int] = []  # flat synonym rows: node index, text, scope
    texts: list[str] = []
    scopes: list[str] = []
    trees_by_node: dict[str, list[str]] = {}
    for index, (node_id, group) in enumerate(groups.items()):
        primary = group[0]
        merged = [e.name for e in group[1:]]
        texts.extend(merged)
        scopes.extend([RELATED] * len(merged))
        owner.extend([index] * len(merged))
        for e in group:
            for text, scope in e.synonyms:
                texts.append(text)
                scopes.append(scope)
            owner.extend([index] * len(e.synonyms))
        trees = list(dict.fromkeys(t for e in group for t in e.tree_numbers))
        valid = [t for t in trees if is_tree_number(t)]
        counts["drugs.invalid_tree_numbers_ignored"] += len(trees) - len(valid)
        in_branch = [t for t in valid if t.startswith("D")]
        counts["drugs.non_d_tree_numbers_not_used_for_hierarchy"] += len(valid) - len(in_branch)
        if in_branch:
            trees_by_node[node_id] = in_branch
        props: dict[str, Any] = {}
        for e in reversed(group):  # the first entry's values win
            props.update(e.props)
        props["tree_numbers"] = sorted(valid) or None
        props["mesh_id_unreliable"] = sorted(unreliable_mesh.get(node_id, {})) or None
        checks = {e.mesh_check for e in group} - {"unchecked"}
        props["mesh_id_check"] = sorted(checks) or None
        props["mesh_id_given"] = sorted({e.mesh_given for e in group if e.mesh_given}) or None
        props["merged_names"] = merged or None
        db_checks = {e.drugbank_check for e in group} - {"unchecked"}
        props["drugbank_id_check"] = sorted(db_checks) or None
        props["drugbank_id_given"] = (
            sorted({e.drugbank_given for e in group if e.drugbank_given and e.drugbank_id}) or None
        )
        props["drugbank_id_unverified"] = (
            sorted({e.drugbank_given for e in group if e.drugbank_given and not e.drugbank_id})
            or None
        )
        cols["id"].append(node_id)
        cols["name"].append(primary.name)
        cols["xrefs"].append(list(xrefs_by_node[node_id]))
        cols["props"].append(props)
    cols["synonyms"], cols["synonym_scopes"] = grouped_synonyms(cols["name"], owner, texts, scopes)
    counts["drugs.entries_merged_into_shared_id"] = len(entries) - len(groups)

    # As for diseases (sources/mesh.py): a parent in a category the drug is not in would
    # pass that category on through IS_A (Baclofen under gamma-Aminobutyric Acid, also
    # filed under D12 Amino Acids, Peptides, and Proteins); it is passed over for the next
    # ancestor position and kept in props.broader_in_other_categories.
    cats = {node_id: {t[:3] for t in trees} for node_id, trees in trees_by_node.items()}
    links = link_tree_numbers(
        trees_by_node, accept=lambda child, parent: cats[parent] <= cats[child]
    )
    passed_over: dict[str, list[str]] = defaultdict(list)
    for child, parent in links.skipped:
        passed_over[child].append(parent)
    for node_id, props in zip(cols["id"], cols["props"], strict=True):
        props["broader_in_other_categories"] = sorted(passed_over.get(node_id, ())) or None
    cols["props"] = [props_json(p) for p in cols["props"]]
    counts["drugs.parents_in_other_categories_passed_over"] = len(links.skipped)
    cat_nodes, cat_edges = category_table(links)
    drug_nodes = node_table({**cols, "kind": [DRUG] * len(cols["id"])})
    nodes = pl.concat([drug_nodes.select(cat_nodes.columns), cat_nodes], how="vertical")
    edges = edge_table([*links.edges, *cat_edges], IS_A)
    nodes, edges = stamp(nodes, info), stamp(edges, info)
    counts["drugs.duplicate_tree_numbers_first_owner_kept"] = links.duplicate_tree_numbers
    counts["drugs.tree_numbers_unknown_top_level"] = links.unknown_top_level
    # The identity verdicts travel with the source into the store's manifest.
    identity = {
        k.removeprefix("drugs."): v
        for k, v in counts.items()
        if "mesh_ids_" in k or "drugbank_ids_" in k
    }
    info = SourceInfo(**{**info.to_dict(), "counts": {**kind_rel_counts(nodes, edges), **identity}})
    return KnowledgeGraph.from_frames(nodes, edges, [info], dict(counts))
