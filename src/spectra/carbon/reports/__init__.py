"""Scope 1/2/3 reports: summary, monthly history, CSV and PDF export."""
