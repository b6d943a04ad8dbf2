"""Carbon domain: intensity, emissions, budgets, scheduling, optimisation."""
