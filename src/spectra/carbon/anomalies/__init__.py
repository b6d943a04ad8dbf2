"""Carbon and cost anomalies: runaway processes, idle waste, carbon spikes, cost anomalies."""
