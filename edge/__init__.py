"""The edge: what stands between Discord's gateway and the actors (filter, routing table, outlet, sandbox)."""
