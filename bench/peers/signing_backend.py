"""Django's SMTP backend signing every message with DKIM, for the post_office peer of
`bench/send_throughput.py --peers --peer-signing ALGORITHM`: the same key operation and canonicalisation the
engine uses (backend/mailings/signing.py), so that a signed engine is compared with a signed peer. Django's
`_send` as it is, with the message's bytes signed before `sendmail`."""

from __future__ import annotations

import os
import smtplib
import threading
from pathlib import Path

from django.conf import settings
from django.core.mail.backends.smtp import EmailBackend
from django.core.mail.message import sanitize_address

from backend.mailings import signing

_lock = threading.Lock()
_signer: signing.MessageSigner | None = None


def _the_signer() -> signing.MessageSigner:
    global _signer
    with _lock:
        if _signer is None:
            key = signing.load_private_key(
                Path(os.environ["PEER_DKIM_KEY_FILE"]).read_bytes(),
                domain=os.environ.get("PEER_DKIM_DOMAIN", "bench.example.net"),
                selector=os.environ.get("PEER_DKIM_SELECTOR", "peer"),
                source="PEER_DKIM_KEY_FILE",
            )
            _signer = signing.MessageSigner([key])
        return _signer


class SigningEmailBackend(EmailBackend):
    def _send(self, email_message) -> bool:
        if not email_message.recipients():
            return False
        encoding = email_message.encoding or settings.DEFAULT_CHARSET
        from_email = sanitize_address(email_message.from_email, encoding)
        recipients = [sanitize_address(address, encoding) for address in email_message.recipients()]
        data = _the_signer().sign(email_message.message().as_bytes(linesep="\r\n"))
        try:
            self.connection.sendmail(from_email, recipients, data)
        except smtplib.SMTPException:
            if not self.fail_silently:
                raise
            return False
        return True
