"""The run outbox: a finished run's RunFinished, written in the transaction of its final status.

A worker dispatches the event right after that commit and then deletes the row; a worker killed
in between leaves the row behind, and any worker takes it over once its claim has expired (six
run leases) and dispatches it then. The handlers are idempotent (the warehouse append
replaces a run already there, a refresh reads the latest state), so an event dispatched twice,
by a slow first worker and the one that took over, costs time, not correctness.
"""

from __future__ import annotations

import os
import signal

from scriptflow.config import Settings
from scriptflow.runs.outbox.models import RunOutboxEntry
from scriptflow.runs.outbox.repository import add_entry, claim_abandoned, mark_dispatched

__all__ = [
    "RunOutboxEntry",
    "add_entry",
    "claim_abandoned",
    "claim_seconds",
    "fault_point",
    "mark_dispatched",
]

# Set in a worker's environment by tests only: the worker kills itself at that point.
FAULT_ENV = "SCRIPTFLOW_FAULT_INJECTION"
# How many run leases a worker has to run a finished run's handlers before another worker takes
# them over. One lease was too short: under load a live worker's handlers took longer, the other
# worker ran them again, and the doubled warehouse work cost runs their leases.
CLAIM_LEASES = 6


def claim_seconds(settings: Settings) -> float:
    """How long an outbox entry stays its writer's (or its taker's) to dispatch
    (``SCRIPTFLOW_OUTBOX_CLAIM_S``, or six run leases)."""
    return settings.outbox_claim_s or settings.run_lease_s * CLAIM_LEASES


def fault_point(name: str) -> None:
    """Die here, as a SIGKILL would, when a test asks for it (``SCRIPTFLOW_FAULT_INJECTION``)."""
    if os.environ.get(FAULT_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)
