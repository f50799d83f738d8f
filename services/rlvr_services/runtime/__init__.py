"""Verifier runtime: the Verifier protocol, the registry and the runners (inline, process)."""
