"""What the model-based verifiers share: prompt templates, verdict parsing and the verdict cache."""
