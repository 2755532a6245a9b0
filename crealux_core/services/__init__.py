"""Use cases: each opens no session of its own, takes `now`, and owns its commit."""
