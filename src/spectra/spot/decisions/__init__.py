"""Switching decisions: the engine interface, the default cost-minimising engine, the oracle, the model registry."""
