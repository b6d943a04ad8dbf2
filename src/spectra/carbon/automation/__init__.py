"""Automation: per-client switches with guard-rails that act through the manual services."""
