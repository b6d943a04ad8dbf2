"""Regions and the instance-type catalogue (specs, microarchitecture, prices per region)."""
