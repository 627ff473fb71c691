"""Small graphs built from the real-format fixtures, shared by tests."""

from pathlib import Path

from medkg.kg.build import assemble
from medkg.kg.model import KnowledgeGraph, SourceInfo, edges_frame, nodes_frame, stamp
from medkg.kg.sources.hpo import HpoOntologySource
from medkg.kg.sources.hpoa import HpoAnnotationSource, HpoGeneSource

FIXTURES = Path(__file__).parent / "fixtures" / "hpo"
MESHLIKE = SourceInfo(name="MeSH-test", version="2024", license="public domain")


def mesh_like() -> KnowledgeGraph:
    nodes = nodes_frame(
        [
            {"id": "MESH:C", "kind": "Category", "name": "Diseases"},
            {
                "id": "MESH:C16",
                "kind": "Category",
                "name": "Congenital, Hereditary, and Neonatal Diseases and Abnormalities",
            },
            {"id": "MESH:D000013", "kind": "Disease", "name": "Congenital Abnormalities"},
            {
                "id": "MESH:D056846",
                "kind": "Disease",
                "name": "Marfan Syndrome",
                "synonyms": ["Marfan's Syndrome"],
                "synonym_scopes": ["EXACT"],
            },
            {"id": "MESH:D009216", "kind": "Disease", "name": "Myopia"},
        ]
    )
    edges = edges_frame(
        [
            {"src": "MESH:C16", "rel": "IS_A", "dst": "MESH:C"},
            {"src": "MESH:D000013", "rel": "IS_A", "dst": "MESH:C16"},
            {"src": "MESH:D056846", "rel": "IS_A", "dst": "MESH:D000013"},
            {"src": "MESH:D009216", "rel": "IS_A", "dst": "MESH:C"},
        ]
    )
    return KnowledgeGraph.from_frames(stamp(nodes, MESHLIKE), stamp(edges, MESHLIKE), [MESHLIKE])


def small_graph() -> KnowledgeGraph:
    return assemble(
        [
            HpoOntologySource(FIXTURES / "mini.obo").load(),
            HpoAnnotationSource(FIXTURES / "mini.hpoa").load(),
            HpoGeneSource(FIXTURES / "genes_to_phenotype.txt").load(),
            mesh_like(),
        ]
    )
