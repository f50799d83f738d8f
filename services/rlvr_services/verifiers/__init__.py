"""Built-in verifiers, one module per verifier, named as on the wire."""
