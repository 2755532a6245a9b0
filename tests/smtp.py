"""A real SMTP server for tests (aiosmtpd), keeping what it receives in memory."""

from __future__ import annotations

import email
import threading
import time
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session


@dataclass
class Received:
    to: list[str]
    message: EmailMessage
    at: float

    @property
    def text(self) -> str:
        part = self.message.get_body(preferencelist=("plain", "html"))
        return part.get_content() if part is not None else ""


@dataclass
class SmtpSink:
    port: int
    received: list[Received] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or envelope.content or b""
        raw = content if isinstance(content, bytes) else content.encode()
        with self._lock:
            self.received.append(
                Received(
                    list(envelope.rcpt_tos),
                    email.message_from_bytes(raw, _class=EmailMessage, policy=policy.default),
                    time.monotonic(),
                )
            )
        return "250 OK"

    def to(self, address: str) -> list[Received]:
        with self._lock:
            return [mail for mail in self.received if address in mail.to]

    def subjects(self, address: str) -> list[str]:
        return [str(mail.message["Subject"]) for mail in self.to(address)]


def start_smtp(port: int) -> tuple[SmtpSink, Controller]:
    sink = SmtpSink(port)
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    return sink, controller
