"""Delivering recorded alerts: to the portal's notification centre and to a webhook.

A webhook delivery is an HTTP POST of the alert as canonical JSON to a configured URL, with
``X-Govchain-Signature: sha256=<hex>`` — the HMAC-SHA256 of the body under the shared secret —
and ``X-Govchain-Delivery`` (the alert's id, so a receiver can drop a repeat). A connection
error, a timeout or a 5xx answer is retried with a doubling pause; a 4xx answer is not (the
receiver refused it and would refuse it again).

``AlertDispatcher`` delivers off the request path: recording an alert only queues it, and one
background thread posts the queued alerts in order, so a slow or unreachable receiver (up to
``attempts`` tries with their pauses) never holds up the transaction that recorded the alert.
"""

from __future__ import annotations

import collections
import hashlib
import hmac
import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from govchain.errors import SchemaViolation

SIGNATURE_HEADER = "X-Govchain-Signature"
"""Header carrying ``sha256=<hex HMAC of the body>``."""
DELIVERY_HEADER = "X-Govchain-Delivery"
"""Header carrying the alert's id."""
KEPT_DELIVERIES = 1000
"""Outcomes of the latest deliveries a dispatcher keeps (for status and tests)."""
MAX_QUEUED_ALERTS = 10_000
"""Alerts a dispatcher holds waiting; past this a new one is dropped and logged."""

log = logging.getLogger("govchain.supervision.alerts")


@dataclass(frozen=True, slots=True)
class Webhook:
    """Where alerts are posted."""

    url: str
    """``http://`` or ``https://`` URL."""
    secret: bytes
    """Shared HMAC key."""
    attempts: int = 4
    """Tries before giving up."""
    backoff_s: float = 0.5
    """Pause before the second try; doubled for each further one."""
    timeout_s: float = 5.0
    """Timeout of one try."""


@dataclass(frozen=True, slots=True)
class Delivery:
    """What became of one webhook delivery."""

    alert: str
    """The alert's id."""
    delivered: bool
    """Whether the receiver answered 2xx."""
    attempts: int
    """Tries made."""
    status: int
    """HTTP status of the last try (0: no answer)."""
    error: str
    """Why the last try failed ('' if it did not)."""


def alert_id(alert: Mapping[str, Any]) -> str:
    """The alert's id: ``<indicator>/<subject>/<period>``."""
    return f"{alert['indicator']}/{alert['subject']}/{alert['period']}"


def sign_body(secret: bytes, body: bytes) -> str:
    """The signature header's value of ``body``."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def check_signature(secret: bytes, body: bytes, header: str) -> bool:
    """Whether ``header`` is the signature of ``body`` (what a receiver checks)."""
    return hmac.compare_digest(sign_body(secret, body), header)


def post_webhook(
    hook: Webhook, alert: Mapping[str, Any], sleep: Callable[[float], None] = time.sleep
) -> Delivery:
    """POST ``alert`` to the webhook, retrying as the module says."""
    if not hook.url.startswith(("http://", "https://")):
        raise SchemaViolation("the webhook URL must be http:// or https://", field="url")
    body = orjson.dumps(dict(alert), option=orjson.OPT_SORT_KEYS)
    ident = alert_id(alert)
    headers = {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: sign_body(hook.secret, body),
        DELIVERY_HEADER: ident,
    }
    status, error = 0, ""
    for attempt in range(1, hook.attempts + 1):
        if attempt > 1:
            sleep(hook.backoff_s * 2 ** (attempt - 2))
        request = urllib.request.Request(hook.url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=hook.timeout_s) as answer:
                status = int(answer.status)
            return Delivery(ident, True, attempt, status, "")
        except urllib.error.HTTPError as exc:
            status, error = exc.code, f"HTTP {exc.code}"
            if exc.code < 500:
                return Delivery(ident, False, attempt, status, error)
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            status, error = 0, str(getattr(exc, "reason", exc))
    return Delivery(ident, False, hook.attempts, status, error)


def notice_texts(
    alert: Mapping[str, Any], name: Mapping[str, str]
) -> tuple[dict[str, str], dict[str, str]]:
    """The title and body (zh, en) of an alert's notice, with the figures behind it."""
    f = alert["figures"]
    change = f["change_permille"]
    pct = f"{'-' if change < 0 else ''}{abs(change) // 10}.{abs(change) % 10}%"
    what = f"{alert['subject']} {alert['period']}"
    title = {
        "zh": f"预警：{name.get('zh', alert['indicator'])} {what} 环比 {pct}",
        "en": f"Alert: {name.get('en', alert['indicator'])} {what}: {pct} on the month before",
    }
    body = {
        "zh": f"上月 {f['previous']}，本月 {f['current']}，阈值 {f['threshold_permille']}‰，"
        f"涉及企业 {f['enterprises']} 户；依据 {len(alert['inputs'])} 批上链数据。",
        "en": f"Previous month {f['previous']}, this month {f['current']}, threshold "
        f"{f['threshold_permille']}‰, {f['enterprises']} enterprises; from "
        f"{len(alert['inputs'])} reported batches on the ledger.",
    }
    return title, body


def post_notices(board: Any, alert: Mapping[str, Any], name: Mapping[str, str]) -> list[str]:
    """Post the alert to each of its recipients on a notice board (idempotent per alert);
    return the notices' ids."""
    title, body = notice_texts(alert, name)
    ident = alert_id(alert)
    out = []
    for recipient in alert["recipients"]:
        notice = board.post(
            recipient,
            "supervision.alert",
            title,
            body,
            link=f"/supervision/alerts#{ident}",
            source={"alert": ident, "tx_id": str(alert.get("tx_id", ""))},
            key=f"supervision.alert/{ident}",
        )
        out.append(str(notice.id))
    return out


class AlertDispatcher:
    """Posts recorded alerts to a webhook from one background thread, in the order queued."""

    def __init__(self, hook: Webhook, sleep: Callable[[float], None] = time.sleep) -> None:
        if not hook.url.startswith(("http://", "https://")):
            raise SchemaViolation("the webhook URL must be http:// or https://", field="url")
        self.hook = hook
        self._sleep = sleep
        self._queue: collections.deque[dict[str, Any]] = collections.deque()
        self._done: collections.deque[Delivery] = collections.deque(maxlen=KEPT_DELIVERIES)
        self._cond = threading.Condition()
        self._busy = False
        self._stopping = False
        self._thread = threading.Thread(
            target=self._run, name="govchain-alert-webhook", daemon=True
        )
        self._thread.start()

    def submit(self, alert: Mapping[str, Any]) -> bool:
        """Queue ``alert`` for delivery (never blocks); ``False`` if the queue is full or the
        dispatcher is stopping, and the alert is not queued."""
        with self._cond:
            if self._stopping or len(self._queue) >= MAX_QUEUED_ALERTS:
                log.warning("alert %s not queued for the webhook", alert_id(alert))
                return False
            self._queue.append(dict(alert))
            self._cond.notify_all()
            return True

    def deliveries(self) -> list[Delivery]:
        """Return the outcomes of the latest deliveries, oldest first."""
        with self._cond:
            return list(self._done)

    def wait_idle(self, timeout: float) -> bool:
        """Wait until every queued alert has been tried; ``False`` on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._queue or self._busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
            return True

    def close(self, timeout: float = 10.0) -> None:
        """Stop taking alerts, let the thread try what is queued for up to ``timeout``
        seconds, then stop it (what is left is logged as undelivered)."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        self._thread.join(timeout)
        with self._cond:
            for alert in self._queue:
                log.warning("alert %s not delivered: the node stopped", alert_id(alert))
            self._queue.clear()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._stopping:
                    self._cond.wait()
                if not self._queue:
                    return
                alert = self._queue.popleft()
                self._busy = True
            try:
                done = post_webhook(self.hook, alert, self._sleep)
            except Exception as exc:  # a bad alert must not end the thread for the others
                done = Delivery(alert_id(alert), False, 0, 0, str(exc))
            if not done.delivered:
                log.warning(
                    "alert %s not delivered to the webhook after %d tries: %s",
                    done.alert,
                    done.attempts,
                    done.error,
                )
            with self._cond:
                self._done.append(done)
                self._busy = False
                self._cond.notify_all()
