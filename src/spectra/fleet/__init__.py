"""Fleet: tenants (clients, teams), regions, instance types and instances."""
