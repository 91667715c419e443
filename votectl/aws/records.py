"""What a deploy reports to its caller: the change set's changes and the stack's events.

The lowest module of the deploy pipeline: ``pipeline`` (the ``Hooks`` that receive these),
``changeset`` (which builds ``Change``) and ``events`` (which builds ``StackEvent``) all import
it, and it imports none of them.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Change", "StackEvent"]


@dataclass(frozen=True)
class Change:
    """One resource change of a change set."""

    action: str  # add / modify / remove
    logical_id: str
    resource_type: str
    replacement: str  # yes / no / conditional, "" for add and remove


@dataclass(frozen=True)
class StackEvent:
    """One stack event, as the deploy's caller sees it."""

    logical_id: str
    resource_type: str
    status: str
    reason: str
