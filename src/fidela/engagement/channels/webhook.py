"""The generic signed HTTP webhook adapter that SMS, push, print (postal) and ad-audience
vendors sit behind: one JSON POST per message, signed with HMAC-SHA256 over
``timestamp.body`` (``X-Fidela-Signature: sha256=<hex>``, ``X-Fidela-Timestamp``) and
carrying the message key as ``Idempotency-Key`` so the vendor sends each message once.

Plain ``urllib``: one request at a time per batch is enough for channels whose providers
rate-limit to tens of messages per second, and it adds no dependency."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from concurrent.futures import Future
from typing import Any

from fidela.engagement.channels import Outgoing, SendResult
from fidela.engagement.rules import TokenBucket, webhook_signature


def webhook_body(message: Outgoing) -> dict[str, Any]:
    brand = message.brand
    return {
        "id": message.message_id,
        "key": message.key,
        "channel": message.channel.value,
        "to": message.address,
        "customer_id": message.customer_id,
        "subject": message.rendered.subject,
        "text": message.rendered.text,
        "unsubscribe_url": message.unsubscribe_url,
        "brand": {
            "name": brand.name,
            "logo_url": brand.logo_url,
            "colours": dict(brand.colours),
            "fonts": dict(brand.fonts),
            "signature": brand.signature,
            "legal_footer": brand.legal_footer,
        },
        "metadata": dict(message.metadata),
    }


class WebhookChannel:
    def __init__(
        self,
        *,
        url: str,
        secret: str,
        timeout: float = 10.0,
        rate_per_second: float | None = None,
    ) -> None:
        if not url.startswith(("https://", "http://")):
            raise ValueError(f"webhook URL must be http(s): {url!r}")
        self._url = url
        self._secret = secret
        self._timeout = timeout
        self._bucket = (
            TokenBucket(rate_per_second, max(1.0, rate_per_second)) if rate_per_second else None
        )

    def _one(self, message: Outgoing) -> SendResult:
        if self._bucket is not None:
            wait = self._bucket.take(time.monotonic())
            if wait > 0:
                time.sleep(wait)
        body = json.dumps(webhook_body(message), separators=(",", ":")).encode()
        timestamp = str(int(time.time()))
        request = urllib.request.Request(  # noqa: S310 - the scheme is checked in __init__
            self._url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "Idempotency-Key": message.key,
                "X-Fidela-Timestamp": timestamp,
                "X-Fidela-Signature": "sha256=" + webhook_signature(self._secret, timestamp, body),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as response:  # noqa: S310
                reply = response.read()
        except urllib.error.HTTPError as exc:
            retryable = exc.code >= 500 or exc.code in (408, 425, 429)
            return SendResult(
                message.message_id, False, error=f"HTTP {exc.code}", retryable=retryable
            )
        except (urllib.error.URLError, OSError, TimeoutError) as exc:
            return SendResult(message.message_id, False, error=str(exc), retryable=True)
        provider_id: str | None = None
        try:
            answer = json.loads(reply or b"{}")
            if isinstance(answer, dict) and answer.get("id") is not None:
                provider_id = str(answer["id"])
        except ValueError:
            provider_id = None
        return SendResult(message.message_id, True, provider_id=provider_id)

    def submit(self, messages: Sequence[Outgoing]) -> Future[list[SendResult]]:
        # Synchronous: these providers are rate-limited far below what one thread sends.
        future: Future[list[SendResult]] = Future()
        future.set_result([self._one(message) for message in messages])
        return future

    def send_many(self, messages: Sequence[Outgoing]) -> list[SendResult]:
        return self.submit(messages).result()

    def close(self) -> None:
        return None
