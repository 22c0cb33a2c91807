"""Writes, by area: each service checks its actor (R-AUTH-4, R-AUTH-5, base.py) and is atomic.

Callers import the package (`from backend.mailings import services`, then `services.client_create(...)`):
the area modules (clients, tags, messages, mailings, imports, retries, previews, protection, senders) are
where each is written, not what callers name. Error codes are errors.py's; the steps without an actor are
scheduling.py's (rescheduling after an edit, and the two the engine shares: materialising an occurrence,
asking for unfinished deliveries). Nothing here imports the sending engine: the engine imports the domain.
"""

from .base import OPERATOR, FormInvalid, Operator
from .clients import (
    address_unsubscribe,
    client_create,
    client_delete,
    client_reactivate,
    client_unsubscribe,
    client_update,
    clients_delete,
    clients_resubscribe,
    clients_unsubscribe,
)
from .gdpr import Erasure, client_erase
from .imports import (
    ImportReport,
    ImportResult,
    ImportRowResult,
    client_imports_run,
    clients_import,
    clients_import_csv,
    clients_import_upload,
)
from .mailings import (
    mailing_check_send_now,
    mailing_create,
    mailing_delete,
    mailing_disable,
    mailing_enable,
    mailing_pause,
    mailing_resume,
    mailing_send_now,
    mailing_update,
)
from .messages import message_create, message_delete, message_update
from .previews import TEST_SENDS_PER_HOUR, Preview, TestSendResult, message_preview, message_send_test
from .protection import (
    review_senders,
    send_quota_set,
    sending_block,
    sending_pause,
    sending_resume,
)
from .retries import occurrence_retry_failed
from .senders import (
    CONFIRMATIONS_PER_HOUR,
    DNS_CHECKS_PER_HOUR,
    DnsRecord,
    confirmation_expires_at,
    dns_record,
    sender_confirm,
    sender_create,
    sender_delete,
    sender_domain_add,
    sender_domain_check,
    sender_domain_delete,
    sender_revoke,
    sender_send_confirmation,
    sender_update,
)
from .tags import clients_tag, clients_untag, tag_create, tag_delete, tag_update

__all__ = [
    "CONFIRMATIONS_PER_HOUR",
    "DNS_CHECKS_PER_HOUR",
    "OPERATOR",
    "TEST_SENDS_PER_HOUR",
    "DnsRecord",
    "Erasure",
    "FormInvalid",
    "ImportReport",
    "ImportResult",
    "ImportRowResult",
    "Operator",
    "Preview",
    "TestSendResult",
    "address_unsubscribe",
    "client_create",
    "client_delete",
    "client_erase",
    "client_imports_run",
    "client_reactivate",
    "client_unsubscribe",
    "client_update",
    "clients_delete",
    "clients_import",
    "clients_import_csv",
    "clients_import_upload",
    "clients_resubscribe",
    "clients_tag",
    "clients_unsubscribe",
    "clients_untag",
    "confirmation_expires_at",
    "dns_record",
    "mailing_check_send_now",
    "mailing_create",
    "mailing_delete",
    "mailing_disable",
    "mailing_enable",
    "mailing_pause",
    "mailing_resume",
    "mailing_send_now",
    "mailing_update",
    "message_create",
    "message_delete",
    "message_preview",
    "message_send_test",
    "message_update",
    "occurrence_retry_failed",
    "review_senders",
    "send_quota_set",
    "sender_confirm",
    "sender_create",
    "sender_delete",
    "sender_domain_add",
    "sender_domain_check",
    "sender_domain_delete",
    "sender_revoke",
    "sender_send_confirmation",
    "sender_update",
    "sending_block",
    "sending_pause",
    "sending_resume",
    "tag_create",
    "tag_delete",
    "tag_update",
]
