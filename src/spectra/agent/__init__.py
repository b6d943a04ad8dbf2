"""The agent that runs on each instance: registers, heartbeats, reports prices, executes commands."""
