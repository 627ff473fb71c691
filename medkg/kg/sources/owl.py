"""Generic OWL/RDF ontology loader (RDF/XML, Turtle, N-Triples, JSON-LD via rdflib).

Named ``owl:Class`` subjects become nodes; ``rdfs:subClassOf`` between named classes
becomes ``IS_A``; ``IAO:0100001`` (term replaced by) becomes ``REPLACED_BY``. Annotation
properties read, in the order they win:

=================  ==============================================================
name               ``rdfs:label`` (``@en`` first, then untagged), else ``skos:prefLabel``
definition         ``IAO:0000115``, else ``skos:definition``
synonyms           oboInOwl ``hasExactSynonym`` / ``hasNarrowSynonym`` /
                   ``hasBroadSynonym`` / ``hasRelatedSynonym`` (scope EXACT / NARROW /
                   BROAD / RELATED); ``skos:altLabel`` as RELATED
xrefs              ``oboInOwl:hasDbXref`` (normalised CURIEs; other values kept as written
                   and counted); one whose owl:Axiom ``oboInOwl:source`` values name
                   MONDO relations other than ``MONDO:equivalentTo`` (``relatedTo``) is
                   loose: ``props.related_xrefs``, no identity edge
obsolete           ``owl:deprecated true``
props              ``iri``, ``alt_ids`` (oboInOwl:hasAlternativeId), ``consider``,
                   ``comment`` (rdfs:comment), ``namespace`` (oboInOwl:hasOBONamespace),
                   ``subsets`` (oboInOwl:inSubset); ``rare_subset`` when one of them
                   is named in the ``rare_subsets`` option (``--rare-subset``)
=================  ==============================================================

Identity: a class IRI becomes a CURIE through, first, the ``prefixes`` the caller declares
(``{"FOO": "http://example.org/foo#"}``), then the OBO PURL form
(``http://purl.obolibrary.org/obo/HP_0000118`` -> ``HP:0000118``) and Orphanet IRIs. An
IRI with no mapping is an error (``on_unmapped="error"``, the default) or is skipped and
counted (``on_unmapped="skip"``); never silently dropped.

Repairs, all counted in ``kg.report`` under ``<source>.owl.<reason>``: anonymous
superclasses (restrictions, unions) and ``owl:Thing`` parents are skipped; a named parent
or replacement that is not declared as a class in the file becomes a stub node with
``props.stub = true`` (``dangling="stub"``, the default) or its edge is dropped
(``dangling="drop"``); ``IS_A`` cycles are broken deterministically.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from medkg.errors import UsageError
from medkg.kg.curie import (
    CurieError,
    normalise_curie,
    normalise_prefix,
    prefix_of,
    try_normalise_curie,
)
from medkg.kg.hierarchy import break_cycles
from medkg.kg.model import (
    CATEGORY,
    DISEASE,
    IS_A,
    PHENOTYPE,
    REPLACED_BY,
    KnowledgeGraph,
    SourceInfo,
    edges_frame,
    nodes_frame,
    stamp,
)
from medkg.kg.sources.base import Source, SourceError, register_source
from medkg.kg.sources.obo import loose_xref
from medkg.kg.sources.rdf_io import (
    ALT_ID,
    ANNOTATED_PROPERTY,
    ANNOTATED_SOURCE,
    ANNOTATED_TARGET,
    COMMENT,
    CONSIDER,
    DATE,
    DEPRECATED,
    EQUIVALENT_CLASS,
    FORMAT_ALIASES,
    HAS_DBXREF,
    IAO_DEFINITION,
    IAO_REPLACED_BY,
    IN_SUBSET,
    LABEL,
    NAMESPACE,
    OIO_SOURCE,
    ONTOLOGY_PREDICATES,
    OWL_CLASS,
    OWL_ONTOLOGY,
    OWL_THING,
    PREF_LABEL,
    RDF_TYPE,
    SCOPE_ORDER,
    SKOS_DEFINITION,
    SUBCLASS_OF,
    SYNONYM_SCOPES,
    WANTED_PREDICATES,
    best_literal,
    guess_rdf_format,
    is_true,
    parse_triples,
)

# Default kind by canonical prefix; everything else is CATEGORY unless `kind` says otherwise.
DEFAULT_KIND_BY_PREFIX: dict[str, str] = {
    "HP": PHENOTYPE,
    "MONDO": DISEASE,
    "DOID": DISEASE,
    "ORPHA": DISEASE,
    "OMIM": DISEASE,
}


class IriMapper:
    """IRI -> CURIE: declared prefixes first (longest base wins), then OBO PURLs and Orphanet."""

    def __init__(self, prefixes: Mapping[str, str] | None = None) -> None:
        declared = dict(prefixes or {})
        for prefix, base in declared.items():
            if not base or not isinstance(base, str):
                raise UsageError(f"prefix {prefix!r} needs an IRI base, got {base!r}")
        self._bases = sorted(
            ((base, normalise_prefix(prefix)) for prefix, base in declared.items()),
            key=lambda pair: -len(pair[0]),
        )
        self._cache: dict[str, str | None] = {}

    def __call__(self, iri: str) -> str | None:
        """The CURIE for ``iri``, or None when nothing maps it."""
        try:
            return self._cache[iri]
        except KeyError:
            pass
        curie: str | None = None
        for base, prefix in self._bases:
            if iri.startswith(base) and len(iri) > len(base):
                curie = f"{prefix}:{iri[len(base) :]}"
                break
        else:
            if "://" in iri and (
                iri.startswith(
                    ("http://purl.obolibrary.org/obo/", "https://purl.obolibrary.org/obo/")
                )
                or "orpha.net/ORDO/Orphanet_" in iri
            ):
                try:
                    curie = normalise_curie(iri)
                except CurieError:
                    curie = None
        self._cache[iri] = curie
        return curie


def _loose_xref_targets(values: Mapping[Any, Mapping[str, list[Any]]]) -> set[tuple[str, str]]:
    """(class IRI, xref text) of hasDbXref assertions whose owl:Axiom sources mark them loose
    (:func:`medkg.kg.sources.obo.loose_xref`): MONDO's ``MONDO:relatedTo`` xrefs."""
    out: set[tuple[str, str]] = set()
    for ann in values.values():
        if [str(p) for p in ann.get(ANNOTATED_PROPERTY, ())] != [HAS_DBXREF]:
            continue
        sources = [str(s) for s in ann.get(OIO_SOURCE, ())]
        if loose_xref(sources):
            for cls in ann.get(ANNOTATED_SOURCE, ()):
                for target in ann.get(ANNOTATED_TARGET, ()):
                    out.add((str(cls), str(target)))
    return out


def suggest_base(iri: str) -> str:
    """The namespace part of an IRI (up to the last '#' or '/'), for error hints."""
    cut = max(iri.rfind("#"), iri.rfind("/"))
    return iri[: cut + 1] if cut > 0 else iri


def kind_for(curie: str, kind: str | Mapping[str, str] | None) -> str:
    """Kind of a class: a fixed ``kind``, a per-prefix mapping, else the prefix default."""
    prefix = prefix_of(curie)
    if isinstance(kind, str):
        return kind
    if kind and prefix in kind:
        return kind[prefix]
    return DEFAULT_KIND_BY_PREFIX.get(prefix, CATEGORY)


@register_source("owl")
class OwlSource(Source):
    """Any OWL/RDF ontology a user points at (no bundled file).

    Options: ``format`` (rdflib name or alias; default from the extension), ``prefixes``
    (``{"PREFIX": "IRI base"}``), ``kind`` (one kind for every class, or
    ``{"PREFIX": kind}``; default HP -> Phenotype, MONDO/DOID/ORPHA/OMIM -> Disease, else
    Category), ``name`` / ``version`` / ``license`` (override the ontology header),
    ``on_unmapped`` (``"error"`` | ``"skip"``), ``dangling`` (``"stub"`` | ``"drop"``).
    """

    option_names = frozenset(
        (
            "dangling",
            "format",
            "kind",
            "license",
            "name",
            "on_unmapped",
            "prefixes",
            "rare_subsets",
            "version",
        )
    )

    title = "Generic OWL/RDF ontology (RDF/XML, Turtle, N-Triples)"
    default_enabled = False

    def __init__(self, path: str | Path | None = None, **options: Any) -> None:
        super().__init__(path, **options)
        unknown = set(options) - {
            "format",
            "prefixes",
            "kind",
            "name",
            "version",
            "license",
            "on_unmapped",
            "dangling",
            "rare_subsets",
        }
        if unknown:
            raise UsageError(f"unknown owl source options: {sorted(unknown)}")
        if options.get("on_unmapped", "error") not in ("error", "skip"):
            raise UsageError("on_unmapped must be 'error' or 'skip'")
        if options.get("dangling", "stub") not in ("stub", "drop"):
            raise UsageError("dangling must be 'stub' or 'drop'")
        self.mapper = IriMapper(options.get("prefixes"))

    def rdf_format(self) -> str:
        given = self.options.get("format")
        if given is None:
            return guess_rdf_format(self.path)
        try:
            return FORMAT_ALIASES[str(given).lower()]
        except KeyError:
            raise SourceError(
                self.path, f"unknown RDF format {given!r} (known: {sorted(FORMAT_ALIASES)})"
            ) from None

    def _load(self) -> KnowledgeGraph:
        return self.triples_to_kg(parse_triples(self.path, self.rdf_format()))

    # ----------------------------------------------------------------- conversion
    def triples_to_kg(self, triples: Iterable[tuple[Any, Any, Any]]) -> KnowledgeGraph:
        """Turn parsed RDF triples into node and edge tables stamped with provenance."""
        from rdflib import BNode, Literal, URIRef

        report: Counter[str] = Counter()
        # One pass over the triples: class subjects, ontology header, wanted annotations.
        classes: set[Any] = set()
        ontologies: list[Any] = []
        values: dict[Any, dict[str, list[Any]]] = defaultdict(lambda: defaultdict(list))
        for s, p, o in triples:
            ps = str(p)
            if ps == RDF_TYPE:
                os_ = str(o)
                if os_ == OWL_CLASS:
                    classes.add(s)
                elif os_ == OWL_ONTOLOGY:
                    ontologies.append(s)
            elif ps in WANTED_PREDICATES:
                values[s][ps].append(o)
        info = self._source_info(values, ontologies)
        loose = _loose_xref_targets(values)

        named: dict[str, Any] = {}  # curie -> IRI
        unmapped: list[str] = []
        for cls in classes:
            if isinstance(cls, BNode):
                report["owl.anonymous_classes_skipped"] += 1
                continue
            iri = str(cls)
            if iri == OWL_THING:
                continue
            curie = self.mapper(iri)
            if curie is None:
                unmapped.append(iri)
                continue
            if curie in named and named[curie] != cls:  # two IRIs map to one CURIE
                first, second = sorted((str(named[curie]), iri))
                raise SourceError(self.path, f"IRIs <{first}> and <{second}> both map to {curie}")
            named[curie] = cls
        if unmapped:
            self._unmapped(sorted(unmapped), report)
        curie_of = {cls: curie for curie, cls in named.items()}
        kind_opt = self.options.get("kind")

        node_rows: list[dict[str, Any]] = []
        edge_rows: list[dict[str, Any]] = []
        stubs: dict[str, str] = {}  # curie -> iri of dangling targets kept as stubs

        def target_curie(obj: Any, what: str) -> str | None:
            """CURIE of an IS_A / REPLACED_BY target, applying the dangling policy."""
            if isinstance(obj, Literal):  # some OBO releases write replaced_by as a string
                curie = try_normalise_curie(str(obj))
                if curie is None:
                    report[f"owl.{what}_not_curie_skipped"] += 1
                return (
                    curie
                    if curie is None or curie in named
                    else self._dangling(curie, str(obj), what, stubs, report)
                )
            if obj in curie_of:
                return str(curie_of[obj])
            iri = str(obj)
            curie = self.mapper(iri)
            if curie is None:
                if self.options.get("on_unmapped", "error") == "error":
                    raise SourceError(
                        self.path,
                        f"{what} target <{iri}> has no CURIE mapping; declare "
                        f"prefixes={{'PREFIX': {suggest_base(iri)!r}}} or pass on_unmapped='skip'",
                    )
                report[f"owl.{what}_unmapped_target_skipped"] += 1
                return None
            if curie in named:  # same CURIE through another IRI spelling
                return curie
            return self._dangling(curie, iri, what, stubs, report)

        for curie in sorted(named):
            cls = named[curie]
            ann = values.get(cls, {})
            name = best_literal(ann.get(LABEL, ())) or best_literal(ann.get(PREF_LABEL, ()))
            if name is None:
                report["owl.classes_without_label"] += 1
            definition = best_literal(ann.get(IAO_DEFINITION, ())) or best_literal(
                ann.get(SKOS_DEFINITION, ())
            )
            synonyms = sorted(
                {
                    (str(o).strip(), scope)
                    for pred, scope in SYNONYM_SCOPES.items()
                    for o in ann.get(pred, ())
                    if str(o).strip()
                },
                key=lambda pair: (SCOPE_ORDER[pair[1]], pair[0]),
            )
            xrefs: set[str] = set()
            related: set[str] = set()
            for o in ann.get(HAS_DBXREF, ()):
                text = str(o).strip()
                if not text:
                    continue
                xref = try_normalise_curie(text) if "://" not in text else None
                if xref is None:
                    report["owl.xrefs_not_curie_kept_as_written"] += 1
                    xref = text
                if (str(cls), str(o)) in loose:
                    related.add(xref)
                    report["owl.xref_not_equivalence_kept_in_props"] += 1
                else:
                    xrefs.add(xref)
            obsolete = any(is_true(o) for o in ann.get(DEPRECATED, ()))
            props: dict[str, Any] = {"iri": str(cls)}
            if related:
                props["related_xrefs"] = sorted(related)
            for key, pred in (("alt_ids", ALT_ID), ("consider", CONSIDER), ("subsets", IN_SUBSET)):
                items = sorted({self._curie_or_text(o) for o in ann.get(pred, ())} - {""})
                if items:
                    props[key] = items
            rare = [
                name
                for name in self.options.get("rare_subsets") or ()
                for sub in props.get("subsets", ())
                if sub == name or sub.endswith(("#" + name, "/" + name, ":" + name))
            ]
            if rare:
                props["rare_subset"] = rare[0]  # rarity evidence (medkg.kg.rarity)
            namespace = best_literal(ann.get(NAMESPACE, ()))
            if namespace:
                props["namespace"] = namespace
            comment = best_literal(ann.get(COMMENT, ()))
            if comment:
                props["comment"] = comment
            if ann.get(EQUIVALENT_CLASS):
                report["owl.equivalent_class_axioms_skipped"] += len(ann[EQUIVALENT_CLASS])
            node_rows.append(
                {
                    "id": curie,
                    "kind": kind_for(curie, kind_opt),
                    "name": name or curie,
                    "definition": definition,
                    "synonyms": [text for text, _ in synonyms],
                    "synonym_scopes": [scope for _, scope in synonyms],
                    "xrefs": sorted(xrefs),
                    "obsolete": obsolete,
                    "props": props,
                }
            )
            parents: set[str] = set()
            for parent in ann.get(SUBCLASS_OF, ()):
                if isinstance(parent, BNode):
                    report["owl.anonymous_superclasses_skipped"] += 1
                    continue
                if isinstance(parent, URIRef) and str(parent) == OWL_THING:
                    report["owl.owl_thing_parents_skipped"] += 1
                    continue
                target = target_curie(parent, "is_a")
                if target is not None and target != curie:
                    parents.add(target)
            edge_rows.extend({"src": curie, "rel": IS_A, "dst": p} for p in sorted(parents))
            replacements = {
                t for o in ann.get(IAO_REPLACED_BY, ()) if (t := target_curie(o, "replaced_by"))
            }
            edge_rows.extend(
                {"src": curie, "rel": REPLACED_BY, "dst": t} for t in sorted(replacements)
            )

        for curie in sorted(stubs):
            node_rows.append(
                {
                    "id": curie,
                    "kind": kind_for(curie, kind_opt),
                    "name": curie,
                    "props": {"iri": stubs[curie], "stub": True},
                }
            )
        nodes = stamp(nodes_frame(node_rows), info)
        edges, removed = break_cycles(edges_frame(edge_rows))
        if removed:
            report["owl.is_a_cycle_edges_removed"] = len(removed)
        edges = stamp(edges, info)
        counts = {
            "classes": len(named),
            "obsolete": int(nodes["obsolete"].sum()),
            "stub_nodes": len(stubs),
            **{f"edges.{k}": v for k, v in sorted(edges.group_by("rel").len().iter_rows())},
        }
        info = SourceInfo(
            name=info.name,
            version=info.version,
            license=info.license,
            path=str(self.path),
            url=info.url,
            citation=info.citation,
            counts=counts,
        )
        full_report: dict[str, Any] = {f"{info.name}.{k}": v for k, v in sorted(report.items())}
        if removed:
            full_report[f"{info.name}.owl.is_a_cycle_edges_removed.sample"] = [
                f"{s} IS_A {d}" for s, d in removed[:10]
            ]
        return KnowledgeGraph.from_frames(nodes, edges, [info], full_report)

    # ----------------------------------------------------------------- helpers
    def _unmapped(self, iris: list[str], report: Counter[str]) -> None:
        if self.options.get("on_unmapped", "error") == "error":
            bases = sorted({suggest_base(i) for i in iris})
            raise SourceError(
                self.path,
                f"{len(iris)} class IRI(s) have no CURIE mapping, e.g. <{iris[0]}>; declare "
                f"prefixes={{'PREFIX': {bases[0]!r}}} or pass on_unmapped='skip'",
            )
        report["owl.unmapped_classes_skipped"] += len(iris)

    def _dangling(
        self, curie: str, iri: str, what: str, stubs: dict[str, str], report: Counter[str]
    ) -> str | None:
        """A target that is not a class in this file: keep it as a stub node, or drop the edge."""
        if self.options.get("dangling", "stub") == "drop":
            report[f"owl.dangling_{what}_dropped"] += 1
            return None
        report[f"owl.dangling_{what}_stubbed"] += 1
        stubs.setdefault(curie, iri)
        return curie

    def _curie_or_text(self, value: Any) -> str:
        text = str(value).strip()
        if "://" in text:
            return self.mapper(text) or text
        return try_normalise_curie(text) or text

    def _source_info(
        self, values: Mapping[Any, Mapping[str, list[Any]]], ontologies: list[Any]
    ) -> SourceInfo:
        """Name, version and licence from the ontology header, overridden by options."""
        header: dict[str, list[Any]] = defaultdict(list)
        ontology = min(ontologies, key=str) if ontologies else None
        if ontology is not None:
            annotations = values.get(ontology, {})
            for key, pred in ONTOLOGY_PREDICATES.items():
                header[key].extend(annotations.get(pred, ()))
        url = str(ontology) if ontology is not None and "://" in str(ontology) else ""
        name = self.options.get("name")
        if not name:
            stem = url.rstrip("/").rsplit("/", 1)[-1] if url else ""
            stem = re.sub(r"\.(owl|rdf|ttl|nt|xml|obo)$", "", stem)
            name = stem or self.path.name.split(".")[0]
        version = self.options.get("version")
        if not version:
            info_v = best_literal(header["version_info"])
            iri_v = min((str(v) for v in header["version_iri"]), default="")
            date = DATE.search(iri_v)
            version = info_v or (date.group(1) if date else iri_v) or "unknown"
        license_ = self.options.get("license")
        if not license_:
            license_ = (
                min((str(v).strip() for v in header["license"] + header["license_dc"]), default="")
                or "unknown"
            )
        citation = best_literal(header["citation"]) or ""
        return SourceInfo(
            name=str(name), version=str(version), license=str(license_), url=url, citation=citation
        )


__all__ = ["DEFAULT_KIND_BY_PREFIX", "IriMapper", "OwlSource", "guess_rdf_format", "kind_for"]
