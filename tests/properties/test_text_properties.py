"""Property tests of CURIE normalisation and the chunker."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from medkg.kg.curie import CANONICAL_PREFIXES, CurieError, normalise_curie
from medkg.retrieval.base import Document
from medkg.retrieval.corpus import chunk_document

PROPERTY = settings(max_examples=150, deadline=None)

ALIASES = [(alias, canon) for canon, aliases in CANONICAL_PREFIXES.items() for alias in aliases]
LOCAL = st.text(
    st.characters(whitelist_categories=("Lu", "Ll", "Nd"), whitelist_characters="_.-"),
    min_size=1,
    max_size=12,
)


@st.composite
def any_case(draw: st.DrawFn, word: str) -> str:
    flips = draw(st.lists(st.booleans(), min_size=len(word), max_size=len(word)))
    return "".join(c.lower() if f else c.upper() for c, f in zip(word, flips, strict=True))


@PROPERTY
@given(st.sampled_from(ALIASES).flatmap(lambda a: st.tuples(any_case(a[0]), st.just(a[1]))), LOCAL)
def test_every_known_spelling_in_any_case_maps_to_its_canonical_prefix(
    alias: tuple[str, str], local: str
) -> None:
    spelling, canon = alias
    curie = normalise_curie(f"  {spelling}:{local} ")
    if canon == "MESH" and local.upper().startswith("MESH:"):
        return  # "MESH:MESH:D1" -> "MESH:D1" has its own example test
    assert curie == f"{canon}:{local}"
    assert normalise_curie(curie) == curie  # idempotent


@PROPERTY
@given(st.from_regex(r"[A-Za-z][A-Za-z0-9_]{0,8}", fullmatch=True), LOCAL)
def test_normalising_is_idempotent_and_keeps_the_local_part(prefix: str, local: str) -> None:
    curie = normalise_curie(f"{prefix}:{local}")
    assert curie.endswith(f":{local}")
    assert normalise_curie(curie) == curie


@PROPERTY
@given(st.sampled_from(["HP", "MONDO", "DOID", "GO"]), st.from_regex(r"[0-9]{7}", fullmatch=True))
def test_obo_iris_become_curies(prefix: str, number: str) -> None:
    iri = f"http://purl.obolibrary.org/obo/{prefix}_{number}"
    assert normalise_curie(iri) == f"{prefix}:{number}"


@PROPERTY
@given(st.text(st.characters(blacklist_characters=":"), max_size=20))
def test_text_without_a_colon_is_not_a_curie(text: str) -> None:
    with pytest.raises(CurieError):
        normalise_curie(text)


WORDS = st.lists(
    st.one_of(
        st.text(
            st.characters(whitelist_categories=("Ll", "Lu", "Nd", "Po")), min_size=1, max_size=15
        ),
        st.sampled_from([" ", "  ", "\n", "\n\n", ". ", "\t"]),
    ),
    max_size=80,
).map("".join)


@PROPERTY
@given(WORDS, st.integers(5, 60), st.data())
def test_chunks_are_slices_within_size_in_order_and_cover_the_text(
    text: str, size: int, data: st.DataObject
) -> None:
    overlap = data.draw(st.integers(0, size - 1))
    chunks = chunk_document(Document("d1", "Title", text), "c", size=size, overlap=overlap)
    assert chunks == chunk_document(Document("d1", "Title", text), "c", size=size, overlap=overlap)
    covered = [False] * len(text)
    for i, c in enumerate(chunks):
        assert c.chunk_id == f"c:d1:{i}" and c.title == "Title"
        assert c.text == text[c.start : c.end] and 0 < len(c.text) <= size
        assert not c.text[0].isspace() and not c.text[-1].isspace()
        for k in range(c.start, c.end):
            covered[k] = True
    assert [c.start for c in chunks] == sorted({c.start for c in chunks})
    # Every non-space character is in some chunk; whitespace-only text gives no chunk.
    assert all(covered[k] for k, ch in enumerate(text) if not ch.isspace())
    assert bool(chunks) == bool(text.strip())
