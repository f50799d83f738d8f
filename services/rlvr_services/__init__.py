"""rlvr-stack services: gateway, verifier runtime, verifiers, Redis Streams worker, CLI."""

__version__ = "0.1.0"
