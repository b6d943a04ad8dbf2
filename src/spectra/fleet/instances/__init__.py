"""Instances: the fleet's compute inventory (synced from the cloud or the simulator), and its daily cost."""
