"""Tests for medkg.coverage."""
