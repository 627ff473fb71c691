"""Multi-corpora query generation: one synthetic item (or entity), queries styled per corpus kind.

HeteroRAG's lesson: one query does not fit every corpus. For each corpus kind the generator
writes a query in that kind's style (:data:`~medkg.retrieval.base.STYLE_FOR_KIND`, user
kinds get ``question``), expanded from the graph:

``keyword``        research corpora: a boolean query, one OR-group per cue with its synonyms
                   (own synonyms and the names of MAPS_TO equivalents, MeSH-style), AND the
                   genes of disease cues: ``("Marfan syndrome" OR "Marfan's Syndrome") AND FBN1``
``title``          encyclopedias: one entity-title query per cue, then its hypernym up the MET
``question``       textbooks, guidelines: a natural-language question naming the cues with
                   their synonyms, hypernyms, characteristic phenotypes and genes
``term_relation``  the graph corpus: ``"<cue name>, <relation>"`` per cue, the relation being
                   the one the item's path follows from that cue

plus, for every kind, a ``raw`` query (the question text, for comparison). Every query's
``facts`` lists the graph facts that produced it: ``"<id> name <text>"`` for a cue,
``"<id> synonym <text>"``, ``"<a> MAPS_TO <b>"``, ``"<a> MET_PARENT <b>"``,
``"<disease> HAS_PHENOTYPE <phenotype>"``, ``"<gene> GENE_ASSOCIATED_WITH <disease>"``.

No query leaks the gold answer. Cues are the item's entities minus its options (answer and
distractors) that the question names (by name or synonym); hidden path intermediates (the
masked gene of a chain question) are used only with ``include_hidden`` (an oracle, since a
reader of the question does not know them). Expansion never adds an option, an entity
equivalent to the answer, or a term that names the answer (unless the question itself
does); a query that would still name the answer is dropped and counted in ``stats``.

The optional LLM path (:meth:`QueryGenerator.rewrite`) asks a generator
(:mod:`medkg.llm`) to rewrite each graph query in its corpus style; the
rewrites are added with ``source`` = the generator's name and checked for leaks the same way.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from medkg.kg.index import SynthesisGraph
from medkg.kg.model import GENE_ASSOCIATED_WITH, HAS_PHENOTYPE, IS_A, KnowledgeGraph
from medkg.llm.base import Generator, GenParams, Messages
from medkg.retrieval.base import CORPUS_KINDS, STYLE_FOR_KIND, Query, RetrievalError
from medkg.synthesis.paraphrase import clean_completion
from medkg.text import names_in, normalise

PROMPT_VERSION = "queries.v1"
# "<term>, <relation>" wording for the graph corpus, keyed by (relation type, cue is the
# subject); the words are those medkg.retrieval.graph_corpus.parse_lookup understands.
RELATION_PHRASES: dict[tuple[str, bool], str] = {
    (HAS_PHENOTYPE, True): "phenotypes",
    (HAS_PHENOTYPE, False): "diseases",
    (GENE_ASSOCIATED_WITH, True): "diseases",
    (GENE_ASSOCIATED_WITH, False): "genes",
    (IS_A, True): "parent",
    (IS_A, False): "subtypes",
    ("HAS_CLINICAL_COURSE", True): "clinical course",
    ("HAS_CLINICAL_COURSE", False): "clinical course",
    ("HAS_INHERITANCE", True): "inheritance",
    ("HAS_INHERITANCE", False): "inheritance",
}
# natural-language lead for the cues of one (relation, cue is the subject) group
QUESTION_LEADS: dict[tuple[str, bool], str] = {
    (HAS_PHENOTYPE, True): "What are the characteristic clinical features of {terms}?",
    (HAS_PHENOTYPE, False): "Which disorder presents with {terms}?",
    (GENE_ASSOCIATED_WITH, True): "Which diseases are associated with the gene {terms}?",
    (GENE_ASSOCIATED_WITH, False): "Which genes are implicated in {terms}?",
    (IS_A, True): "How is {terms} classified?",
    (IS_A, False): "Which conditions are types of {terms}?",
    ("HAS_CLINICAL_COURSE", False): "Which disorders have {terms}?",
}
DEFAULT_LEAD = "What is known about {terms}?"
STYLE_HINTS = {
    "keyword": "a boolean keyword query for a bibliographic database such as PubMed "
    "(quoted phrases, OR between synonyms, AND between concepts)",
    "title": "the title of the encyclopedia article most likely to hold the answer",
    "question": "a natural-language question as a student would ask a textbook",
    "term_relation": 'a "term, relation" look-up in a medical knowledge graph',
}
SYSTEM_PROMPT = (
    "You write search queries for medical retrieval. You never state the answer to the "
    "question; you only ask for the evidence that would answer it."
)


@dataclass(frozen=True)
class QueryConfig:
    """What the generator expands and for which corpus kinds."""

    kinds: tuple[str, ...] = CORPUS_KINDS
    max_cues: int = 4  # cues used per query (in path order)
    max_synonyms: int = 3  # synonyms per cue (own synonyms first, then MAPS_TO names)
    hypernyms: int = 1  # levels up the MET
    min_hypernym_depth: int = 4  # shallower MET nodes ("Phenotypic abnormality") are too broad
    max_phenotypes: int = 3  # characteristic phenotypes of a disease cue (most frequent first)
    max_genes: int = 2  # associated genes of a disease cue
    include_hidden: bool = False  # also use path intermediates the question does not name
    raw: bool = True  # add the question text as a "raw" query per kind

    def validate(self) -> None:
        for name in ("max_cues", "max_synonyms", "hypernyms", "max_phenotypes", "max_genes"):
            if getattr(self, name) < 0:
                raise RetrievalError(f"query config: {name} must be >= 0")
        if self.max_cues < 1:
            raise RetrievalError("query config: max_cues must be >= 1")
        if not self.kinds:
            raise RetrievalError("query config: no corpus kinds")


@dataclass(frozen=True)
class Term:
    """One expansion term and the graph fact behind it."""

    text: str
    facts: tuple[str, ...]


@dataclass
class Cue:
    """A question entity with its graph expansion (answer-safe)."""

    id: str
    name: str
    kind: str
    relation: tuple[str, bool] | None  # the path relation followed from this cue
    synonyms: list[Term]
    hypernyms: list[Term]
    phenotypes: list[Term]
    genes: list[Term]

    @property
    def name_fact(self) -> str:
        return f"{self.id} name {self.name}"


@dataclass
class ItemContext:
    """What the generator knows of one item: its question, cues and the names to avoid."""

    item_id: str
    question: str
    cues: list[Cue]
    answer_names: tuple[str, ...]
    question_norm: str


def style_for(kind: str) -> str:
    """The query style of a corpus kind (user-defined kinds get ``question``)."""
    return STYLE_FOR_KIND.get(kind, "question")


def _quoted(text: str) -> str:
    return f'"{text}"' if re.search(r"[\s\W]", text) else text


class QueryGenerator:
    """Writes corpus-styled queries for items or entities from one graph snapshot."""

    def __init__(
        self,
        kg: KnowledgeGraph,
        config: QueryConfig | None = None,
        *,
        graph: SynthesisGraph | None = None,
    ) -> None:
        self.config = config or QueryConfig()
        self.config.validate()
        self.graph = graph or SynthesisGraph.from_kg(kg, content_hash="")
        rows = kg.nodes.select("id", "synonyms").filter(
            kg.nodes.get_column("synonyms").list.len() > 0
        )
        self.synonyms: dict[str, list[str]] = {i: list(s) for i, s in rows.iter_rows()}
        self.stats: Counter[str] = Counter()
        self._by_name: dict[str, list[int]] | None = None

    # ------------------------------------------------------------------ names
    def names(self, eid: str) -> list[str]:
        """[name, *synonyms] of an entity (empty for an id the graph lacks)."""
        row = self.graph.row_of.get(eid)
        if row is None:
            return []
        return [self.graph.names[row], *self.synonyms.get(eid, [])]

    def _equivalent_rows(self, row: int) -> list[int]:
        return [int(r) for r in self.graph.equiv.row(row)]

    # ------------------------------------------------------------------ context
    def context(self, item: Mapping[str, Any]) -> ItemContext:
        """Cues and answer names of a QA item (the dict form of ``QAItem``)."""
        try:
            question = str(item["question"])
            answer_id = str(item["answer_id"])
            entity_ids = list(item["entity_ids"])
        except KeyError as exc:
            raise RetrievalError(f"item {item.get('id', '?')}: missing field {exc}") from None
        options = {answer_id, *item.get("option_ids", ()), *item.get("distractor_ids", ())}
        qnorm = normalise(question)
        candidates = [e for e in dict.fromkeys(entity_ids) if e not in options]
        named = [e for e in candidates if names_in(qnorm, self.names(e))]
        chosen = candidates if self.config.include_hidden or not named else named
        answer_names = tuple(dict.fromkeys([str(item.get("answer", "")), *self.names(answer_id)]))
        answer_names = tuple(n for n in answer_names if n)
        blocked = self._blocked_rows(options, answer_id)
        path = list(item.get("path_nodes", ()))
        rels = list(item.get("path_rels", ()))
        cues = [
            self._cue(e, self._path_relation(e, path, rels), blocked, answer_names, qnorm)
            for e in chosen[: self.config.max_cues]
            if e in self.graph.row_of
        ]
        return ItemContext(str(item.get("id", "")), question, cues, answer_names, qnorm)

    def entity_context(self, entity_id: str) -> ItemContext:
        """Context for a bare entity: it is the only cue, nothing is hidden."""
        if entity_id not in self.graph.row_of:
            raise RetrievalError(f"entity {entity_id!r} is not in the graph")
        kind = self.graph.kind_of(self.graph.row_of[entity_id])
        relation = {
            "Disease": (HAS_PHENOTYPE, True),
            "Phenotype": (HAS_PHENOTYPE, False),
            "Gene": (GENE_ASSOCIATED_WITH, True),
        }.get(kind, (IS_A, True))
        cue = self._cue(entity_id, relation, set(), (), " ")
        return ItemContext(entity_id, cue.name, [cue], (), normalise(cue.name))

    def _blocked_rows(self, options: Iterable[str], answer_id: str) -> set[int]:
        g = self.graph
        blocked = {g.row_of[o] for o in options if o in g.row_of}
        if answer_id in g.row_of:
            a = g.row_of[answer_id]
            blocked.update(self._equivalent_rows(a))
            blocked.update(self._rows_named(g.names_lower[a]))
        return blocked

    def _rows_named(self, name_lower: str) -> list[int]:
        """Rows whose name is ``name_lower`` (index built on first use)."""
        if self._by_name is None:
            self._by_name = {}
            for r, nm in enumerate(self.graph.names_lower):
                self._by_name.setdefault(nm, []).append(r)
        return self._by_name.get(name_lower, [])

    def _path_relation(self, eid: str, path: list[str], rels: list[str]) -> tuple[str, bool] | None:
        g = self.graph
        if eid not in path:
            return None
        i = path.index(eid)
        if i < len(rels) and i + 1 < len(path):
            other, rel = path[i + 1], rels[i]
        elif i > 0:
            other, rel = path[i - 1], rels[i - 1]
        else:
            return None
        a, b = g.row_of.get(eid), g.row_of.get(other)
        if a is None or b is None:
            return (rel, True)
        return (rel, g.has_edge(a, rel, b) or not g.has_edge(b, rel, a))

    def _cue(
        self,
        eid: str,
        relation: tuple[str, bool] | None,
        blocked: set[int],
        answer_names: tuple[str, ...],
        qnorm: str,
    ) -> Cue:
        g, cfg = self.graph, self.config
        row = g.row_of[eid]

        def safe(r: int) -> bool:
            return r not in blocked and r != row

        def ok_text(text: str) -> bool:
            t = normalise(text)
            return len(t.strip()) > 0 and not (
                names_in(t, answer_names) and not names_in(qnorm, answer_names)
            )

        name = g.names[row]
        seen = {name.lower()}
        synonyms: list[Term] = []
        for s in self.synonyms.get(eid, []):
            if s.lower() not in seen and ok_text(s):
                seen.add(s.lower())
                synonyms.append(Term(s, (f"{eid} synonym {s}",)))
        for r in self._equivalent_rows(row):
            if not safe(r):
                continue
            other = g.ids[r]
            for s in self.names(other):
                if s.lower() not in seen and ok_text(s):
                    seen.add(s.lower())
                    fact = f"{other} synonym {s}" if s != g.names[r] else f"{other} name {s}"
                    synonyms.append(Term(s, (f"{eid} MAPS_TO {other}", fact)))
        hypernyms: list[Term] = []
        child, parent = row, int(g.met_parent[row])
        while parent >= 0 and len(hypernyms) < cfg.hypernyms:
            pid = g.ids[parent]
            if pid.startswith("MET:") or g.depth[parent] < cfg.min_hypernym_depth:
                break
            if g.equivalent(parent, row):  # the MeSH twin of a disease: a synonym, not broader
                child, parent = parent, int(g.met_parent[parent])
                continue
            if not safe(parent) or not ok_text(g.names[parent]):
                break
            hypernyms.append(Term(g.names[parent], (f"{g.ids[child]} MET_PARENT {pid}",)))
            child, parent = parent, int(g.met_parent[parent])
        phenotypes: list[Term] = []
        genes: list[Term] = []
        if g.kind_of(row) == "Disease":
            ph = g.dis_pheno.row(row)
            freq = np.nan_to_num(g.dis_pheno.values("freq", row), nan=-1.0)
            for p in ph[np.lexsort((ph, -freq))].tolist():
                if len(phenotypes) >= cfg.max_phenotypes:
                    break
                if safe(p) and ok_text(g.names[p]):
                    phenotypes.append(Term(g.names[p], (f"{eid} HAS_PHENOTYPE {g.ids[p]}",)))
            for gene in g.dis_gene.row(row).tolist():
                if len(genes) >= cfg.max_genes:
                    break
                if safe(gene) and ok_text(g.names[gene]):
                    fact = f"{g.ids[gene]} GENE_ASSOCIATED_WITH {eid}"
                    genes.append(Term(g.names[gene], (fact,)))
        return Cue(
            eid,
            name,
            g.kind_of(row),
            relation,
            synonyms[: cfg.max_synonyms],
            hypernyms,
            phenotypes,
            genes,
        )

    # ------------------------------------------------------------------ queries
    def for_item(self, item: Mapping[str, Any], kinds: Sequence[str] | None = None) -> list[Query]:
        """Queries for each corpus kind (default: the config's), graph queries before raw."""
        return self._queries(self.context(item), kinds)

    def for_entity(self, entity_id: str, kinds: Sequence[str] | None = None) -> list[Query]:
        """Queries about one entity (no answer to hide, no raw query)."""
        return self._queries(self.entity_context(entity_id), kinds, raw=False)

    def _queries(
        self, ctx: ItemContext, kinds: Sequence[str] | None, raw: bool | None = None
    ) -> list[Query]:
        out: list[Query] = []
        for kind in kinds or self.config.kinds:
            style = style_for(kind)
            seen: set[str] = set()  # two cues may share a hypernym: one title query
            for q in BUILDERS[style](ctx.cues, kind):
                if self.leaks(q.text, ctx):
                    self.stats["dropped_answer_leak"] += 1
                    continue
                if q.text.lower() not in seen:
                    seen.add(q.text.lower())
                    out.append(q)
            if self.config.raw if raw is None else raw:
                out.append(Query(ctx.question, "raw", kind, (), "raw"))
        self.stats["queries"] += len(out)
        if not ctx.cues:
            self.stats["items_without_cues"] += 1
        return out

    @staticmethod
    def leaks(text: str, ctx: ItemContext) -> bool:
        """True if ``text`` names the answer where the question does not."""
        return names_in(normalise(text), ctx.answer_names) and not names_in(
            ctx.question_norm, ctx.answer_names
        )

    # ------------------------------------------------------------------ LLM path
    def rewrite(
        self,
        items: Sequence[Mapping[str, Any]],
        queries: Sequence[list[Query]],
        generator: Generator,
        params: GenParams | None = None,
    ) -> list[list[Query]]:
        """Add an LLM rewrite of each graph query (``source`` = the generator's name).

        One prompt per graph query; empty replies and rewrites that name the answer are
        dropped and counted (``llm_empty``, ``llm_answer_leak``)."""
        params = params or GenParams(max_new_tokens=96, temperature=0.0)
        jobs: list[tuple[int, Query, ItemContext]] = []
        prompts: list[Messages] = []
        for i, (item, qs) in enumerate(zip(items, queries, strict=True)):
            ctx = self.context(item)
            for q in qs:
                if q.source == "graph":
                    jobs.append((i, q, ctx))
                    prompts.append(rewrite_prompt(ctx.question, q))
        replies = generator.generate(prompts, params) if prompts else []
        out = [list(qs) for qs in queries]
        for (i, q, ctx), reply in zip(jobs, replies, strict=True):
            text = clean_query(reply[0])
            if not text:
                self.stats["llm_empty"] += 1
            elif self.leaks(text, ctx):
                self.stats["llm_answer_leak"] += 1
            else:
                out[i].append(Query(text, q.style, q.corpus_kind, q.facts, generator.name))
                self.stats["llm_rewrites"] += 1
        return out


_QUERY_LABEL = re.compile(
    r"^(?:here is the |here's the )?(?:rewritten |search |new |boolean |keyword )?query\s*:\s*",
    re.IGNORECASE,
)


def clean_query(reply: str) -> str:
    """The query a completion proposes: its first paragraph, labels and quotes stripped."""
    text = " ".join(clean_completion(reply).split())
    text = _QUERY_LABEL.sub("", text).strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "`'":
        text = text[1:-1].strip()
    return text


def rewrite_prompt(question: str, query: Query) -> Messages:
    """The chat prompt asking a model to rewrite ``query`` for its corpus kind."""
    hint = STYLE_HINTS.get(query.style, STYLE_HINTS["question"])
    user = (
        f"Question: {question}\n"
        f"Corpus kind: {query.corpus_kind}\n"
        f"Draft query: {query.text}\n"
        f"Rewrite the draft as {hint}. Keep its medical terms; do not answer the question. "
        "Reply with the query only."
    )
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}]


# ---------------------------------------------------------------------- style builders
def _facts(cues: Sequence[Cue], *groups: str) -> tuple[str, ...]:
    facts: list[str] = []
    for c in cues:
        facts.append(c.name_fact)
        for g in groups:
            for term in getattr(c, g):
                facts.extend(term.facts)
    return tuple(dict.fromkeys(facts))


def keyword_queries(cues: Sequence[Cue], kind: str) -> list[Query]:
    """One boolean query: an OR-group of names per cue, AND the genes of disease cues."""
    if not cues:
        return []
    groups: list[str] = []
    for c in cues:
        terms = [c.name, *(t.text for t in c.synonyms)]
        group = " OR ".join(_quoted(t) for t in terms)
        groups.append(f"({group})" if len(terms) > 1 else group)
        if c.genes:
            genes = " OR ".join(_quoted(t.text) for t in c.genes)
            groups.append(f"({genes})" if len(c.genes) > 1 else genes)
    text = " AND ".join(groups)
    return [Query(text, "keyword", kind, _facts(cues, "synonyms", "genes"))]


def title_queries(cues: Sequence[Cue], kind: str) -> list[Query]:
    """One title query per cue, then each cue's hypernym titles."""
    out = [Query(c.name, "title", kind, _facts([c])) for c in cues]
    for c in cues:
        for h in c.hypernyms:
            out.append(Query(h.text, "title", kind, (c.name_fact, *h.facts)))
    return out


def _render(c: Cue) -> str:
    extra = [t.text for t in c.synonyms]
    if c.hypernyms:
        extra.append(f"a kind of {c.hypernyms[0].text.lower()}")
    return f"{c.name} ({'; '.join(extra)})" if extra else c.name


def _join(parts: Sequence[str]) -> str:
    return parts[0] if len(parts) == 1 else f"{', '.join(parts[:-1])} and {parts[-1]}"


def question_queries(cues: Sequence[Cue], kind: str) -> list[Query]:
    """One natural-language question naming every cue, expanded from the graph."""
    if not cues:
        return []
    groups: dict[tuple[str, bool] | None, list[Cue]] = {}
    for c in cues:
        groups.setdefault(c.relation, []).append(c)
    sentences = []
    for relation, members in groups.items():
        lead = QUESTION_LEADS.get(relation, DEFAULT_LEAD) if relation else DEFAULT_LEAD
        sentences.append(lead.format(terms=_join([_render(c) for c in members])))
    for c in cues:
        if c.phenotypes:
            sentences.append(
                f"{c.name} is characterised by {_join([t.text.lower() for t in c.phenotypes])}."
            )
        if c.genes:
            sentences.append(f"{c.name} is associated with {_join([t.text for t in c.genes])}.")
    facts = _facts(cues, "synonyms", "hypernyms", "phenotypes", "genes")
    return [Query(" ".join(sentences), "question", kind, facts)]


def term_relation_queries(cues: Sequence[Cue], kind: str) -> list[Query]:
    """``"<cue>, <relation>"`` per cue (the relation its path follows, else its definition)."""
    out = []
    for c in cues:
        phrase = RELATION_PHRASES.get(c.relation, "definition") if c.relation else "definition"
        out.append(Query(f"{c.name}, {phrase}", "term_relation", kind, _facts([c])))
    return out


BUILDERS = {
    "keyword": keyword_queries,
    "title": title_queries,
    "question": question_queries,
    "term_relation": term_relation_queries,
}

__all__ = [
    "BUILDERS",
    "PROMPT_VERSION",
    "QueryConfig",
    "QueryGenerator",
    "clean_query",
    "rewrite_prompt",
    "style_for",
]
