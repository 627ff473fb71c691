"""SSSOM mapping sets (``*.sssom.tsv``) as a source of ``MAPS_TO`` edges.

``medkg kg import mondo.sssom.tsv`` (or ``medkg kg mappings import``) reads the file with
:func:`medkg.kg.mappings.read_sssom` (errors name file and line; nothing is stored on
error) and adds its asserted mappings as ``MAPS_TO`` edges with method ``sssom``; the
graph is then re-resolved and the tree rebuilt, so imported mappings place nodes exactly
as xrefs of an OBO/OWL file do. Mappings whose ends are not in the graph are dropped
and counted (``build.dangling_edges_dropped``).
"""

from __future__ import annotations

from pathlib import Path

from medkg.kg.mappings import mapping_source, read_sssom
from medkg.kg.model import KnowledgeGraph
from medkg.kg.sources.base import Source, register_source


@register_source("sssom")
class SssomSource(Source):
    """Mappings from an SSSOM TSV file (no nodes; MAPS_TO edges)."""

    option_names = frozenset(("name",))

    title = "SSSOM mapping set (TSV with YAML front matter)"
    default_enabled = False

    def _load(self) -> KnowledgeGraph:
        name = self.options.get("name") or Path(self.path).name.split(".")[0]
        return mapping_source(read_sssom(self.path), name=name)
