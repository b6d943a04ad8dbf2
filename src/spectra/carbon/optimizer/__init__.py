"""Region optimiser: rank regions for a workload by carbon, latency and cost."""
