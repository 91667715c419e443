"""Redrive where the endpoint has no message move tasks: receive, send, delete, bounded.

A move task moves the messages in the DLQ when it starts; so does this. Each message is sent to
the source queue before it is deleted from the DLQ. SQS gives every sent message a new id: a
message received from the DLQ with one of those ids has come back (the consumer failed it
again) and is counted, held and finally made visible again, never moved a second time. So a
consumer that still fails the messages cannot keep the loop going.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from votectl.errors import AwsError
from votectl.operations import Progress

__all__ = ["BoundedMove", "release"]

RETURN_CHECK_RECEIVES = 3  # receives that find nothing new before the move stops looking


def release(sqs: Any, url: str, handles: list[str]) -> None:
    """Make received messages visible again at once (ChangeMessageVisibility 0)."""
    for i in range(0, len(handles), 10):
        sqs.change_message_visibility_batch(
            QueueUrl=url,
            Entries=[
                {"Id": str(n), "ReceiptHandle": h, "VisibilityTimeout": 0}
                for n, h in enumerate(handles[i : i + 10])
            ],
        )


class BoundedMove:
    def __init__(
        self,
        sqs: Any,
        sleep: Callable[[float], None],
        what: str,
        on_progress: Progress | None = None,
    ) -> None:
        self.sqs, self._sleep, self.what, self.on_progress = sqs, sleep, what, on_progress

    def run(self, dlq_url: str, target_url: str, budget: int, rate: int | None) -> tuple[int, int]:
        """Move at most ``budget`` messages; (moved, came back)."""
        sent: set[str] = set()
        back: dict[str, str] = {}  # message id -> receipt handle, held hidden until the end
        moved, idle, started = 0, 0, time.monotonic()
        while moved < budget and idle < RETURN_CHECK_RECEIVES:
            messages = self._receive(dlq_url, min(10, budget - moved))
            if not messages:
                break
            fresh = [m for m in messages if m["MessageId"] not in sent]
            back.update(
                (m["MessageId"], m["ReceiptHandle"]) for m in messages if m["MessageId"] in sent
            )
            idle = 0 if fresh else idle + 1
            if not fresh:
                continue
            sent.update(self._send(target_url, [m["Body"] for m in fresh]))
            self.sqs.delete_message_batch(
                QueueUrl=dlq_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(fresh)
                ],
            )
            moved += len(fresh)
            if self.on_progress:
                self.on_progress(self.what, moved, max(budget, moved))
            if rate:  # keep the average at or under the cap
                ahead = moved / rate - (time.monotonic() - started)
                if ahead > 0:
                    self._sleep(ahead)
        back.update(self._returned(dlq_url, sent, back))
        release(self.sqs, dlq_url, list(back.values()))
        return moved, len(back)

    def _receive(self, url: str, count: int) -> list[dict[str, Any]]:
        reply = self.sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=count, WaitTimeSeconds=1, VisibilityTimeout=60
        )
        return list(reply.get("Messages", []))

    def _send(self, url: str, bodies: list[str]) -> list[str]:
        """SendMessageBatch, retrying entries SQS failed on its side; the new message ids."""
        entries = {str(i): body for i, body in enumerate(bodies)}
        ids: list[str] = []
        for attempt in range(4):
            if attempt:
                self._sleep(0.05 * 2**attempt)
            reply = self.sqs.send_message_batch(
                QueueUrl=url, Entries=[{"Id": k, "MessageBody": v} for k, v in entries.items()]
            )
            ids += [ok["MessageId"] for ok in reply.get("Successful", [])]
            failed = reply.get("Failed", [])
            if any(f.get("SenderFault") for f in failed):
                raise AwsError(
                    f"{self.what}: a message was refused: {failed[0].get('Message', '')}"
                )
            entries = {f["Id"]: entries[f["Id"]] for f in failed}
            if not entries:
                return ids
        raise AwsError(f"{self.what}: {len(entries)} messages not accepted; they stay in the DLQ")

    def _returned(self, url: str, sent: set[str], seen: dict[str, str]) -> dict[str, str]:
        """A last look through the DLQ for messages we sent (held hidden, released after)."""
        found: dict[str, str] = {}
        for _ in range(RETURN_CHECK_RECEIVES + len(sent) // 10):
            if len(found) + len(seen) >= len(sent):
                break
            messages = self._receive(url, 10)
            if not messages:
                break
            for m in messages:
                if m["MessageId"] in sent:
                    found[m["MessageId"]] = m["ReceiptHandle"]
                else:  # not ours: visible again at once
                    release(self.sqs, url, [m["ReceiptHandle"]])
        return found
