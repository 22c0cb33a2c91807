"""The mailings app's error codes: every `ValidationError` its services, forms and file reader raise
carries one of these. The values are a contract: pages and API clients compare them, and the API exposes
them unchanged as the values of the GraphQL enum `ErrorCode` (api/core/errors.py)."""

import enum


class ErrorCode(enum.StrEnum):
    """Stable codes the API and pages can rely on."""

    INVALID = "invalid"
    MESSAGE_IN_USE = "message_in_use"
    TAG_IN_USE = "tag_in_use"
    MAILING_DISABLED = "mailing_disabled"
    # The owner paused the mailing (R-OWN-1); resuming it is theirs.
    MAILING_PAUSED = "mailing_paused"
    MAILING_COMPLETED = "mailing_completed"
    OWNER_CANNOT_ACT = "owner_cannot_act"
    NO_RECIPIENTS = "no_recipients"
    SEND_IN_PROGRESS = "send_in_progress"
    # The owner's sending is paused until a manager reviews it (R-DLV-5).
    SENDING_PAUSED = "sending_paused"
    # A clients file refused as a whole (csv_io.parse_clients_csv); nothing is imported.
    CSV_TOO_LARGE = "csv_too_large"
    CSV_BINARY = "csv_binary"
    CSV_MALFORMED = "csv_malformed"
    CSV_EMPTY = "csv_empty"
    CSV_TOO_MANY_ROWS = "csv_too_many_rows"
    # The owner's list changed while an import ran (a client added in parallel): nothing was imported.
    IMPORT_RUNNING = "import_running"
    IMPORT_FILE_MISSING = "import_file_missing"
    IMPORT_CONFLICT = "import_conflict"
    # Per-row results of an import (ImportRowResult.code), besides the form's own codes ("invalid", ...).
    DUPLICATE_IN_FILE = "duplicate_in_file"
    UNCHANGED = "unchanged"
    NAME_FROM_EMAIL = "name_from_email"
    NOTHING_TO_RETRY = "nothing_to_retry"
    # A send older than DELIVERY_LOG_DAYS: its deliveries are deleted, only its totals stay.
    LOG_PURGED = "log_purged"
    UNSENDABLE_ADDRESS = "unsendable_address"
    # An address erased at the person's request (R-ENG-4): an import skips it, the client form refuses it
    # unless the owner says the person asked to be added again.
    ERASED = "erased"
    # The forms' own rules (forms.py), per field.
    DUPLICATE_EMAIL = "duplicate_email"
    DUPLICATE_TAG = "duplicate_tag"
    UNKNOWN_PLACEHOLDER = "unknown_placeholder"
    MULTILINE_SUBJECT = "multiline_subject"
    DATE_OUT_OF_RANGE = "date_out_of_range"
    END_BEFORE_START = "end_before_start"
    END_IN_PAST = "end_in_past"
    # Sender identities and domains (R-DLV-1, R-DLV-2).
    DUPLICATE_SENDER = "duplicate_sender"
    DUPLICATE_DOMAIN = "duplicate_domain"
    INVALID_DOMAIN = "invalid_domain"
    SENDER_REVOKED = "sender_revoked"
    SENDER_CONFIRMED = "sender_confirmed"
    CONFIRMATION_EXPIRED = "confirmation_expired"
    CONFIRMATION_NOT_SENT = "confirmation_not_sent"
    # Public sign-up forms (R-ENG-1): the form takes no sign-ups (inactive, deleted, its owner cannot
    # act), a visitor asked too often, the owner's daily quota has no room for the confirmation mail, the mail
    # was not taken by the server; a confirmation link that is not one of ours (forged, of another form),
    # is too old, or was mailed before the form's consent text changed.
    SIGNUP_CLOSED = "signup_closed"
    SIGNUP_RATE_LIMITED = "signup_rate_limited"
    SIGNUP_QUOTA = "signup_quota"
    SIGNUP_NOT_SENT = "signup_not_sent"
    SIGNUP_LINK_INVALID = "signup_link_invalid"
    SIGNUP_LINK_EXPIRED = "signup_link_expired"
    SIGNUP_FORM_CHANGED = "signup_form_changed"
    # Django's own code for a missing value, raised too for a mailing's audience without a tag or a client.
    REQUIRED = "required"
    # Django's own code for a choice that is not offered, raised again by the forms for another owner's
    # objects, so that both read the same.
    INVALID_CHOICE = "invalid_choice"
