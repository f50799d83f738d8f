"""The sandbox's own failure: never a verdict on the program."""


class SandboxError(RuntimeError):
    """The jail could not run the program (start-up failure, a crash of the jail, no answer in time)."""
