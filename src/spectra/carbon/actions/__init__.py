"""Recorded optimisation actions (manual or automatic) and the realised savings they produce."""
