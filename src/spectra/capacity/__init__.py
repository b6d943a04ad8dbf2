"""Capacity: metric collection, saturation forecasts, alerts and the shared anomaly detector."""
