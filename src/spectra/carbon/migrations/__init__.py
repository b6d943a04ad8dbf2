"""Migrations: move an instance or workload to another region (plan, execute, history)."""
