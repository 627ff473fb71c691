"""MeSH tree numbers: official names of the branches and top-level categories, and the
nearest-ancestor rule the ``mesh`` and ``drugs`` loaders share.

A MeSH tree number is a branch letter, two digits, then ``.``-separated three-digit
segments (``C04.588.033``). Its parent is the number with the last segment removed;
``C04`` is a top-level category and ``C`` its branch. Names follow current MeSH (C01
"Infections" since the 2020 merge of the old C01-C03, C12 "Urogenital Diseases" since
2023; C02, C03, C13, D07, D11, D14-D19, D21, D22 and D24 no longer exist).

Category nodes (``MESH:C04``, ``MESH:D02`` ...) and branch nodes (``MESH:C``, ``MESH:D``)
are kind ``Category``. Their ids cannot collide with descriptor ids (``D`` + six or nine
digits) or supplementary concept ids (``C`` + six or nine digits).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from medkg.kg.model import CATEGORY, props_json
from medkg.kg.sources.frames import node_table

TREE_NUMBER = re.compile(r"^[A-Z]\d{2}(?:\.\d{3})*$")

BRANCHES: dict[str, str] = {
    "A": "Anatomy",
    "B": "Organisms",
    "C": "Diseases",
    "D": "Chemicals and Drugs",
    "E": "Analytical, Diagnostic and Therapeutic Techniques, and Equipment",
    "F": "Psychiatry and Psychology",
    "G": "Phenomena and Processes",
    "H": "Disciplines and Occupations",
    "I": "Anthropology, Education, Sociology, and Social Phenomena",
    "J": "Technology, Industry, and Agriculture",
    "K": "Humanities",
    "L": "Information Science",
    "M": "Named Groups",
    "N": "Health Care",
    "V": "Publication Characteristics",
    "Z": "Geographicals",
}

TOP_LEVEL: dict[str, str] = {
    # A Anatomy
    "A01": "Body Regions",
    "A02": "Musculoskeletal System",
    "A03": "Digestive System",
    "A04": "Respiratory System",
    "A05": "Urogenital System",
    "A06": "Endocrine System",
    "A07": "Cardiovascular System",
    "A08": "Nervous System",
    "A09": "Sense Organs",
    "A10": "Tissues",
    "A11": "Cells",
    "A12": "Fluids and Secretions",
    "A13": "Animal Structures",
    "A14": "Stomatognathic System",
    "A15": "Hemic and Immune Systems",
    "A16": "Embryonic Structures",
    "A17": "Integumentary System",
    "A18": "Plant Structures",
    "A19": "Fungal Structures",
    "A20": "Bacterial Structures",
    "A21": "Viral Structures",
    # C Diseases
    "C01": "Infections",
    "C04": "Neoplasms",
    "C05": "Musculoskeletal Diseases",
    "C06": "Digestive System Diseases",
    "C07": "Stomatognathic Diseases",
    "C08": "Respiratory Tract Diseases",
    "C09": "Otorhinolaryngologic Diseases",
    "C10": "Nervous System Diseases",
    "C11": "Eye Diseases",
    "C12": "Urogenital Diseases",
    "C14": "Cardiovascular Diseases",
    "C15": "Hemic and Lymphatic Diseases",
    "C16": "Congenital, Hereditary, and Neonatal Diseases and Abnormalities",
    "C17": "Skin and Connective Tissue Diseases",
    "C18": "Nutritional and Metabolic Diseases",
    "C19": "Endocrine System Diseases",
    "C20": "Immune System Diseases",
    "C21": "Disorders of Environmental Origin",
    "C22": "Animal Diseases",
    "C23": "Pathological Conditions, Signs and Symptoms",
    "C24": "Occupational Diseases",
    "C25": "Chemically-Induced Disorders",
    "C26": "Wounds and Injuries",
    # D Chemicals and Drugs
    "D01": "Inorganic Chemicals",
    "D02": "Organic Chemicals",
    "D03": "Heterocyclic Compounds",
    "D04": "Polycyclic Compounds",
    "D05": "Macromolecular Substances",
    "D06": "Hormones, Hormone Substitutes, and Hormone Antagonists",
    "D08": "Enzymes and Coenzymes",
    "D09": "Carbohydrates",
    "D10": "Lipids",
    "D12": "Amino Acids, Peptides, and Proteins",
    "D13": "Nucleic Acids, Nucleotides, and Nucleosides",
    "D20": "Complex Mixtures",
    "D23": "Biological Factors",
    "D25": "Biomedical and Dental Materials",
    "D26": "Pharmaceutical Preparations",
    "D27": "Chemical Actions and Uses",
    # E Techniques and Equipment
    "E01": "Diagnosis",
    "E02": "Therapeutics",
    "E03": "Anesthesia and Analgesia",
    "E04": "Surgical Procedures, Operative",
    "E05": "Investigative Techniques",
    "E06": "Dentistry",
    "E07": "Equipment and Supplies",
    # F Psychiatry and Psychology
    "F01": "Behavior and Behavior Mechanisms",
    "F02": "Psychological Phenomena",
    "F03": "Mental Disorders",
    "F04": "Behavioral Disciplines and Activities",
    # G Phenomena and Processes
    "G01": "Physical Phenomena",
    "G02": "Chemical Phenomena",
    "G03": "Metabolism",
    "G04": "Cell Physiological Phenomena",
    "G05": "Genetic Phenomena",
    "G06": "Microbiological Phenomena",
    "G07": "Physiological Phenomena",
    "G08": "Reproductive and Urinary Physiological Phenomena",
    "G09": "Circulatory and Respiratory Physiological Phenomena",
    "G10": "Digestive System and Oral Physiological Phenomena",
    "G11": "Musculoskeletal and Neural Physiological Phenomena",
    "G12": "Immune System Phenomena",
    "G13": "Integumentary System Physiological Phenomena",
    "G14": "Ocular Physiological Phenomena",
    "G15": "Plant Physiological Phenomena",
    "G16": "Biological Phenomena",
    "G17": "Mathematical Concepts",
    # H-N
    "H01": "Natural Science Disciplines",
    "H02": "Health Occupations",
    "I01": "Social Sciences",
    "I02": "Education",
    "I03": "Human Activities",
    "J01": "Technology, Industry, and Agriculture",
    "J02": "Food and Beverages",
    "J03": "Non-Medical Public and Private Facilities",
    "K01": "Humanities",
    "L01": "Information Science",
    "M01": "Persons",
    "N01": "Population Characteristics",
    "N02": "Health Care Facilities, Manpower, and Services",
    "N03": "Health Care Economics and Organizations",
    "N04": "Health Services Administration",
    "N05": "Health Care Quality, Access, and Evaluation",
    "N06": "Environment and Public Health",
}


def is_tree_number(value: str) -> bool:
    return bool(TREE_NUMBER.match(value))


def category_id(code: str) -> str:
    """``MESH:C04`` for a top-level code, ``MESH:C`` for a branch letter."""
    return f"MESH:{code}"


@dataclass
class TreeLinks:
    """IS_A links derived from tree numbers, and the category nodes they need."""

    edges: dict[tuple[str, str], None] = field(
        default_factory=dict
    )  # ordered set of (child, parent)
    categories: dict[str, None] = field(default_factory=dict)  # top-level codes and branch letters
    duplicate_tree_numbers: int = 0  # a tree number listed by two nodes (first kept as owner)
    # tree numbers whose top-level code is missing from TOP_LEVEL (placed under the branch
    # when the branch letter is known, otherwise left without a category edge)
    unknown_top_level: int = 0
    # (child, owner) pairs passed over because ``accept`` refused the owner (ordered set)
    skipped: dict[tuple[str, str], None] = field(default_factory=dict)

    def category_rows(self) -> list[tuple[str, str, str, str | None]]:
        """(id, name, tree number, parent id) for each needed category and branch, sorted."""
        codes = set(self.categories)
        codes.update(c[0] for c in list(codes))
        rows: list[tuple[str, str, str, str | None]] = []
        for code in sorted(codes):
            if len(code) == 1:
                rows.append((category_id(code), BRANCHES[code], code, None))
            else:
                rows.append((category_id(code), TOP_LEVEL[code], code, category_id(code[0])))
        return rows


def link_tree_numbers(
    trees_by_node: Mapping[str, Iterable[str]],
    *,
    linked: Mapping[str, Iterable[str]] | None = None,
    prefer: Callable[[str], Any] | None = None,
    accept: Callable[[str, str], bool] | None = None,
) -> TreeLinks:
    """IS_A edges from each node to the owner of the nearest ancestor of each tree number.

    ``trees_by_node`` maps node id to the (valid) tree numbers it owns. ``linked``, when
    given, maps node id to the subset of its numbers that make edges (the ``mesh`` source
    links a disease only through its disease trees); by default every owned number does.
    A tree number listed by several nodes is owned by one: the smallest by ``prefer``
    (a sort key on node ids), or the first listed without it; the extra claims are
    counted. Ancestors the node owns itself are skipped. Without an owned ancestor the
    node goes under its top-level category (``MESH:C04``), or under the branch
    (``MESH:C``) when it owns the top-level number itself; categories are only
    synthesised where no node owns that number. Every linked tree number contributes one
    edge, so a descriptor in several places of the tree keeps every parent (a DAG);
    duplicates are dropped. ``accept(child, owner)``, when given, can refuse an owner: the
    walk then goes on to the next owned ancestor (the pair is recorded in ``skipped``).
    """
    links = TreeLinks()
    owner: dict[str, str] = {}
    for node_id, trees in trees_by_node.items():
        for tree in trees:
            held = owner.setdefault(tree, node_id)
            if held == node_id:
                continue
            links.duplicate_tree_numbers += 1
            if prefer is not None and prefer(node_id) < prefer(held):
                owner[tree] = node_id
    for node_id, trees in (trees_by_node if linked is None else linked).items():
        for tree in trees:
            parent = _nearest_owner(tree, node_id, owner, accept, links.skipped)
            if parent is None:
                code = _category_code(tree, owner)
                if code is None:
                    links.unknown_top_level += 1
                    continue
                if len(code) == 1 and tree[:3] != tree and tree[:3] not in owner:
                    links.unknown_top_level += 1  # placed under the branch: name not in TOP_LEVEL
                parent = category_id(code)
                links.categories[code] = None
            links.edges[(node_id, parent)] = None
    return links


def category_table(links: TreeLinks) -> tuple[pl.DataFrame, list[tuple[str, str]]]:
    """Category/branch nodes a :class:`TreeLinks` needs (kind ``Category``, unstamped), and
    their own IS_A edges (category -> branch)."""
    rows = links.category_rows()
    nodes = node_table(
        {
            "id": [r[0] for r in rows],
            "kind": [CATEGORY] * len(rows),
            "name": [r[1] for r in rows],
            "props": [props_json({"tree_number": r[2], "synthetic": True}) for r in rows],
        }
    )
    return nodes, [(r[0], r[3]) for r in rows if r[3] is not None]


def _category_code(tree: str, owner: Mapping[str, str]) -> str | None:
    """The category a tree number without an owned ancestor hangs under, if any is known."""
    top = tree[:3]
    if tree == top or top in owner:
        # The node owns the top-level number (or shares it): it sits right under the branch.
        return top[0] if top[0] in BRANCHES else None
    if top in TOP_LEVEL:
        return top
    return top[0] if top[0] in BRANCHES else None


def _nearest_owner(
    tree: str,
    node_id: str,
    owner: Mapping[str, str],
    accept: Callable[[str, str], bool] | None = None,
    skipped: dict[tuple[str, str], None] | None = None,
) -> str | None:
    prefix = tree
    while "." in prefix:
        prefix = prefix.rpartition(".")[0]
        hit = owner.get(prefix)
        if hit is None or hit == node_id:
            continue
        if accept is None or accept(node_id, hit):
            return hit
        if skipped is not None:
            skipped[(node_id, hit)] = None
    return None
