"""Shared test factories: graphs, items, store and source checks, fake backends.

Test modules import helpers from here (or get them as fixtures from conftest), never from
each other, so a test module can move or be deselected without breaking another.
"""
