"""rlvr-trainer: the R1 stages on TRL against the rlvr reward stack."""
