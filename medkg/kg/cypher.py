"""All Cypher medkg sends to Neo4j, as pure functions returning query text.

Values always travel as ``$parameters``. Labels and relationship types cannot be
parameters in Cypher 5, so the few functions that take one validate it against
:data:`NAME_RE` and backtick it; nothing else is ever formatted into a query.

Graph layout in Neo4j:

* every entity is ``(:Entity:<Kind> {id, kind, name, ...})`` - one property per column of
  the node table (lists stay lists, nulls are absent, ``props`` stays a JSON string);
* every edge-table row is one relationship ``-[:<REL> {key, ...}]->`` whose ``key`` is a
  deterministic hash of the row; ``src``/``rel``/``dst`` are its ends and type;
* the MET tree is also drawn as ``(child)-[:MET_PARENT]->(parent)`` relationships
  marked ``met_tree: true`` and *without* a ``key``, derived from the ``met_parent`` column, for browsing only;
* one ``(:MedkgMeta {id: "graph"})`` node records load state, hash, counts and sources.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from medkg.errors import UsageError

ENTITY = "Entity"
META = "MedkgMeta"
META_ID = "graph"
TREE_REL = "MET_PARENT"
TREE_MARK = "met_tree"  # property marking a tree link drawn from met_parent (no `key`)
FULLTEXT_INDEX = "medkg_entity_search"
NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")

# Lucene query syntax characters, escaped so user text is searched literally.
_LUCENE_SPECIAL = re.compile(r'([+\-!(){}\[\]^"~*?:\\/]|&&|\|\|)')


def validate_name(name: str) -> str:
    """Return ``name`` when it is a safe label / relationship type; raise ValueError otherwise."""
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise UsageError(
            f"{name!r} cannot be a Neo4j label or relationship type "
            "(expected a letter, then letters, digits or underscores)"
        )
    return name


def quote_name(name: str) -> str:
    """Validated and backticked label or relationship type."""
    return f"`{validate_name(name)}`"


# --------------------------------------------------------------------------- schema
def schema_statements() -> list[str]:
    """Constraints and indexes medkg needs; each idempotent (IF NOT EXISTS)."""
    return [
        f"CREATE CONSTRAINT medkg_entity_id IF NOT EXISTS FOR (n:{ENTITY}) REQUIRE n.id IS UNIQUE",
        f"CREATE CONSTRAINT medkg_meta_id IF NOT EXISTS FOR (m:{META}) REQUIRE m.id IS UNIQUE",
        f"CREATE INDEX medkg_entity_name IF NOT EXISTS FOR (n:{ENTITY}) ON (n.name)",
        f"CREATE INDEX medkg_entity_kind IF NOT EXISTS FOR (n:{ENTITY}) ON (n.kind)",
        f"CREATE INDEX medkg_entity_met_parent IF NOT EXISTS FOR (n:{ENTITY}) ON (n.met_parent)",
        # Neo4j 5 full-text indexes accept list-of-string properties, so synonyms need no
        # denormalised copy.
        f"CREATE FULLTEXT INDEX {FULLTEXT_INDEX} IF NOT EXISTS "
        f"FOR (n:{ENTITY}) ON EACH [n.name, n.synonyms]",
    ]


def relationship_key_constraint(rel: str) -> str:
    """Uniqueness constraint on ``key`` for one relationship type (Community Edition has it).

    Its index is what MERGE and deletes seek through: a unique index is always planned as
    a seek, where a plain range index may be planned as a scan while the type is still
    empty, and a scan per MERGE makes a batch quadratic. Keys are unique by construction
    (repeats get ``-n``), so the constraint only states what the store guarantees.
    """
    q = quote_name(rel)
    return (
        f"CREATE CONSTRAINT `{relationship_key_constraint_name(rel)}` IF NOT EXISTS "
        f"FOR ()-[r:{q}]-() REQUIRE r.key IS UNIQUE"
    )


def relationship_key_constraint_name(rel: str) -> str:
    return f"medkg_rel_key_unique_{validate_name(rel)}"


def legacy_relationship_key_index_name(rel: str) -> str:
    """Name of the plain range index on ``key`` earlier saves created (same schema as the
    constraint's own index, so it must be dropped before the constraint can be made)."""
    return f"medkg_rel_key_{validate_name(rel)}"


def drop_index(name: str) -> str:
    """Drop one index by name (names come from the functions above, validated)."""
    return f"DROP INDEX `{validate_name(name)}` IF EXISTS"


_SCHEMA_NAME = re.compile(r"^CREATE (?:CONSTRAINT|FULLTEXT INDEX|INDEX) `?([A-Za-z0-9_]+)`?")


def statement_name(statement: str) -> str:
    """The index or constraint name a schema statement creates."""
    m = _SCHEMA_NAME.match(statement)
    if not m:
        raise UsageError(f"not a named schema statement: {statement!r}")
    return m.group(1)


def show_schema_names() -> list[str]:
    """Queries listing existing index and constraint names (SHOW cannot be UNIONed)."""
    return ["SHOW INDEXES YIELD name RETURN name", "SHOW CONSTRAINTS YIELD name RETURN name"]


def await_indexes() -> str:
    return "CALL db.awaitIndexes($timeout_seconds)"


# --------------------------------------------------------------------------- writes
# Batched writes take their rows as columns: one list per column, aligned by position, and
# ``UNWIND range(0, size($ids) - 1) AS i`` walks them. A list of strings packs and unpacks
# far faster than a list of one map per row (no per-row map keys), and a batch sends only
# the columns that hold a value in it.
COLUMNS = "cols"  # parameter holding one list per property column, in the order given


def property_key(name: str) -> str:
    """Backticked property key for a column name; ValueError for names Cypher could misread.

    Backticks and backslashes (Cypher reads ``\\uXXXX`` escapes in names) are refused, so a
    column name can never end the quoted name early.
    """
    if not isinstance(name, str) or not name or not name.isprintable() or set(name) & {"`", "\\"}:
        raise UsageError(f"{name!r} cannot be a Neo4j property key")
    return f"`{name}`"


def _property_map(columns: Sequence[str]) -> str:
    """``{col: $cols[0][i], ...}``: one row's properties, built server-side from the columns."""
    entries = [f"{property_key(c)}: ${COLUMNS}[{j}][i]" for j, c in enumerate(columns)]
    return "{" + ", ".join(entries) + "}"


def _merge_set(var: str, merge_key: str, value: str, columns: Sequence[str]) -> str:
    """``ON CREATE`` / ``ON MATCH`` clauses giving ``var`` exactly its merge key and columns.

    A new element gets the columns added (``+=``; null values are not stored). A matched one
    has its properties replaced (``=``), then its merge key put back. Neither branch reads
    or writes the merge key outside MERGE, so the planner needs no Eager between rows and
    seeks the merge key through its index (see ``test_neo4j_store.py``'s plan checks).
    """
    if merge_key in columns:
        raise UsageError(f"{merge_key!r} is the merge key; it cannot also be a column")
    props = _property_map(columns)
    on_create = f"ON CREATE SET {var} += {props} " if columns else ""
    return f"{on_create}ON MATCH SET {var} = {props}, {var}.{property_key(merge_key)} = {value}"


def merge_nodes(kind: str | None, columns: Sequence[str] = ()) -> str:
    """Upsert entities of one kind from ``$ids`` and ``$cols`` (one list per name in
    ``columns``, ``id`` excluded, aligned with ``$ids``): each entity's properties become
    its id and its non-null values (nulls leave the property absent), replacing what it had.

    ``kind=None`` is for rows whose kind is null: they carry the ``Entity`` label only.
    """
    label = f" SET n:{quote_name(kind)}" if kind is not None else ""
    return (
        "UNWIND range(0, size($ids) - 1) AS i "
        f"MERGE (n:{ENTITY} {{id: $ids[i]}}) "
        f"{_merge_set('n', 'id', '$ids[i]', columns)}{label}"
    )


def remove_kind_label(label: str) -> str:
    """Drop an old kind label from the entities in ``$ids`` (their kind changed)."""
    return f"UNWIND $ids AS id MATCH (n:{ENTITY} {{id: id}}) REMOVE n:{quote_name(label)}"


def merge_edges(rel: str, columns: Sequence[str] = ()) -> str:
    """Upsert relationships of one type from ``$keys``, ``$src``, ``$dst`` and ``$cols`` (one
    list per name in ``columns``, ``key`` excluded): MERGE on the row's ``key`` between its two entities, then
    its properties become the key and its non-null values, replacing what it had."""
    return (
        "UNWIND range(0, size($keys) - 1) AS i "
        f"MATCH (s:{ENTITY} {{id: $src[i]}}) "
        f"MATCH (d:{ENTITY} {{id: $dst[i]}}) "
        f"MERGE (s)-[r:{quote_name(rel)} {{key: $keys[i]}}]->(d) "
        f"{_merge_set('r', 'key', '$keys[i]', columns)}"
    )


def merge_tree_links() -> str:
    """Draw ``(child)-[:MET_PARENT]->(parent)`` for aligned ``$ids`` and ``$parents``; counts links."""
    return (
        "UNWIND range(0, size($ids) - 1) AS i "
        f"MATCH (c:{ENTITY} {{id: $ids[i]}}) "
        f"MATCH (p:{ENTITY} {{id: $parents[i]}}) "
        f"MERGE (c)-[:{TREE_REL} {{{TREE_MARK}: true}}]->(p) "
        "RETURN count(*) AS linked"
    )


def delete_stale_tree_links() -> str:
    """Remove tree links (``met_tree: true``) that no longer match the child's ``met_parent``."""
    return (
        f"MATCH (c:{ENTITY})-[r:{TREE_REL}]->(p:{ENTITY}) "
        f"WHERE r.{TREE_MARK} AND (c.met_parent IS NULL OR c.met_parent <> p.id) "
        "DELETE r RETURN count(*) AS deleted"
    )


def delete_entities() -> str:
    """Delete entities whose id is in ``$ids``, with their relationships."""
    return f"UNWIND $ids AS id MATCH (n:{ENTITY} {{id: id}}) DETACH DELETE n"


def delete_edges(rel: str) -> str:
    """Delete relationships of one type whose key is in ``$keys``."""
    return f"UNWIND $keys AS k MATCH ()-[r:{quote_name(rel)} {{key: k}}]->() DELETE r"


def clear_relationships_batch() -> str:
    """Delete up to ``$limit`` relationships touching medkg nodes (bounded per transaction,
    where one DETACH DELETE of a hub entity could hold thousands)."""
    return (
        f"MATCH (n)-[r]-() WHERE n:{ENTITY} OR n:{META} "
        "WITH DISTINCT r LIMIT $limit DELETE r RETURN count(*) AS deleted"
    )


def clear_batch() -> str:
    """Delete up to ``$limit`` medkg nodes (entities and meta) with their relationships."""
    return (
        f"MATCH (n) WHERE n:{ENTITY} OR n:{META} "
        "WITH n LIMIT $limit DETACH DELETE n RETURN count(*) AS deleted"
    )


def set_meta() -> str:
    """Replace the meta node's properties with ``$props``."""
    return f"MERGE (m:{META} {{id: $meta_id}}) SET m = $props, m.id = $meta_id"


# --------------------------------------------------------------------------- reads
STATS_GROUP = (
    "n.kind AS kind, n.source AS source, n.depth AS depth, n.met_placement AS met_placement"
)
STATS_DETAIL = (
    "n.rare AS rare, split(n.rare_reason, ':')[0] AS rare_reason, "
    "n.annotation_degree AS annotation_degree"
)


def stats_node_groups(detail: bool = False) -> str:
    """Entities grouped by the columns `kg stats` summarises, with a count per group
    (aggregated in the database). With ``detail`` also by rarity and annotation degree
    (many more groups: the slow, always exact form)."""
    cols = f"{STATS_GROUP}, {STATS_DETAIL}" if detail else STATS_GROUP
    return f"MATCH (n:{ENTITY}) RETURN {cols}, count(*) AS n"


def stats_kind_details(kind: str) -> str:
    """Rarity and annotation degree of one kind's entities, grouped (a label scan)."""
    return (
        f"MATCH (n:{ENTITY}:{quote_name(kind)}) WHERE n.kind = $kind "
        f"RETURN {STATS_DETAIL}, count(*) AS n"
    )


def relationship_types() -> str:
    return "CALL db.relationshipTypes() YIELD relationshipType RETURN relationshipType AS rel"


def count_store_counts(kinds: Sequence[str], rels: Sequence[str]) -> str:
    """Entities, nodes per label in ``kinds`` and relationships per type in ``rels`` in one
    row: ``entities``, ``kind<i>`` and ``rel<i>`` (``i`` the position in ``kinds`` /
    ``rels``). Each count is its own subquery, so Neo4j answers it from the count store;
    a UNION of the same counts with extra columns is planned as label scans."""
    parts = [f"CALL {{ MATCH (n:{ENTITY}) RETURN count(n) AS entities }}"]
    parts += [
        f"CALL {{ MATCH (n:{quote_name(kind)}) RETURN count(n) AS kind{i} }}"
        for i, kind in enumerate(kinds)
    ]
    parts += [
        f"CALL {{ MATCH ()-[r:{quote_name(rel)}]->() RETURN count(r) AS rel{i} }}"
        for i, rel in enumerate(rels)
    ]
    return " ".join(parts) + " RETURN *"


def count_keyed_relationships(rel: str) -> str:
    """Relationships of one type that are edge-table rows (tree links have no key)."""
    return f"MATCH ()-[r:{quote_name(rel)}]->() WHERE r.key IS NOT NULL RETURN count(r) AS n"


LOCK = "MedkgLock"
LOCK_ID = "writer"


def lock_constraint() -> str:
    """One writer lock node per database: MERGE on a unique id cannot create two."""
    return f"CREATE CONSTRAINT medkg_lock_id IF NOT EXISTS FOR (l:{LOCK}) REQUIRE l.id IS UNIQUE"


def acquire_lock() -> str:
    """Create the lock for ``$owner`` unless one exists; returns the holder and server time."""
    return (
        f"MERGE (l:{LOCK} {{id: $lock_id}}) "
        "ON CREATE SET l += $owner, l.heartbeat = timestamp() "
        "RETURN properties(l) AS lock, timestamp() AS now"
    )


def take_over_lock() -> str:
    """Give an abandoned lock (still held by ``$old_token``) to ``$owner``."""
    return (
        f"MATCH (l:{LOCK} {{id: $lock_id}}) WHERE l.token = $old_token "
        "SET l += $owner, l.heartbeat = timestamp() RETURN l.token AS token"
    )


def heartbeat_lock() -> str:
    return (
        f"MATCH (l:{LOCK} {{id: $lock_id, token: $token}}) "
        "SET l.heartbeat = timestamp() RETURN count(l) AS n"
    )


def release_lock() -> str:
    return f"MATCH (l:{LOCK} {{id: $lock_id, token: $token}}) DELETE l"


def read_meta() -> str:
    return f"MATCH (m:{META} {{id: $meta_id}}) RETURN properties(m) AS meta"


def read_nodes() -> str:
    return f"MATCH (n:{ENTITY}) RETURN properties(n) AS props"


def read_edges() -> str:
    """Every keyed relationship (edge-table row); tree links have no key and are skipped."""
    return (
        f"MATCH (s:{ENTITY})-[r]->(d:{ENTITY}) WHERE r.key IS NOT NULL "
        "RETURN s.id AS src, type(r) AS rel, d.id AS dst, properties(r) AS props"
    )


def read_edge_keys() -> str:
    """Type and key of every keyed relationship between entities (medkg's edge rows)."""
    return (
        f"MATCH (:{ENTITY})-[r]->(:{ENTITY}) WHERE r.key IS NOT NULL "
        "RETURN type(r) AS rel, r.key AS key"
    )


def read_entity_ids() -> str:
    return f"MATCH (n:{ENTITY}) RETURN n.id AS id, n.kind AS kind"


def get_node() -> str:
    return f"MATCH (n:{ENTITY} {{id: $id}}) RETURN properties(n) AS props"


def neighbours() -> str:
    """Keyed relationships touching ``$id`` in either direction, with the other end."""
    return (
        f"MATCH (n:{ENTITY} {{id: $id}})-[r]-(o:{ENTITY}) WHERE r.key IS NOT NULL "
        "RETURN startNode(r).id AS src, type(r) AS rel, endNode(r).id AS dst, "
        "properties(r) AS props, o.id AS other, o.name AS other_name, o.kind AS other_kind"
    )


def met_children() -> str:
    """Tree children of ``$id`` (by ``met_parent``): total count and the first ``$limit``."""
    return (
        f"MATCH (c:{ENTITY} {{met_parent: $id}}) "
        "WITH c ORDER BY c.subtree_size DESC, c.id "
        "WITH count(c) AS total, collect({id: c.id, kind: c.kind, name: c.name, "
        "subtree_size: c.subtree_size})[..$limit] AS children "
        "RETURN total, children"
    )


def search() -> str:
    """Full-text candidates over names and synonyms: ``$text`` (Lucene), ``$kind``, ``$limit``."""
    return (
        f"CALL db.index.fulltext.queryNodes('{FULLTEXT_INDEX}', $text) "
        "YIELD node, score "
        "WHERE $kind IS NULL OR node.kind = $kind "
        "RETURN node.id AS id, node.kind AS kind, node.name AS name, "
        "node.synonyms AS synonyms, node.annotation_degree AS annotation_degree, score "
        "ORDER BY score DESC, id LIMIT $limit"
    )


def lucene_query(text: str) -> str:
    """Free text as a Lucene query: each word, literally or as a prefix, any word may match.

    Special characters are escaped and upper-case operators lower-cased, so user text is
    never read as query syntax. Callers re-rank the candidates (see ``Neo4jStore.search``).
    """
    words = [_LUCENE_SPECIAL.sub(r"\\\1", w) for w in text.split()]
    # Upper-case AND/OR/NOT are operators; lower-cased they are plain words again.
    words = [w.lower() if w in {"AND", "OR", "NOT"} else w for w in words]
    return " OR ".join(f"{w} OR {w}*" for w in words)


__all__ = [
    "COLUMNS",
    "ENTITY",
    "FULLTEXT_INDEX",
    "LOCK",
    "LOCK_ID",
    "META",
    "META_ID",
    "NAME_RE",
    "TREE_MARK",
    "TREE_REL",
    "acquire_lock",
    "await_indexes",
    "clear_batch",
    "clear_relationships_batch",
    "count_keyed_relationships",
    "count_store_counts",
    "delete_edges",
    "delete_entities",
    "delete_stale_tree_links",
    "drop_index",
    "get_node",
    "heartbeat_lock",
    "legacy_relationship_key_index_name",
    "lock_constraint",
    "lucene_query",
    "merge_edges",
    "merge_nodes",
    "merge_tree_links",
    "met_children",
    "neighbours",
    "property_key",
    "quote_name",
    "read_edge_keys",
    "read_edges",
    "read_entity_ids",
    "read_meta",
    "read_nodes",
    "relationship_key_constraint",
    "relationship_key_constraint_name",
    "relationship_types",
    "release_lock",
    "remove_kind_label",
    "schema_statements",
    "search",
    "set_meta",
    "show_schema_names",
    "statement_name",
    "stats_kind_details",
    "stats_node_groups",
    "take_over_lock",
    "validate_name",
]


def set_relationship_properties(rel: str) -> str:
    """Set properties on ``rel`` relationships: ``$rows`` is a list of ``{key, props}`` maps
    (values the offline importer cannot write, such as an empty list)."""
    return (
        f"UNWIND $rows AS row MATCH ()-[r:{quote_name(rel)} {{key: row.key}}]->() "
        "SET r += row.props"
    )


def set_entity_properties() -> str:
    """Set extra properties on entities: ``$rows`` is a list of ``{id, props}`` maps
    (used by the coverage write-back; property names travel inside the map)."""
    return f"UNWIND $rows AS row MATCH (n:{ENTITY} {{id: row.id}}) SET n += row.props"
