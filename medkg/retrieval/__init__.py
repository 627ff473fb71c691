"""Retrieval: corpora and chunking, BM25/dense/hybrid retrievers, multi-corpora query
generation from the graph, evidence packs for synthetic items and their evaluation."""
