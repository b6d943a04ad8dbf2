"""A simulated cloud that replays real traces (prices, interruptions, boot times) for the demo and benchmarks."""
