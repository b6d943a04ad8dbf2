"""Spot optimiser: agents, pools and the pricing pipeline, decisions, commands, emergency flows, analytics."""
