"""OBO 1.2/1.4 flat-file loader (any ontology; HPO builds on it).

Reads ``[Term]`` stanzas: id, name, def, synonym (with scope), xref, is_a, alt_id,
is_obsolete, replaced_by, consider, relationship, subset. An xref whose qualifiers name
MONDO sources other than ``MONDO:equivalentTo`` (``{source="MONDO:relatedTo"}``: a loose
cross-reference, not one of MONDO's curated 1:1 equivalences) goes to
``props.related_xrefs`` and makes no identity (MAPS_TO) edge. Every tag value may end with an
OBO 1.4 qualifier block and a comment (``is_a: MONDO:0005071 {source="..."} ! nervous
system disorder``): both are split off (:func:`split_value`), never read as part of the id.
``subset:`` memberships are kept in ``props.subsets``. ``[Typedef]``/``[Instance]``
stanzas and tags medkg does not model are counted in the report, not silently dropped. Bad lines raise :class:`SourceError` with file and line; dangling ``is_a``
parents and ``is_a`` cycles are repaired (edge dropped) and counted.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from medkg.kg.curie import CurieError, normalise_curie
from medkg.kg.hierarchy import break_cycles
from medkg.kg.model import (
    CATEGORY,
    CONCEPT,
    DISEASE,
    DRUG,
    IS_A,
    PHENOTYPE,
    REPLACED_BY,
    KnowledgeGraph,
    SourceInfo,
    edges_frame,
    nodes_frame,
    stamp,
)
from medkg.kg.sources.base import Source, SourceError, read_text_utf8, register_source

_QUOTED = re.compile(r'^"((?:[^"\\]|\\.)*)"\s*(.*)$')
_SCOPES = ("EXACT", "BROAD", "NARROW", "RELATED")
_TRAILING_MODIFIER = re.compile(r"\s*\{[^{}]*\}\s*$")
# Tags whose whole value is one token or free text (def/synonym are quoted and split there).
_PLAIN_TAGS = frozenset(["name", "subset", "is_obsolete", "comment", "namespace", "created_by"])


@dataclass
class OboTerm:
    id: str
    line: int
    name: str | None = None
    definition: str | None = None
    synonyms: list[str] = field(default_factory=list)
    synonym_scopes: list[str] = field(default_factory=list)
    xrefs: list[str] = field(default_factory=list)
    related_xrefs: list[str] = field(default_factory=list)  # loose: no identity (see xref)
    parents: list[tuple[str, int]] = field(default_factory=list)
    alt_ids: list[str] = field(default_factory=list)
    obsolete: bool = False
    replaced_by: list[str] = field(default_factory=list)
    consider: list[str] = field(default_factory=list)
    relationships: list[tuple[str, str, int]] = field(default_factory=list)
    comment: str | None = None
    subsets: list[str] = field(default_factory=list)


@dataclass
class OboDocument:
    header: dict[str, list[str]]
    terms: list[OboTerm]
    report: Counter[str]

    @property
    def data_version(self) -> str | None:
        for key in ("data-version", "date"):
            if self.header.get(key):
                return self.header[key][0]
        for pv in self.header.get("property_value", []):
            if pv.startswith("owl:versionInfo"):
                m = _QUOTED.match(pv.split(None, 1)[1]) if " " in pv else None
                if m:
                    return m.group(1)
        return None

    @property
    def license(self) -> str | None:
        for pv in self.header.get("property_value", []):
            parts = pv.split()
            if len(parts) >= 2 and (
                parts[0].lower() in {"terms:license", "dcterms:license", "dc:license"}
                or parts[0].lower().endswith(("/terms/license", "/elements/1.1/license"))
            ):
                return parts[1].strip('"')
        return None


def _unquote(value: str, path: Path, line: int, tag: str) -> tuple[str, str]:
    m = _QUOTED.match(value)
    if not m:
        raise SourceError(path, f"{tag}: expected a quoted string, got {value[:60]!r}", line)
    text = m.group(1).replace('\\"', '"').replace("\\\\", "\\")
    return text, m.group(2)


def split_value(value: str) -> tuple[str, str | None, str | None]:
    """OBO 1.4 tag value -> (value, trailing qualifier block, comment).

    ``MONDO:0005071 {source="MONDO:equivalentTo"} ! nervous system disorder`` gives
    ``("MONDO:0005071", 'source="MONDO:equivalentTo"', "nervous system disorder")``. A ``!``
    or ``{`` inside a quoted string or escaped with a backslash is part of the value.
    """
    in_quotes = False
    escaped = False
    comment_at = None
    for i, ch in enumerate(value):
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == '"':
            in_quotes = not in_quotes
        elif ch == "!" and not in_quotes and (i == 0 or value[i - 1].isspace()):
            comment_at = i
            break
    comment = value[comment_at + 1 :].strip() if comment_at is not None else None
    body = (value[:comment_at] if comment_at is not None else value).rstrip()
    qualifiers = None
    m = _TRAILING_MODIFIER.search(body)
    if m and body.count('"', 0, m.start()) % 2 == 0:
        qualifiers = body[m.start() :].strip()[1:-1].strip()
        body = body[: m.start()].rstrip()
    return body.replace("\\!", "!"), qualifiers, comment or None


_MONDO_SOURCE = re.compile(r'source\s*=\s*"(MONDO:[A-Za-z]+)"')


def loose_xref(sources: list[str]) -> bool:
    """Whether an xref's ``source`` annotations say it is no equivalence: MONDO annotates
    its curated 1:1 equivalences ``MONDO:equivalentTo``; an xref whose MONDO sources are
    all something else (``MONDO:relatedTo``, ``MONDO:obsoleteEquivalent`` ...) is loose."""
    mondo = [s for s in sources if s.startswith("MONDO:")]
    return bool(mondo) and "MONDO:equivalentTo" not in mondo


def _loose_xref(qualifiers: str | None) -> bool:
    return loose_xref(_MONDO_SOURCE.findall(qualifiers or ""))


def _strip_comment(value: str) -> str:
    # "HP:0000118 {source=...} ! Phenotypic abnormality" -> "HP:0000118"
    return split_value(value)[0]


def parse_obo(path: Path, prefixes: Mapping[str, str] | None = None) -> OboDocument:
    """Parse an OBO file into header tags and terms. Raises :class:`SourceError`."""
    text = read_text_utf8(path)
    header: dict[str, list[str]] = {}
    terms: list[OboTerm] = []
    report: Counter[str] = Counter()
    seen: dict[str, int] = {}
    current: OboTerm | None = None
    stanza: str | None = None  # None = header

    def curie(value: str, line: int, tag: str) -> str:
        try:
            return normalise_curie(value, prefixes)
        except CurieError as exc:
            raise SourceError(path, f"{tag}: {exc}", line) from None

    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("!"):
            continue
        if line.startswith("[") and line.endswith("]"):
            stanza = line[1:-1].strip()
            current = None
            if stanza != "Term":
                report[f"obo.skipped_stanza.{stanza}"] += 1
            continue
        tag, sep, value = line.partition(":")
        if not sep:
            raise SourceError(
                path, f"malformed line (expected 'tag: value'): {line[:80]!r}", lineno
            )
        tag = tag.strip()
        value = value.strip()
        if stanza is None:
            header.setdefault(tag, []).append(value)
            continue
        if stanza != "Term":
            continue
        if tag == "id":
            if current is not None:
                raise SourceError(path, "second id in one [Term] stanza", lineno)
            term_id = curie(_strip_comment(value), lineno, "id")
            if term_id in seen:
                raise SourceError(
                    path, f"duplicate id {term_id} (first defined at line {seen[term_id]})", lineno
                )
            seen[term_id] = lineno
            current = OboTerm(id=term_id, line=lineno)
            terms.append(current)
            continue
        if current is None:
            raise SourceError(path, f"tag {tag!r} before the stanza's id", lineno)
        if tag in _PLAIN_TAGS:  # trailing {qualifiers} and "! comment" are not part of it
            value = split_value(value)[0]
        if tag == "name":
            current.name = value
        elif tag == "subset":
            current.subsets.append(value)
        elif tag == "def":
            current.definition, _ = _unquote(value, path, lineno, "def")
        elif tag == "synonym":
            syn, rest = _unquote(value, path, lineno, "synonym")
            words = split_value(rest)[0].split()
            # OBO 1.2 allows no scope ('"x" []'): RELATED, as the spec says
            scope = words[0] if words and not words[0].startswith("[") else "RELATED"
            if scope not in _SCOPES:
                raise SourceError(path, f"synonym scope {scope!r} not one of {_SCOPES}", lineno)
            current.synonyms.append(syn)
            current.synonym_scopes.append(scope)
        elif tag == "xref":
            body, qualifiers, _comment = split_value(value)
            ref = body.split(" ", 1)[0].strip('"')
            try:
                xref = normalise_curie(ref, prefixes)
            except CurieError:
                report["obo.xref_not_curie"] += 1
            else:
                if _loose_xref(qualifiers):
                    current.related_xrefs.append(xref)
                    report["obo.xref_not_equivalence_kept_in_props"] += 1
                else:
                    current.xrefs.append(xref)
        elif tag == "is_a":
            current.parents.append((curie(_strip_comment(value), lineno, "is_a"), lineno))
        elif tag == "alt_id":
            current.alt_ids.append(curie(_strip_comment(value), lineno, "alt_id"))
        elif tag == "is_obsolete":
            current.obsolete = value.lower() == "true"
        elif tag == "replaced_by":
            current.replaced_by.append(curie(_strip_comment(value), lineno, "replaced_by"))
        elif tag == "consider":
            current.consider.append(curie(_strip_comment(value), lineno, "consider"))
        elif tag == "relationship":
            parts = _strip_comment(value).split()
            if len(parts) < 2:
                raise SourceError(path, f"relationship needs 'type target': {value!r}", lineno)
            current.relationships.append(
                (parts[0], curie(parts[1], lineno, "relationship"), lineno)
            )
        elif tag == "comment":
            current.comment = value
        else:
            report[f"obo.unmodelled_tag.{tag}"] += 1
    if not terms:
        raise SourceError(path, "no [Term] stanzas found: is this an OBO file?")
    missing_names = [t.id for t in terms if not t.name]
    if missing_names:
        report["obo.terms_without_name"] = len(missing_names)
    return OboDocument(header=header, terms=terms, report=report)


def obo_to_graph(
    doc: OboDocument,
    info: SourceInfo,
    path: Path,
    kind_of: Any = None,
    default_kind: str = CATEGORY,
    rare_subsets: frozenset[str] = frozenset(),
) -> KnowledgeGraph:
    """Turn parsed terms into node and edge tables with provenance.

    ``kind_of`` is an optional callable ``(term, parents_by_id) -> kind`` for sources
    whose kinds depend on the branch (HPO); otherwise every term gets ``default_kind``.
    ``subset:`` memberships go to ``props.subsets``; a term in one of ``rare_subsets`` also
    gets ``props.rare_subset`` (rarity evidence, see :mod:`medkg.kg.rarity`).
    """
    report: Counter[str] = Counter(doc.report)
    ids = {t.id for t in doc.terms}
    node_rows: list[dict[str, Any]] = []
    edge_rows: list[dict[str, Any]] = []
    kinds = kind_of(doc.terms) if kind_of else {}
    for t in doc.terms:
        props: dict[str, Any] = {}
        if t.alt_ids:
            props["alt_ids"] = t.alt_ids
        if t.consider:
            props["consider"] = t.consider
        if t.related_xrefs:
            props["related_xrefs"] = t.related_xrefs
        if t.comment:
            props["comment"] = t.comment
        if t.subsets:
            props["subsets"] = t.subsets
            rare = [sub for sub in t.subsets if sub in rare_subsets]
            if rare:
                props["rare_subset"] = rare[0]
        node_rows.append(
            {
                "id": t.id,
                "kind": kinds.get(t.id, default_kind),
                "name": t.name or t.id,
                "definition": t.definition,
                "synonyms": t.synonyms,
                "synonym_scopes": t.synonym_scopes,
                "xrefs": t.xrefs,
                "obsolete": t.obsolete,
                "props": props,
            }
        )
        for parent, _line in t.parents:
            if parent not in ids:
                report["obo.dangling_is_a_dropped"] += 1
                continue
            edge_rows.append({"src": t.id, "rel": IS_A, "dst": parent})
        for target in t.replaced_by:
            if target in ids:
                edge_rows.append({"src": t.id, "rel": REPLACED_BY, "dst": target})
            else:
                report["obo.dangling_replaced_by_dropped"] += 1
        for rel_type, target, _line in t.relationships:
            if target not in ids:
                report["obo.dangling_relationship_dropped"] += 1
                continue
            rel = re.sub(r"[^A-Za-z0-9]+", "_", rel_type).upper().strip("_") or "RELATED_TO"
            if not rel[0].isalpha():
                rel = "R_" + rel
            edge_rows.append({"src": t.id, "rel": rel, "dst": target})
    nodes = stamp(nodes_frame(node_rows), info)
    edges = edges_frame(edge_rows)
    edges, removed = break_cycles(edges)
    if removed:
        report["obo.is_a_cycle_edges_removed"] = len(removed)
        report_sample = [f"{s} IS_A {d}" for s, d in removed[:10]]
    else:
        report_sample = []
    edges = stamp(edges, info)
    counts = {
        "terms": len(doc.terms),
        "obsolete": sum(t.obsolete for t in doc.terms),
        **{f"edges.{k}": v for k, v in edges.group_by("rel").len().iter_rows()},
    }
    full_report: dict[str, Any] = {f"{info.name}.{k}": v for k, v in sorted(report.items())}
    if report_sample:
        full_report[f"{info.name}.obo.is_a_cycle_edges_removed.sample"] = report_sample
    info = SourceInfo(
        name=info.name,
        version=info.version,
        license=info.license,
        path=str(path),
        url=info.url,
        citation=info.citation,
        counts=counts,
    )
    return KnowledgeGraph.from_frames(nodes, edges, [info], full_report)


# Default kind of an imported ontology's terms, by the prefix most of its ids carry.
KIND_BY_PREFIX = {
    "MONDO": DISEASE,
    "DOID": DISEASE,
    "ORPHA": DISEASE,
    "OMIM": DISEASE,
    "MESH": DISEASE,
    "ICD10": DISEASE,
    "ICD10CM": DISEASE,
    "NCIT": CONCEPT,
    "HP": PHENOTYPE,
    "CHEBI": DRUG,
    "DRUGBANK": DRUG,
}


def ontology_name(doc: OboDocument, path: Path) -> str:
    """A source name: the header's ``ontology`` tag (its last path segment if it is an IRI
    or a file name, without extension), else the file name's first part; upper case."""
    tag = (doc.header.get("ontology") or [""])[0].strip()
    base = tag.rstrip("/").rsplit("/", 1)[-1] if tag else path.name
    base = base.split(".", 1)[0] or path.stem
    return re.sub(r"[^A-Za-z0-9_-]+", "_", base).strip("_").upper() or "OBO"


def default_kind_for(doc: OboDocument) -> str:
    """The kind the ids' dominant prefix implies; Concept for other vocabularies."""
    prefixes = Counter(t.id.partition(":")[0] for t in doc.terms)
    top = prefixes.most_common(1)[0][0] if prefixes else ""
    return KIND_BY_PREFIX.get(top.upper(), CONCEPT)


@register_source("obo")
class OboSource(Source):
    """Any OBO 1.2/1.4 ontology a user points at (no bundled file).

    Options: ``name`` (source name, default from the ``ontology`` header tag, see
    :func:`ontology_name`), ``version``, ``license``, ``kind`` (entity kind for every term;
    default from the ids' prefix: MONDO/DOID/ORPHA/OMIM terms are Disease, HP Phenotype,
    CHEBI Drug, anything else Concept), ``prefixes`` (declared prefix spellings, e.g.
    ``{"mondo": "MONDO"}``), ``rare_subsets`` (names of ``subset:`` values whose terms are
    rare diseases; a name no term uses and no ``subsetdef`` declares is an error).
    """

    option_names = frozenset(("kind", "license", "name", "prefixes", "rare_subsets", "version"))

    title = "Any OBO 1.2/1.4 file"
    default_enabled = False

    def _load(self) -> KnowledgeGraph:
        prefixes = self.options.get("prefixes")
        doc = parse_obo(self.path, prefixes)
        rare_subsets = frozenset(self.options.get("rare_subsets") or ())
        known = {v.split()[0] for v in doc.header.get("subsetdef", []) if v.split()}
        known |= {sub for t in doc.terms for sub in t.subsets}
        unknown = sorted(rare_subsets - known)
        if unknown:
            raise SourceError(
                self.path,
                f"rare subset(s) {unknown} not in the file; its subsets: {sorted(known) or 'none'}",
            )
        info = SourceInfo(
            name=str(self.options.get("name") or ontology_name(doc, self.path)).upper(),
            version=self.options.get("version") or doc.data_version or "unknown",
            license=self.options.get("license") or doc.license or "unknown",
        )
        kind = self.options.get("kind") or default_kind_for(doc)
        return obo_to_graph(doc, info, self.path, default_kind=kind, rare_subsets=rare_subsets)


def graph_from_obo(path: Path, **options: Any) -> KnowledgeGraph:
    """Convenience wrapper: load an OBO file with :class:`OboSource`."""
    return OboSource(path, **options).load()


__all__ = ["OboDocument", "OboSource", "OboTerm", "graph_from_obo", "obo_to_graph", "parse_obo"]
