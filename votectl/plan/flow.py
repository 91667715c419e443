"""What a vote rate asks of each part of the pipeline, as the handlers actually move votes.

- the receiver: one invocation per request (``batch_size`` votes), packing them into messages
  of at most 256 KiB and sending those with SendMessageBatch (10 entries, 256 KiB a call);
- the processor: one invocation per event source batch of the votes queue (``processor_batch_size``
  records, the batching window, 6 MB of payload), repacking the votes into ready messages of at
  most ``ready_message_votes`` votes;
- the writer: one invocation per batch of ready messages; the write units per vote and the
  writer's rate follow the stage's ``write_path`` (``writes``);
- SQS bills every 64 KiB chunk of a call's payload as one request: sends, receives (10 messages a
  call under load) and DeleteMessageBatch (10 a call) on each queue;
- concurrency = invocations/s x seconds per invocation (Little's law).

Batches are assumed to fill as far as the stream fills them within the window (the most a
poller can gather); with many pollers they are smaller, which costs more invocations but the
same concurrency to within the per-invocation overhead.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from lambdas.contract import MAX_MESSAGE_BYTES
from votectl.plan.measured import FunctionFigures, Measured
from votectl.plan.settings import Settings
from votectl.plan.writes import WriteUnits

__all__ = ["Flow", "FunctionLoad", "QueueLoad", "flow"]

CHUNK = 64 * 1024  # SQS bills each 64 KiB of a payload as one request
MESSAGE_MAX = MAX_MESSAGE_BYTES  # what the adapters pack a message and a SendMessageBatch call to
SQS_BATCH = 10  # entries per SendMessageBatch / ReceiveMessage / DeleteMessageBatch
ESM_PAYLOAD = 6 * 1024 * 1024  # an event source mapping invokes with at most 6 MB
RECORD_OVERHEAD = 700  # bytes an SQS record adds around its body in the event
ENVELOPE_BYTES = 45  # {"request_id": ..., "votes": []}
RESPONSE_BYTES = 250  # one answer to a client: status line, headers, a short JSON body


@dataclass(frozen=True)
class FunctionLoad:
    name: str
    memory_mb: int
    invocations_per_s: float
    votes_per_invocation: float
    duration_ms: float
    full_batch_ms: float  # a batch as full as the mapping allows (a backlog's batches)
    record_votes: float  # votes per record (message) of a full batch
    concurrency: float
    log_bytes_per_s: float

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class QueueLoad:
    name: str
    messages_per_s: float
    message_bytes: float
    send_requests_per_s: float  # billed requests (64 KiB chunks), as the others
    receive_requests_per_s: float
    delete_requests_per_s: float
    in_flight: float  # messages received and not yet deleted

    @property
    def requests_per_s(self) -> float:
        return self.send_requests_per_s + self.receive_requests_per_s + self.delete_requests_per_s

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "requests_per_s": self.requests_per_s}


@dataclass(frozen=True)
class Flow:
    votes_per_s: float
    batch_size: int
    requests_per_s: float  # at the front door
    receiver: FunctionLoad
    votes_queue: QueueLoad
    processor: FunctionLoad
    ready_queue: QueueLoad
    writer: FunctionLoad
    write_units: WriteUnits
    write_units_per_s: float
    stored_items_per_s: float  # new items: first votes (re-votes replace theirs)
    response_bytes_per_s: float  # out to the clients
    hot_title_share: float
    hot_key_units_per_s: float  # the hottest title's busiest shard key


def _chunks(payload: float) -> int:
    return max(1, math.ceil(payload / CHUNK))


def _send_billed(messages: float, size: float) -> float:
    """Billed requests to send ``messages`` of ``size`` bytes in SendMessageBatch calls."""
    per_call = max(1, min(SQS_BATCH, MESSAGE_MAX // max(1, int(size))))
    full, rest = divmod(messages, per_call)
    return full * _chunks(per_call * size) + (_chunks(rest * size) if rest else 0)


def _batch_records(size: float, batch_size: int, window: int, messages_per_s: float) -> float:
    """Records in one event source batch at this arrival rate, and in a full one."""
    cap = min(batch_size, ESM_PAYLOAD // int(size + RECORD_OVERHEAD))
    if window == 0:
        cap = min(cap, SQS_BATCH)  # no window: what one receive returns
    return max(1.0, min(float(cap), messages_per_s * max(window, 1)))


def _full_records(size: float, batch_size: int, window: int) -> int:
    cap = min(batch_size, ESM_PAYLOAD // int(size + RECORD_OVERHEAD))
    return max(1, min(cap, SQS_BATCH) if window == 0 else cap)


def _gathering(records: float, messages_per_s: float, window: int) -> float:
    """Seconds a poller holds received messages while it fills a batch: until the batch is
    full or the window closes."""
    return min(float(window), records / messages_per_s) if messages_per_s > 0 else 0.0


def _function(
    name: str,
    figures: FunctionFigures,
    memory_mb: int,
    invocations_per_s: float,
    votes_per_invocation: float,
    full_batch_votes: float,
    record_votes: float,
) -> FunctionLoad:
    rate = figures.votes_per_s(memory_mb)

    def ms(votes: float) -> float:
        return figures.overhead_ms + votes * 1000.0 / rate

    duration = ms(votes_per_invocation)
    return FunctionLoad(
        name=name,
        memory_mb=memory_mb,
        invocations_per_s=invocations_per_s,
        votes_per_invocation=votes_per_invocation,
        duration_ms=duration,
        full_batch_ms=ms(full_batch_votes),
        record_votes=record_votes,
        concurrency=invocations_per_s * duration / 1000.0,
        log_bytes_per_s=invocations_per_s * figures.log_bytes_per_invocation,
    )


def _queue(
    name: str, messages_per_s: float, size: float, send_billed_per_s: float, seconds: float
) -> QueueLoad:
    receives = messages_per_s / SQS_BATCH
    return QueueLoad(
        name=name,
        messages_per_s=messages_per_s,
        message_bytes=size,
        send_requests_per_s=send_billed_per_s,
        receive_requests_per_s=receives * _chunks(SQS_BATCH * size),
        delete_requests_per_s=receives,
        in_flight=messages_per_s * seconds,
    )


def flow(
    s: Settings,
    votes_per_s: float,
    batch_size: int,
    m: Measured,
    hot_title_share: float,
    units: WriteUnits,
) -> Flow:
    requests = votes_per_s / batch_size

    # receiver -> votes queue
    per_request = math.ceil(batch_size * m.vote_bytes / (MESSAGE_MAX - ENVELOPE_BYTES))
    size1 = ENVELOPE_BYTES + batch_size * m.vote_bytes / per_request
    receiver = _function(
        "receiver", m.receiver, s.receiver_memory, requests, batch_size, batch_size, batch_size
    )
    messages1 = requests * per_request
    votes_per_message1 = batch_size / per_request

    # processor: event source batches of the votes queue -> ready messages
    records1 = _batch_records(size1, s.processor_batch_size, s.processor_batch_window, messages1)
    full1 = _full_records(size1, s.processor_batch_size, s.processor_batch_window)
    votes_p = records1 * votes_per_message1
    processor = _function(
        "processor",
        m.processor,
        s.processor_memory,
        messages1 / records1,
        votes_p,
        full1 * votes_per_message1,
        votes_per_message1,
    )
    ready_per_invocation = math.ceil(votes_p / m.ready_message_votes)
    votes_per_message2 = votes_p / ready_per_invocation
    size2 = ENVELOPE_BYTES + votes_per_message2 * m.vote_bytes
    messages2 = processor.invocations_per_s * ready_per_invocation
    votes_queue = _queue(
        "votes queue",
        messages1,
        size1,
        requests * _send_billed(per_request, size1),
        _gathering(records1, messages1, s.processor_batch_window) + processor.duration_ms / 1000,
    )

    # writer: event source batches of the ready queue -> one write per vote
    records2 = _batch_records(size2, s.writer_batch_size, s.writer_batch_window, messages2)
    full2 = _full_records(
        ENVELOPE_BYTES + m.ready_message_votes * m.vote_bytes,
        s.writer_batch_size,
        s.writer_batch_window,
    )
    writer = _function(
        "writer",
        m.writer if units.path == "partiql" else m.writer_classic,
        s.writer_memory,
        messages2 / records2,
        records2 * votes_per_message2,
        full2 * m.ready_message_votes,
        m.ready_message_votes,
    )
    ready_queue = _queue(
        "ready queue",
        messages2,
        size2,
        processor.invocations_per_s * _send_billed(ready_per_invocation, size2),
        _gathering(records2, messages2, s.writer_batch_window) + writer.duration_ms / 1000,
    )
    write_units_per_s = votes_per_s * units.per_vote
    hot_key = write_units_per_s * hot_title_share / max(1, s.table_shards)
    return Flow(
        votes_per_s=votes_per_s,
        batch_size=batch_size,
        requests_per_s=requests,
        receiver=receiver,
        votes_queue=votes_queue,
        processor=processor,
        ready_queue=ready_queue,
        writer=writer,
        write_units=units,
        write_units_per_s=write_units_per_s,
        stored_items_per_s=votes_per_s * (1 - units.revote_share),
        response_bytes_per_s=requests * RESPONSE_BYTES,
        hot_title_share=hot_title_share,
        hot_key_units_per_s=hot_key,
    )
