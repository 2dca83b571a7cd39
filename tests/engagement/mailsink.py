"""A real SMTP server for tests (aiosmtpd on a free local port) that stands in for the email
provider: it keeps every message it accepted, and, like a provider or a mailbox that honours
the Message-ID, delivers a message whose Message-ID it has already accepted only once."""

from __future__ import annotations

import logging
import re
import socket
import threading
from collections import Counter
from email import message_from_bytes, policy
from email.message import EmailMessage

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

_MESSAGE_ID = re.compile(rb"^Message-ID:\s*(<[^>\r\n]+>)", re.I | re.M)


class MailSink:
    """The handler: ``received`` counts every DATA accepted per Message-ID (copies included),
    ``delivered`` keeps the first copy of each."""

    def __init__(self, *, refuse: set[str] | None = None, keep_bodies: bool = True) -> None:
        self.received: Counter[str] = Counter()
        self.delivered: dict[str, bytes] = {}
        self.refuse = refuse or set()  # recipients answered with 550 (hard bounce)
        self.keep_bodies = keep_bodies
        self.lock = threading.Lock()

    async def handle_RCPT(  # noqa: N802 - aiosmtpd hook name
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address in self.refuse:
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # noqa: N802 - aiosmtpd hook name
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        content = envelope.original_content or b""
        found = _MESSAGE_ID.search(content)
        message_id = found.group(1).decode() if found else f"<none-{len(self.received)}>"
        with self.lock:
            self.received[message_id] += 1
            if message_id not in self.delivered:
                self.delivered[message_id] = content if self.keep_bodies else b""
        return "250 Message accepted for delivery"

    def messages(self) -> list[EmailMessage]:
        with self.lock:
            bodies = list(self.delivered.values())
        return [message_from_bytes(b, policy=policy.default) for b in bodies]

    @property
    def duplicates(self) -> int:
        return sum(self.received.values()) - len(self.received)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class SinkServer:
    def __init__(self, sink: MailSink, port: int | None = None) -> None:
        self.sink = sink
        self.port = port or free_port()
        self.controller = Controller(sink, hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> SinkServer:
        # aiosmtpd logs every command at DEBUG; pytest's log capture would format them all.
        logging.getLogger("mail.log").setLevel(logging.WARNING)
        self.controller.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.controller.stop()
