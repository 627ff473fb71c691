"""The Cypher text medkg sends, checked without a server."""

from __future__ import annotations

import re

import pytest

from medkg.kg import cypher


@pytest.mark.parametrize("name", ["Disease", "HAS_PHENOTYPE", "a1_b2", "X"])
def test_valid_names_are_backticked(name: str) -> None:
    assert cypher.quote_name(name) == f"`{name}`"


@pytest.mark.parametrize(
    "name",
    [
        "",
        "1Disease",
        "_x",
        "Rare disease",
        "A`B",
        "IS-A",
        "x) DETACH DELETE (n",
        "Dis\u00e9ase",
        None,
    ],
)
def test_unsafe_names_are_refused(name: object) -> None:
    with pytest.raises(ValueError, match="cannot be a Neo4j label"):
        cypher.quote_name(name)  # type: ignore[arg-type]


def test_injection_through_a_label_never_reaches_query_text() -> None:
    with pytest.raises(ValueError):
        cypher.merge_nodes("Disease` SET n.pwned = true //")
    with pytest.raises(ValueError):
        cypher.merge_edges("X]->() DETACH DELETE d //")
    with pytest.raises(ValueError):
        cypher.delete_edges("IS A")
    with pytest.raises(ValueError):
        cypher.relationship_key_constraint("a-b")
    with pytest.raises(ValueError):
        cypher.drop_index("x` IF EXISTS DROP INDEX `y")


def test_schema_has_unique_id_constraint_and_search_indexes() -> None:
    text = "\n".join(cypher.schema_statements())
    assert "FOR (n:Entity) REQUIRE n.id IS UNIQUE" in text
    assert "FOR (n:Entity) ON (n.name)" in text
    assert "CREATE FULLTEXT INDEX medkg_entity_search IF NOT EXISTS" in text
    assert "ON EACH [n.name, n.synonyms]" in text
    # Community Edition has uniqueness constraints only.
    assert "IS NOT NULL" not in text and "IS NODE KEY" not in text
    assert all("IF NOT EXISTS" in s for s in cypher.schema_statements())


def test_merge_nodes_walks_column_lists_and_replaces_properties() -> None:
    q = cypher.merge_nodes("Disease", ["kind", "name", "synonyms"])
    props = "{`kind`: $cols[0][i], `name`: $cols[1][i], `synonyms`: $cols[2][i]}"
    assert q == (
        "UNWIND range(0, size($ids) - 1) AS i "
        "MERGE (n:Entity {id: $ids[i]}) "
        f"ON CREATE SET n += {props} "
        f"ON MATCH SET n = {props}, n.`id` = $ids[i] "
        "SET n:`Disease`"
    )
    # A null kind gets no kind label; no columns: a matched entity keeps its id only.
    assert "SET n:" not in cypher.merge_nodes(None, ["name"])
    assert cypher.merge_nodes(None).endswith(
        "MERGE (n:Entity {id: $ids[i]}) ON MATCH SET n = {}, n.`id` = $ids[i]"
    )
    with pytest.raises(ValueError, match="merge key"):
        cypher.merge_nodes("Gene", ["id", "name"])


def test_merge_edges_merges_on_the_key_between_matched_ends() -> None:
    q = cypher.merge_edges("HAS_PHENOTYPE", ["negated", "onset"])
    props = "{`negated`: $cols[0][i], `onset`: $cols[1][i]}"
    assert q == (
        "UNWIND range(0, size($keys) - 1) AS i "
        "MATCH (s:Entity {id: $src[i]}) "
        "MATCH (d:Entity {id: $dst[i]}) "
        "MERGE (s)-[r:`HAS_PHENOTYPE` {key: $keys[i]}]->(d) "
        f"ON CREATE SET r += {props} "
        f"ON MATCH SET r = {props}, r.`key` = $keys[i]"
    )
    with pytest.raises(ValueError, match="merge key"):
        cypher.merge_edges("IS_A", ["key"])


@pytest.mark.parametrize("column", ["a`b", "x`}) DETACH DELETE n //", "a\\u0060b", "", "tab\there"])
def test_unsafe_column_names_never_reach_query_text(column: str) -> None:
    with pytest.raises(ValueError, match="cannot be a Neo4j property key"):
        cypher.property_key(column)
    with pytest.raises(ValueError):
        cypher.merge_nodes("Gene", ["name", column])
    with pytest.raises(ValueError):
        cypher.merge_edges("IS_A", [column])


def test_odd_but_safe_column_names_are_backticked() -> None:
    assert cypher.property_key("frequency value") == "`frequency value`"
    assert cypher.property_key("x-ref") == "`x-ref`"


def test_schema_statement_names_are_read_back() -> None:
    names = [cypher.statement_name(s) for s in cypher.schema_statements()]
    assert names[0] == "medkg_entity_id" and "medkg_entity_search" in names
    assert (
        cypher.statement_name(cypher.relationship_key_constraint("IS_A"))
        == cypher.relationship_key_constraint_name("IS_A")
        == "medkg_rel_key_unique_IS_A"
    )
    with pytest.raises(ValueError):
        cypher.statement_name("MATCH (n) RETURN n")
    with pytest.raises(ValueError):
        cypher.remove_kind_label("Old kind")


def test_relationship_key_constraint_names_the_type() -> None:
    assert cypher.relationship_key_constraint("IS_A") == (
        "CREATE CONSTRAINT `medkg_rel_key_unique_IS_A` IF NOT EXISTS "
        "FOR ()-[r:`IS_A`]-() REQUIRE r.key IS UNIQUE"
    )
    # The plain index earlier saves made is dropped by name before the constraint is made.
    assert cypher.legacy_relationship_key_index_name("IS_A") == "medkg_rel_key_IS_A"
    assert cypher.drop_index("medkg_rel_key_IS_A") == "DROP INDEX `medkg_rel_key_IS_A` IF EXISTS"


def test_tree_links_are_marked_and_reads_skip_them() -> None:
    q = cypher.merge_tree_links()
    assert "MERGE (c)-[:MET_PARENT {met_tree: true}]->(p)" in q
    assert "$ids[i]" in q and "$parents[i]" in q
    assert "r.met_tree" in cypher.delete_stale_tree_links()
    for q in (cypher.read_edges(), cypher.read_edge_keys(), cypher.neighbours()):
        assert "r.key IS NOT NULL" in q


def test_no_query_embeds_a_literal_value() -> None:
    queries = [
        cypher.merge_nodes("Gene", ["name", "synonyms"]),
        cypher.merge_edges("IS_A", ["source"]),
        cypher.merge_tree_links(),
        cypher.delete_entities(),
        cypher.delete_edges("IS_A"),
        cypher.get_node(),
        cypher.neighbours(),
        cypher.search(),
        cypher.met_children(),
        cypher.set_meta(),
        cypher.read_meta(),
        cypher.remove_kind_label("Gene"),
        cypher.clear_batch(),
        cypher.clear_relationships_batch(),
    ]
    for q in queries:
        # Only the fixed index name may appear quoted; every value is a $parameter.
        quoted = re.findall(r"'([^']*)'|\"([^\"]*)\"", q)
        assert all(cypher.FULLTEXT_INDEX in (a or b) for a, b in quoted), q


def test_reads_return_named_columns() -> None:
    assert "RETURN properties(n) AS props" in cypher.get_node()
    q = cypher.neighbours()
    for col in ("src", "rel", "dst", "props", "other", "other_name", "other_kind"):
        assert f"AS {col}" in q
    assert "$kind IS NULL OR node.kind = $kind" in cypher.search()
    assert "LIMIT $limit" in cypher.search()


def test_lucene_query_escapes_syntax_and_adds_prefixes() -> None:
    assert cypher.lucene_query("marfan") == "marfan OR marfan*"
    assert cypher.lucene_query("long fingers") == "long OR long* OR fingers OR fingers*"
    q = cypher.lucene_query('a:b (c) "d" NOT x*')
    assert r"a\:b" in q and r"\(c\)" in q and r"\"d\"" in q and r"x\*" in q
    assert " not OR not* " in q  # an operator word becomes a plain word


def test_count_store_counts_is_one_query_of_single_label_counts() -> None:
    q = cypher.count_store_counts(["Disease", "Gene"], ["IS_A"])
    # one label or one type per subquery: only such counts are answered from the count store
    assert q == (
        "CALL { MATCH (n:Entity) RETURN count(n) AS entities } "
        "CALL { MATCH (n:`Disease`) RETURN count(n) AS kind0 } "
        "CALL { MATCH (n:`Gene`) RETURN count(n) AS kind1 } "
        "CALL { MATCH ()-[r:`IS_A`]->() RETURN count(r) AS rel0 } RETURN *"
    )
    with pytest.raises(ValueError):
        cypher.count_store_counts(["Disease`) DETACH DELETE n //"], [])
