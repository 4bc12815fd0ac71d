"""Who may do what in the console: every signed-in person has one role."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    AGENT = "agent"  # works the queue: takes calls, writes and resolves tickets
    SUPERVISOR = "supervisor"  # the wallboard, crisis mode, staffing
    ADMIN = "admin"  # accounts, settings
