"""CURIEs with normalised prefixes.

Every entity id in medkg is ``PREFIX:local``. Sources spell prefixes many ways
(``MIM``, ``Orphanet``, ``MSH``, ``ICD-10``); :func:`normalise_curie` maps the known
spellings to one canonical prefix and leaves a declared or unknown prefix as written,
so a caller can count it. IRIs of the OBO PURL form are turned into CURIEs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from medkg.errors import MedkgError

# Canonical prefixes medkg knows, with the spellings seen in real sources.
CANONICAL_PREFIXES: dict[str, tuple[str, ...]] = {
    "HP": ("HP", "HPO"),
    "OMIM": ("OMIM", "MIM"),
    # An OMIM phenotypic series (PS606176: a group of diseases, MONDO's grouping classes) is
    # not the OMIM entry with the same number (606176: one form): never read as OMIM.
    "OMIMPS": ("OMIMPS", "OMIM_PS", "OMIM.PS"),
    "ORPHA": ("ORPHA", "ORPHANET", "ORDO", "ORPHANET_ID"),
    "DECIPHER": ("DECIPHER",),
    "NCBIGene": ("NCBIGENE", "NCBI_GENE", "ENTREZGENE", "ENTREZ", "GENEID"),
    "ICD10": ("ICD10", "ICD-10", "ICD10WHO", "ICD_10", "ICD10_WHO"),
    "ICD10CM": ("ICD10CM", "ICD-10-CM", "ICD10_CM", "ICD-10CM"),
    "MESH": ("MESH", "MSH", "MESHID"),
    "DRUGBANK": ("DRUGBANK", "DB"),
    "DOID": ("DOID",),
    "MONDO": ("MONDO",),
    "UMLS": ("UMLS", "UMLS_CUI"),
    "SNOMEDCT": ("SNOMEDCT", "SNOMEDCT_US", "SCTID", "SNOMED"),
    "NCIT": ("NCIT",),
    "MEDDRA": ("MEDDRA",),
    "GO": ("GO",),
    "UBERON": ("UBERON",),
    "CHEBI": ("CHEBI",),
    "EFO": ("EFO",),
    "MEDLINEPLUS": ("MEDLINEPLUS",),
    "MET": ("MET",),  # medkg's own tree scaffolding nodes
    # medkg-local ids for entries whose source gives no usable id (see sources/mesh.py, drugs.py)
    "MESHX": ("MESHX",),
    "DRUGNER": ("DRUGNER",),
    # drugs whose DrugBank id could not be confirmed (sources/drugbank_evidence.py)
    "DRUGBANKX": ("DRUGBANKX",),
}

_ALIAS: dict[str, str] = {
    alias.upper(): canon for canon, aliases in CANONICAL_PREFIXES.items() for alias in aliases
}
_PREFIX_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_.\-]*$")
_OBO_IRI = re.compile(r"^https?://purl\.obolibrary\.org/obo/([A-Za-z][A-Za-z0-9]*)_(.+)$")
_ORPHA_IRI = re.compile(r"^https?://www\.orpha\.net/ORDO/Orphanet_(\d+)$")


class CurieError(MedkgError, ValueError):
    """An identifier that cannot be read as a CURIE."""


def split_curie(value: str) -> tuple[str, str]:
    """Split ``PREFIX:local``; raise :class:`CurieError` when there is no usable prefix."""
    text = value.strip()
    prefix, sep, local = text.partition(":")
    if not sep or not local or not _PREFIX_RE.match(prefix):
        raise CurieError(f"not a CURIE (expected PREFIX:local): {value!r}")
    return prefix, local.strip()


def is_known_prefix(prefix: str) -> bool:
    return prefix.upper() in _ALIAS


def normalise_prefix(prefix: str, declared: Mapping[str, str] | None = None) -> str:
    """Canonical spelling of a prefix; a declared mapping wins, unknown prefixes pass through."""
    if declared:
        if prefix in declared:
            return declared[prefix]
        up = {k.upper(): v for k, v in declared.items()}
        if prefix.upper() in up:
            return up[prefix.upper()]
    return _ALIAS.get(prefix.upper(), prefix)


def normalise_curie(value: str, declared: Mapping[str, str] | None = None) -> str:
    """Normalise a CURIE or an OBO/ORDO IRI to ``CANONICAL:local``.

    >>> normalise_curie("MIM:154700")
    'OMIM:154700'
    >>> normalise_curie("http://purl.obolibrary.org/obo/HP_0000118")
    'HP:0000118'
    """
    text = value.strip()
    m = _OBO_IRI.match(text)
    if m:
        return f"{normalise_prefix(m.group(1), declared)}:{m.group(2)}"
    m = _ORPHA_IRI.match(text)
    if m:
        return f"ORPHA:{m.group(1)}"
    prefix, local = split_curie(text)
    canon = normalise_prefix(prefix, declared)
    if canon == "MESH" and local.upper().startswith("MESH:"):
        local = local[5:]
    return f"{canon}:{local}"


def try_normalise_curie(value: str, declared: Mapping[str, str] | None = None) -> str | None:
    """Like :func:`normalise_curie` but returns None for a value that is not a CURIE."""
    try:
        return normalise_curie(value, declared)
    except CurieError:
        return None


def prefix_of(curie: str) -> str:
    return curie.partition(":")[0]
