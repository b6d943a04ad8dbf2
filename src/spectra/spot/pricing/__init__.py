"""Spot prices: file formats, the staging → consolidated → canonical pipeline, import and consolidation."""
