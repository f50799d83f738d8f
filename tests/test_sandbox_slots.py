"""A jail slot's life: a jail whose starting thread has gone is dead, and starting it again leaks nothing."""

from __future__ import annotations

import gc
import os
import shutil
import threading
import time

import pytest

from rlvr_sandbox.pool import Sandbox, SandboxConfig

pytestmark = pytest.mark.skipif(
    shutil.which("bwrap") is None or os.geteuid() != 0, reason="the jail needs bubblewrap and root (see README)"
)


def test_jails_started_by_a_thread_that_ended_are_restarted_cleanly() -> None:
    """bubblewrap's --die-with-parent follows the thread that started the jail: when that thread ends, the jail
    dies. The next warm-up (a gateway built again in the same process) starts fresh jails; the dead ones' pipes
    are closed, not left to the garbage collector (a ResourceWarning, an error under this suite's settings)."""
    sandbox = Sandbox(SandboxConfig(slots=2))
    try:
        starter = threading.Thread(target=sandbox.warm_up)
        starter.start()
        starter.join()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(slot.alive() for slot in list(sandbox._idle.queue)):
            time.sleep(0.05)
        assert not any(slot.alive() for slot in list(sandbox._idle.queue)), "the jails outlived their thread"
        sandbox.warm_up()
        gc.collect()  # a leaked pipe of a replaced jail would warn here, inside the test
        assert all(slot.alive() for slot in list(sandbox._idle.queue))
        run = sandbox.execute("python", "print(6 * 7)")
        assert run.ok and run.stdout == b"42\n", run
    finally:
        sandbox.close()
