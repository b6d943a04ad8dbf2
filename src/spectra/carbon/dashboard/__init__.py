"""SPECTRA's dashboard: one aggregated view of emissions, intensity, budgets and savings."""
