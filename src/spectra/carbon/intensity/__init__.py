"""Grid carbon intensity: parsing of exports, storage, forecast."""
