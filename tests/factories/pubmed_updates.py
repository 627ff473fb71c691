"""A PubMed baseline file and a daily update file, cut from the real MEDLINE excerpt
(``tests/retrieval/fixtures/pubmed21n1298-excerpt.xml.gz``, the NLM's schema as it is):
the baseline holds the excerpt's first six citations; the update a revised version of the
second (same PMID, a new title and no abstract), the last two citations and a
``DeleteCitation`` naming the third citation and a PMID the corpus does not hold. The
expected outcome is derived here from the XML text, not by medkg."""

from __future__ import annotations

import gzip
import re
from dataclasses import dataclass
from pathlib import Path

from tests.factories.corpora import PUBMED

#: the revised citation's title: words of the small graph (tests/factories/graphs.py)
REVISED_TITLE = "Revised: arachnodactyly and aortic root aneurysm in Marfan syndrome."
_ARTICLE = re.compile(r"\s*<PubmedArticle>.*?</PubmedArticle>", re.S)
_PMID = re.compile(r'<MedlineCitation[^>]*>\s*<PMID Version="1">(\d+)</PMID>')


@dataclass(frozen=True)
class UpdatedPubmed:
    """The files written and what the ``last`` policy must keep."""

    folder: Path
    kept: list[str]  # PMIDs in corpus order: baseline survivors, then the update's
    revised: str  # PMID whose update version must be linked
    deleted: str  # PMID an update deletes
    unknown_delete: str  # a deleted PMID no file holds


def write_updated_pubmed(folder: Path) -> UpdatedPubmed:
    """``pubmed26n0001.xml.gz`` (baseline) and ``pubmed26n0002.xml.gz`` (update) in
    ``folder``; sorted path order is release order, as with the NLM's file names."""
    raw = gzip.decompress(PUBMED.read_bytes()).decode()
    articles = _ARTICLE.findall(raw)
    assert len(articles) == 8, len(articles)
    head = raw[: raw.index(articles[0])]
    pmids = [_PMID.search(a)[1] for a in articles]  # type: ignore[index]
    revised = re.sub(
        r"<ArticleTitle>.*?</ArticleTitle>",
        f"<ArticleTitle>{REVISED_TITLE}</ArticleTitle>",
        articles[1],
        flags=re.S,
    )
    revised = re.sub(r"\s*<Abstract>.*?</Abstract>", "", revised, flags=re.S)  # fmt: skip
    assert revised != articles[1] and pmids[1] in revised
    unknown = "39999999"
    assert unknown not in raw
    delete = (f'\n<DeleteCitation>\n<PMID Version="1">{pmids[2]}</PMID>\n'
              f'<PMID Version="1">{unknown}</PMID>\n</DeleteCitation>')  # fmt: skip
    folder.mkdir(parents=True)
    baseline = head + "".join(articles[:6]) + "\n</PubmedArticleSet>\n"
    update = head + revised + "".join(articles[6:]) + delete + "\n</PubmedArticleSet>\n"
    (folder / "pubmed26n0001.xml.gz").write_bytes(gzip.compress(baseline.encode(), mtime=0))
    (folder / "pubmed26n0002.xml.gz").write_bytes(gzip.compress(update.encode(), mtime=0))
    kept = [p for p in pmids[:6] if p not in (pmids[1], pmids[2])] + [pmids[1], *pmids[6:]]
    return UpdatedPubmed(folder, kept, pmids[1], pmids[2], unknown)


def without_revision(pm: UpdatedPubmed) -> str:
    """Rewrite ``pm``'s update file without its revised citation, so that no PMID repeats
    and only its ``DeleteCitation`` touches the baseline (the third citation); returns the
    update's XML text as written."""
    update = pm.folder / "pubmed26n0002.xml.gz"
    raw = gzip.decompress(update.read_bytes()).decode()
    revised = _ARTICLE.search(raw)
    assert revised is not None and pm.revised in revised[0]
    raw = raw.replace(revised[0], "", 1)
    update.write_bytes(gzip.compress(raw.encode(), mtime=0))
    return raw
