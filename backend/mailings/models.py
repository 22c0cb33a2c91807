"""Clients, messages, mailings and the delivery log (R-DATA). Data and invariants only."""

import secrets
import zoneinfo

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from backend.accounts.models import default_time_zone, validate_time_zone

from . import answers, schedule


def new_unsubscribe_token() -> str:
    return secrets.token_urlsafe(32)


class Tag(models.Model):
    """A label on clients in one owner's list (R-AUD-2): name unique per owner in any letter case. A mailing
    can go to the clients carrying some of its owner's tags (`Mailing.Audience.TAGS`)."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("owner"), on_delete=models.CASCADE, related_name="tags"
    )
    name = models.CharField(_("name"), max_length=100)
    # Shown on the client's preferences page, where the client can take it or drop it (R-ENG-3).
    is_public = models.BooleanField(
        _("public"), default=False, help_text=_("Clients see it on their preferences page and may change it.")
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("tag")
        verbose_name_plural = _("tags")
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(F("owner"), Lower("name"), name="mailings_tag_owner_name_ci_unique"),
        ]

    def __str__(self) -> str:
        return self.name


class Client(models.Model):
    """A recipient in one owner's list (R-DATA-1): email unique per owner in any letter case."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("owner"), on_delete=models.CASCADE, related_name="clients"
    )
    email = models.EmailField(_("email"))
    full_name = models.CharField(_("full name"), max_length=255)
    comment = models.TextField(_("comment"), blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    unsubscribed_at = models.DateTimeField(_("unsubscribed at"), null=True, blank=True)
    # A hard bounce (or too many soft ones) read back for this address (R-DLV-3): not sent to until the owner
    # reactivates the client. The bounce itself, with its reason and raw mail, is a `Bounce` row.
    bounced_at = models.DateTimeField(_("bounced at"), null=True, blank=True)
    # When the owner last reactivated the client after a bounce: a bounce about a message sent before it
    # (one that was in flight, or a report that came late) does not mark the client again.
    reactivated_at = models.DateTimeField(_("reactivated at"), null=True, blank=True)
    unsubscribe_token = models.CharField(
        _("unsubscribe token"), max_length=64, unique=True, default=new_unsubscribe_token, editable=False
    )
    # The latest open and click recorded for the client (R-ENG-2), machine opens not counted.
    last_opened_at = models.DateTimeField(_("last opened"), null=True, blank=True, editable=False)
    last_clicked_at = models.DateTimeField(_("last clicked"), null=True, blank=True, editable=False)
    tags = models.ManyToManyField(
        Tag, verbose_name=_("tags"), related_name="clients", blank=True, through="ClientTag"
    )

    class Meta:
        verbose_name = _("client")
        verbose_name_plural = _("clients")
        ordering = ["full_name", "email"]
        constraints = [
            models.UniqueConstraint(F("owner"), Lower("email"), name="mailings_client_owner_email_ci_unique"),
        ]
        indexes = [
            models.Index(fields=["owner", "created_at"], name="mailings_client_owner_created"),
            # The client list's default order (by name, then id): its first page without sorting the list.
            models.Index(fields=["owner", "full_name", "id"], name="mailings_client_owner_name"),
        ]

    def __str__(self) -> str:
        return f"{self.full_name} <{self.email}>"

    @property
    def is_subscribed(self) -> bool:
        return self.unsubscribed_at is None


class ClientTag(models.Model):
    """A client carries a tag. Its own model so that bulk tagging is one INSERT ... SELECT and a tag's
    clients are found through the (tag, client) index."""

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="+")
    tag = models.ForeignKey(Tag, on_delete=models.CASCADE, related_name="+")

    class Meta:
        verbose_name = _("client's tag")
        verbose_name_plural = _("clients' tags")
        constraints = [models.UniqueConstraint(fields=["tag", "client"], name="mailings_clienttag_unique")]
        indexes = [models.Index(fields=["client"], name="mailings_clienttag_client")]

    def __str__(self) -> str:
        return f"{self.client_id}: {self.tag_id}"


class Unsubscription(models.Model):
    """An address that unsubscribed from an owner's mailings (R-SEND-8). It outlives the client row, so
    deleting the client and adding the same address again cannot undo the recipient's choice."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        on_delete=models.CASCADE,
        related_name="unsubscriptions",
    )
    email = models.EmailField(_("email"), help_text=_("Lower-cased."))
    created_at = models.DateTimeField(_("unsubscribed at"), auto_now_add=True)

    class Meta:
        verbose_name = _("unsubscribed address")
        verbose_name_plural = _("unsubscribed addresses")
        constraints = [
            models.UniqueConstraint(fields=["owner", "email"], name="mailings_unsubscription_unique")
        ]

    def __str__(self) -> str:
        return self.email


class ClientImport(models.Model):
    """A clients file imported in the background by the scheduler (R-AUD-3): the upload lies in
    MAILER_IMPORT_DIR; the import reads it in chunks, each committed with the row it reached, so a run stopped
    anywhere goes on from there; the lease keeps two schedulers off one import. Every row's result is
    appended to a report CSV next to the upload (`report_bytes` of it are committed); the first rows with
    something to say are kept here too (`problems`)."""

    class Status(models.TextChoices):
        QUEUED = "queued", pgettext_lazy("client import", "queued")
        RUNNING = "running", pgettext_lazy("client import", "running")
        DONE = "done", pgettext_lazy("client import", "done")
        FAILED = "failed", pgettext_lazy("client import", "failed")

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        on_delete=models.CASCADE,
        related_name="client_imports",
    )
    file_name = models.CharField(_("file name"), max_length=255)
    path = models.CharField(_("stored file"), max_length=255, help_text=_("In MAILER_IMPORT_DIR."))
    size = models.BigIntegerField(_("size in bytes"))
    sha256 = models.CharField(_("SHA-256 of the content"), max_length=64)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.QUEUED)
    rows_total = models.PositiveIntegerField(_("rows in the file"), null=True, blank=True)
    rows_done = models.PositiveIntegerField(_("rows imported"), default=0)
    added = models.PositiveIntegerField(_("added"), default=0)
    updated = models.PositiveIntegerField(_("updated"), default=0)
    skipped = models.PositiveIntegerField(_("skipped"), default=0)
    errors = models.PositiveIntegerField(_("errors"), default=0)
    problems = models.JSONField(_("first rows to look at"), default=list, blank=True)
    report_bytes = models.BigIntegerField(_("committed bytes of the report"), default=0)
    error = models.TextField(_("why it failed"), blank=True)
    error_code = models.CharField(_("error code"), max_length=40, blank=True)
    language = models.CharField(
        _("language"),
        max_length=16,
        blank=True,
        help_text=_("The uploader's: the reasons are written in it."),
    )
    # How the file reads (csv_io.csv_format), known once the import has looked at it (R-OWN-3).
    encoding = models.CharField(_("text encoding"), max_length=20, blank=True, default="")
    delimiter = models.CharField(_("separator"), max_length=1, blank=True, default="")
    lease_token = models.CharField(max_length=32, blank=True, default="", editable=False)
    lease_until = models.DateTimeField(_("leased until"), null=True, blank=True)
    # Chunks rolled back because the list changed under them (or the database saw a duplicate the import's
    # own check did not): retried later, and the import fails after IMPORT_CONFLICTS_MAX of them.
    conflicts = models.PositiveSmallIntegerField(_("rolled-back chunks"), default=0, editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    class Meta:
        verbose_name = _("client import")
        verbose_name_plural = _("client imports")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["status", "created_at"], name="mailings_clientimport_queue"),
            models.Index(fields=["owner", "-created_at"], name="mailings_clientimport_owner"),
        ]

    def __str__(self) -> str:
        return f"{self.file_name} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.FAILED)

    @property
    def percent(self) -> int:
        if self.status == self.Status.DONE:
            return 100
        if not self.rows_total:
            return 0
        return min(100, self.rows_done * 100 // self.rows_total)


class SenderDomain(models.Model):
    """A domain an owner sends from, with the DKIM key pair Mailer generated for it (R-DLV-1, R-DLV-2).
    Verified once the public key is found in DNS at `<selector>._domainkey.<domain>`; from then on every
    address at the domain is a usable sender for this owner, and their mail is signed with this key. The
    private half never leaves the database: not in the API, the pages, the admin or a log."""

    class Algorithm(models.TextChoices):
        ED25519 = "ed25519", "Ed25519"
        RSA = "rsa", "RSA-2048"

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        on_delete=models.CASCADE,
        related_name="sender_domains",
    )
    domain = models.CharField(_("domain"), max_length=253, help_text=_("Lower-case, in ASCII (IDNA)."))
    selector = models.CharField(_("DKIM selector"), max_length=63)
    algorithm = models.CharField(
        _("key type"), max_length=10, choices=Algorithm.choices, default=Algorithm.RSA
    )
    private_key = models.TextField(_("private key (PEM)"), editable=False)
    public_key = models.TextField(_("public key"), editable=False, help_text=_("The DNS record's p= value."))
    verified_at = models.DateTimeField(_("verified at"), null=True, blank=True)
    checked_at = models.DateTimeField(_("last checked"), null=True, blank=True)
    check_result = models.TextField(_("last check's result"), blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("sender domain")
        verbose_name_plural = _("sender domains")
        ordering = ["domain", "id"]
        constraints = [
            models.UniqueConstraint(fields=["owner", "domain"], name="mailings_senderdomain_unique"),
        ]

    def __str__(self) -> str:
        return self.domain


class SenderIdentity(models.Model):
    """Who an owner's mail comes from (R-DLV-1): From name and address, optional Reply-To. Usable once the
    confirmation link sent to the address was followed, or when its domain is a verified `SenderDomain` of
    the owner; never once a manager revoked it."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        on_delete=models.CASCADE,
        related_name="sender_identities",
    )
    from_name = models.CharField(_("From name"), max_length=100)
    from_email = models.EmailField(_("From address"))
    reply_to = models.EmailField(_("Reply-To"), blank=True)
    confirmation_token = models.CharField(
        max_length=64, unique=True, default=new_unsubscribe_token, editable=False
    )
    confirmation_sent_at = models.DateTimeField(_("confirmation sent at"), null=True, blank=True)
    confirmed_at = models.DateTimeField(_("confirmed at"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("revoked by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    revoked_reason = models.CharField(_("reason for revoking"), max_length=255, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("sender identity")
        verbose_name_plural = _("sender identities")
        ordering = ["from_email", "id"]
        constraints = [
            models.UniqueConstraint(
                F("owner"), Lower("from_email"), name="mailings_senderidentity_owner_email_ci_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.from_name} <{self.from_email}>" if self.from_name else self.from_email


class Message(models.Model):
    """What a mailing sends (R-DATA-2)."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("owner"), on_delete=models.CASCADE, related_name="messages"
    )
    subject = models.CharField(_("subject"), max_length=255)
    body = models.TextField(_("body"), help_text=_("Plain text."))
    html_body = models.TextField(_("HTML body"), blank=True, help_text=_("Optional HTML version."))
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        ordering = ["-updated_at", "-id"]

    def __str__(self) -> str:
        return self.subject


class Mailing(models.Model):
    """A schedule that sends one message to a set of clients (R-DATA-3)."""

    class Periodicity(models.TextChoices):
        ONCE = schedule.ONCE, _("once")
        DAILY = schedule.DAILY, _("daily")
        WEEKLY = schedule.WEEKLY, _("weekly")
        MONTHLY = schedule.MONTHLY, _("monthly")

    class Status(models.TextChoices):
        # A context: "created" is also the creation date's label, which other languages word differently.
        CREATED = "created", pgettext_lazy("mailing status", "created")
        STARTED = "started", pgettext_lazy("mailing status", "started")
        COMPLETED = "completed", pgettext_lazy("mailing status", "completed")

    class Audience(models.TextChoices):
        """Who an occurrence goes to, resolved when it starts (R-AUD-1, `selectors.recipients_of`)."""

        EVERYONE = "everyone", _("everyone subscribed")
        TAGS = "tags", _("clients with chosen tags")
        CLIENTS = "clients", _("chosen clients")

    class TagMatch(models.TextChoices):
        ANY = "any", _("any of the tags")
        ALL = "all", _("all of the tags")

    # An active mailing: started, not disabled by a manager, not paused by its owner (the home page's and
    # dashboards' count).
    ACTIVE = Q(status=Status.STARTED, is_active=True, paused_at__isnull=True)

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("owner"), on_delete=models.CASCADE, related_name="mailings"
    )
    # RESTRICT, not PROTECT: a message in use cannot be deleted on its own, but deleting the owner (account
    # deletion) takes messages and mailings together, which PROTECT would refuse.
    message = models.ForeignKey(
        Message, verbose_name=_("message"), on_delete=models.RESTRICT, related_name="mailings"
    )
    # What the owner calls it in every list (R-OWN-2); the message's subject when left empty.
    name = models.CharField(_("name"), max_length=255)
    # Chosen clients by default: what every mailing was before audiences, and what an API call that names
    # only `clientIds` still means. The mailing form starts at everyone subscribed.
    audience = models.CharField(
        _("audience"), max_length=10, choices=Audience.choices, default=Audience.CLIENTS
    )
    tags = models.ManyToManyField(Tag, verbose_name=_("tags"), related_name="mailings", blank=True)
    tag_match = models.CharField(
        _("clients with"), max_length=3, choices=TagMatch.choices, default=TagMatch.ANY
    )
    # Who the mail is from (R-DLV-1); empty: the operator's address with the owner's name and Reply-To.
    sender = models.ForeignKey(
        SenderIdentity,
        verbose_name=_("sender"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="mailings",
    )
    # Used when the audience is the chosen clients only.
    clients = models.ManyToManyField(Client, verbose_name=_("clients"), related_name="mailings", blank=True)
    start_at = models.DateTimeField(_("start"))
    end_at = models.DateTimeField(_("end"))
    periodicity = models.CharField(
        _("periodicity"), max_length=10, choices=Periodicity.choices, default=Periodicity.ONCE
    )
    time_zone = models.CharField(
        _("time zone"),
        max_length=64,
        default=default_time_zone,
        validators=[validate_time_zone],
        help_text=_("Occurrences keep the start's local time in this zone (the owner's, when created)."),
    )
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.CREATED, db_index=True
    )
    is_active = models.BooleanField(
        _("active"), default=True, help_text=_("A manager can disable a mailing; it is then never sent.")
    )
    # The owner's own switch (R-OWN-1): while paused nothing more is claimed, what waits is kept and sent on
    # resume. Apart from a manager's disable, which the owner cannot undo.
    paused_at = models.DateTimeField(_("paused at"), null=True, blank=True)
    disabled_at = models.DateTimeField(_("disabled at"), null=True, blank=True)
    disabled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("disabled by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    next_run_at = models.DateTimeField(
        _("next occurrence"), null=True, blank=True, db_index=True, help_text=_("Empty when nothing is left.")
    )
    # Opens and clicks (R-ENG-2): links in the HTML body become signed redirects and an open pixel is added;
    # the plain-text part is never rewritten.
    tracking = models.BooleanField(
        _("track opens and clicks"),
        default=True,
        help_text=_("Links in the HTML version lead through Mailer, and a tiny image counts opens."),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("mailing")
        verbose_name_plural = _("mailings")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(end_at__gt=F("start_at")), name="mailings_mailing_end_after_start"
            ),
        ]
        indexes = [
            # The scheduler's claim: active, not completed, due.
            models.Index(
                fields=["next_run_at"],
                name="mailings_mailing_due",
                condition=Q(is_active=True) & ~Q(status="completed"),
            ),
            models.Index(fields=["owner", "-created_at"], name="mailings_mailing_owner_created"),
        ]
        permissions = [
            ("view_all_mailings", _("Can view every user's mailings")),
            ("disable_mailing", _("Can disable and re-enable any mailing")),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.name}" if self.name else f"#{self.pk}"

    def save(self, *args, **kwargs) -> None:
        # Every way a mailing is made (form, API, admin, a command) leaves it named (R-OWN-2).
        if not self.name and self.message_id:
            self.name = self.message.subject
            if kwargs.get("update_fields") is not None:
                kwargs["update_fields"] = {*kwargs["update_fields"], "name"}
        super().save(*args, **kwargs)

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)

    def upcoming(self, *, after, limit: int = 5) -> list:
        """The next `limit` occurrences strictly after `after` (for the admin and the pages)."""
        result = []
        for moment in schedule.occurrences(
            self.start_at, self.end_at, self.periodicity, self.tz, after=after
        ):
            result.append(moment)
            if len(result) == limit:
                break
        return result


class Occurrence(models.Model):
    """One firing of a mailing: a scheduled occurrence, or a manual send from the command line."""

    mailing = models.ForeignKey(
        Mailing, verbose_name=_("mailing"), on_delete=models.CASCADE, related_name="occurrences"
    )
    scheduled_for = models.DateTimeField(_("scheduled for"))
    is_manual = models.BooleanField(_("manual"), default=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    finished_at = models.DateTimeField(
        _("finished at"), null=True, blank=True, help_text=_("Set when every delivery is final.")
    )
    # Counts and attempt times frozen when the occurrence finishes (empty while it runs: read live then).
    # Reports and dashboards read these, so they outlive the delivery rows (DELIVERY_LOG_DAYS, R-DATA-4).
    deliveries_total = models.PositiveIntegerField(_("deliveries"), null=True, blank=True, editable=False)
    sent_total = models.PositiveIntegerField(_("sent"), null=True, blank=True, editable=False)
    failed_total = models.PositiveIntegerField(_("failed"), null=True, blank=True, editable=False)
    skipped_total = models.PositiveIntegerField(_("skipped"), null=True, blank=True, editable=False)
    first_attempted_at = models.DateTimeField(_("first attempt"), null=True, blank=True, editable=False)
    last_attempted_at = models.DateTimeField(_("last attempt"), null=True, blank=True, editable=False)
    log_purged_at = models.DateTimeField(
        _("log purged at"),
        null=True,
        blank=True,
        editable=False,
        help_text=_("When its per-recipient log was deleted; its counts remain."),
    )

    class Meta:
        verbose_name = _("occurrence")
        verbose_name_plural = _("occurrences")
        ordering = ["-scheduled_for"]
        constraints = [
            models.UniqueConstraint(fields=["mailing", "scheduled_for"], name="mailings_occurrence_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.mailing_id} @ {self.scheduled_for:%Y-%m-%d %H:%M}"


class Delivery(models.Model):
    """One recipient of one occurrence (R-DATA-4): the latest state; its attempts hold the history."""

    class Status(models.TextChoices):
        PENDING = "pending", _("pending")
        RETRYING = "retrying", _("retrying")
        SENT = "sent", _("sent")
        FAILED = "failed", _("failed")
        SKIPPED = "skipped", _("skipped")

    FINAL_STATUSES = (Status.SENT, Status.FAILED, Status.SKIPPED)
    # Still to be sent: "waiting" wherever counts are shown.
    PENDING_STATUSES = (Status.PENDING, Status.RETRYING)

    # No index of their own: (mailing, status) and the (occurrence, ...) indexes below start with them, and
    # every index more is written once per recipient when an occurrence starts.
    mailing = models.ForeignKey(
        Mailing,
        verbose_name=_("mailing"),
        on_delete=models.CASCADE,
        related_name="deliveries",
        db_index=False,
    )
    occurrence = models.ForeignKey(
        Occurrence,
        verbose_name=_("occurrence"),
        on_delete=models.CASCADE,
        related_name="deliveries",
        db_index=False,
    )
    # SET_NULL keeps the report when a client is deleted; `email` keeps who it was.
    client = models.ForeignKey(
        Client,
        verbose_name=_("client"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="deliveries",
    )
    email = models.EmailField(_("email"))
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    last_attempt_at = models.DateTimeField(_("last attempt"), null=True, blank=True)
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True)
    last_response = models.TextField(_("last server answer"), blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    # Accepted by the server, then bounced: a bounce mail read back names this delivery (R-DLV-3).
    bounced_at = models.DateTimeField(_("bounced after acceptance"), null=True, blank=True)
    # Which claim holds the delivery now: renewing and recording only touch rows that still carry it.
    claim_token = models.CharField(max_length=32, blank=True, default="", editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("delivery")
        verbose_name_plural = _("deliveries")
        ordering = ["-created_at", "-id"]
        constraints = [
            # No recipient gets the same occurrence twice (R-SEND-7).
            models.UniqueConstraint(fields=["occurrence", "client"], name="mailings_delivery_unique"),
        ]
        indexes = [
            # The sender's work queue: pending now, or retries that are due, in claim order (the id breaks
            # ties, so a claim reads 100 index entries instead of sorting every queued row).
            models.Index(
                fields=["next_attempt_at", "id"],
                name="mailings_delivery_queue",
                condition=Q(status__in=["pending", "retrying"]),
            ),
            # Reports; per-occurrence lookups use the unique (occurrence, client) index.
            models.Index(fields=["mailing", "status"], name="mailings_delivery_report"),
            # A running occurrence's counts per status, read from the index alone.
            models.Index(fields=["occurrence", "status"], name="mailings_delivery_progress"),
            # The report's delivery log in its order (newest send first, then by address), one page at a time.
            models.Index(fields=["mailing", "-occurrence", "email", "id"], name="mailings_delivery_log"),
            # The automatic review's look for owners with recent bounces: only bounced rows, so it stays tiny.
            models.Index(
                fields=["bounced_at"],
                name="mailings_delivery_bounced",
                condition=Q(bounced_at__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.email}: {self.get_status_display()}"

    @property
    def summary(self) -> str:
        """The latest answer classified for its owner (`answers.summary`); "" before any attempt; "bounced
        after acceptance" once a bounce for it was read back (R-DLV-3)."""
        if self.bounced_at is not None:
            return str(answers.BOUNCED_AFTER_ACCEPTANCE)
        return answers.summary(None, self.last_response)


class DeliveryAttempt(models.Model):
    """One SMTP attempt for one delivery, with the server's answer or the connection error (R-DATA-4)."""

    class Outcome(models.TextChoices):
        SENT = "sent", _("accepted")
        TEMPORARY = "temporary", _("temporary failure")
        PERMANENT = "permanent", _("permanent failure")

    delivery = models.ForeignKey(
        Delivery, verbose_name=_("delivery"), on_delete=models.CASCADE, related_name="attempt_log"
    )
    attempted_at = models.DateTimeField(_("time"))
    outcome = models.CharField(_("outcome"), max_length=10, choices=Outcome.choices)
    smtp_code = models.PositiveSmallIntegerField(_("SMTP code"), null=True, blank=True)
    response = models.TextField(_("server answer or error"), blank=True)

    class Meta:
        verbose_name = _("delivery attempt")
        verbose_name_plural = _("delivery attempts")
        ordering = ["-attempted_at", "-id"]
        indexes = [
            models.Index(fields=["delivery", "attempted_at"], name="mailings_attempt_delivery"),
            models.Index(fields=["attempted_at"], name="mailings_attempt_time"),
        ]

    def __str__(self) -> str:
        code = self.smtp_code or ""
        return f"{self.attempted_at:%Y-%m-%d %H:%M:%S} {self.get_outcome_display()} {code}".strip()

    @property
    def summary(self) -> str:
        """The server's answer classified for the mailing's owner (`answers.summary`)."""
        return answers.summary(self.smtp_code, self.response)


class Bounce(models.Model):
    """One mail read back at the bounce address (R-DLV-3, R-DLV-4): a delivery status notification, a
    complaint from a mailbox provider's feedback loop, or something not understood. Matched to its delivery
    only by the VERP token of the address it came to (`verp.py`), never by guessing from the body. The raw
    mail is kept (up to BOUNCE_RAW_MAX_BYTES) for a person to read, until BOUNCE_RAW_DAYS have passed; a
    mail that could not be classified or matched is kept and shown, never deleted unseen."""

    class Kind(models.TextChoices):
        HARD = "hard", _("hard bounce")
        SOFT = "soft", _("soft bounce")
        COMPLAINT = "complaint", _("complaint")
        UNCLASSIFIED = "unclassified", _("not understood")

    class Source(models.TextChoices):
        STDIN = "stdin", _("MTA pipe")
        SMTP = "smtp", _("inbound SMTP")
        IMAP = "imap", _("IMAP mailbox")
        WEBHOOK = "webhook", _("provider webhook")

    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices)
    source = models.CharField(_("read from"), max_length=8, choices=Source.choices)
    received_at = models.DateTimeField(_("received"), db_index=True)
    # Who it concerns, when the token matched (null: shown to the operator only).
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="bounces",
    )
    delivery = models.ForeignKey(
        Delivery,
        verbose_name=_("delivery"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="bounces",
    )
    client = models.ForeignKey(
        Client,
        verbose_name=_("client"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="bounces",
    )
    email = models.EmailField(_("recipient"), blank=True)
    envelope_to = models.CharField(_("sent to"), max_length=320, blank=True)
    status_code = models.CharField(_("status code"), max_length=16, blank=True, help_text=_("e.g. 5.1.1"))
    reason = models.TextField(_("reason"), blank=True)
    # Makes reading the same mail twice (an IMAP poll after a crash, an MTA's retry of the pipe) harmless.
    sha256 = models.CharField(_("SHA-256 of the raw mail"), max_length=64, unique=True)
    size = models.PositiveIntegerField(_("size in bytes"))
    raw = models.BinaryField(_("raw mail"), blank=True)
    raw_truncated = models.BooleanField(_("raw mail truncated"), default=False)
    raw_purged_at = models.DateTimeField(_("raw mail deleted at"), null=True, blank=True)

    class Meta:
        verbose_name = _("bounce or complaint")
        verbose_name_plural = _("bounces and complaints")
        ordering = ["-received_at", "-id"]
        indexes = [
            models.Index(fields=["owner", "-received_at"], name="mailings_bounce_owner"),
            models.Index(fields=["client", "kind", "received_at"], name="mailings_bounce_client"),
            # A client added again with an address that hard-bounced before starts bounced.
            models.Index(F("owner"), Lower("email"), name="mailings_bounce_owner_email"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.email or '-'}"


class BreakerState(models.Model):
    """The SMTP circuit breaker (R-SEND-5): while `open_until` is ahead, every pass in every
    process sharing the database leaves the SMTP server alone. In the database rather than the cache, so a
    Redis outage does not make it forget the cooldown."""

    name = models.CharField(_("name"), max_length=50, primary_key=True)
    opened_at = models.DateTimeField(_("opened at"))
    open_until = models.DateTimeField(_("open until"))
    reason = models.TextField(_("reason"))

    class Meta:
        verbose_name = _("circuit breaker state")
        verbose_name_plural = _("circuit breaker states")

    def __str__(self) -> str:
        return f"{self.name}: open until {self.open_until:%Y-%m-%d %H:%M:%S}"


class SendQuotaDay(models.Model):
    """How many messages one owner's claims handed to the SMTP server on one day of theirs (R-DLV-5): the
    engine's quota counter. Raised in the claim's transaction under a row lock (`sending.queue.claim`), so
    any number of schedulers share it; lowered again for deliveries a pass gives back untried."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("owner"), on_delete=models.CASCADE, related_name="+"
    )
    # A calendar day in the owner's time zone.
    day = models.DateField(_("day"))
    handed = models.PositiveIntegerField(_("messages handed to the server"), default=0)

    class Meta:
        verbose_name = _("daily sending count")
        verbose_name_plural = _("daily sending counts")
        constraints = [
            models.UniqueConstraint(fields=["owner", "day"], name="mailings_sendquotaday_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.owner_id} {self.day}: {self.handed}"


def new_public_id() -> str:
    return secrets.token_urlsafe(12)


class SignupForm(models.Model):
    """A public sign-up form of one owner (R-ENG-1): a hosted page at /subscribe/<public id>/ and an HTML
    snippet that posts to it. Nothing is stored for a visitor until they confirm the mailed link."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        on_delete=models.CASCADE,
        related_name="signup_forms",
    )
    public_id = models.CharField(
        _("public id"), max_length=32, unique=True, default=new_public_id, editable=False
    )
    name = models.CharField(_("name"), max_length=100, help_text=_("For you; visitors do not see it."))
    title = models.CharField(_("heading"), max_length=200)
    description = models.TextField(_("text above the form"), blank=True)
    consent_text = models.TextField(
        _("consent text"),
        help_text=_("What the visitor agrees to; recorded with each confirmed subscription."),
    )
    thank_you_text = models.TextField(
        _("thank-you text"), help_text=_("Shown after the visitor confirms the address.")
    )
    tags = models.ManyToManyField(Tag, verbose_name=_("tags"), related_name="signup_forms", blank=True)
    # Who the confirmation mail is from; empty: the owner's first usable identity, else the operator.
    sender = models.ForeignKey(
        SenderIdentity,
        verbose_name=_("sender"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="signup_forms",
    )
    is_active = models.BooleanField(_("accepting sign-ups"), default=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("sign-up form")
        verbose_name_plural = _("sign-up forms")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.name


class Consent(models.Model):
    """Proof of one confirmed subscription (R-ENG-1): when it was asked for and confirmed, through which
    form, the exact text the visitor was shown, and the address the request came from."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("owner"), on_delete=models.CASCADE, related_name="consents"
    )
    client = models.ForeignKey(
        Client, verbose_name=_("client"), on_delete=models.CASCADE, related_name="consents"
    )
    form = models.ForeignKey(
        SignupForm,
        verbose_name=_("sign-up form"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="consents",
    )
    email = models.EmailField(_("email"))
    text = models.TextField(_("text shown"))
    requested_at = models.DateTimeField(_("asked for"))
    requested_ip = models.GenericIPAddressField(_("asked from"), null=True, blank=True)
    confirmed_at = models.DateTimeField(_("confirmed"))
    confirmed_ip = models.GenericIPAddressField(_("confirmed from"), null=True, blank=True)
    user_agent = models.CharField(_("browser"), max_length=255, blank=True)

    class Meta:
        verbose_name = _("consent")
        verbose_name_plural = _("consents")
        ordering = ["-confirmed_at", "-id"]
        indexes = [models.Index(fields=["client", "-confirmed_at"], name="mailings_consent_client")]

    def __str__(self) -> str:
        return f"{self.email} {self.confirmed_at:%Y-%m-%d %H:%M:%S}"


class TrackedLink(models.Model):
    """A link of a mailing's HTML body, rewritten to a signed redirect (R-ENG-2). The redirect leads only to
    a URL stored here, so the click endpoint can never be used to send a visitor anywhere else."""

    mailing = models.ForeignKey(
        Mailing, verbose_name=_("mailing"), on_delete=models.CASCADE, related_name="links"
    )
    url = models.TextField(_("address"))
    # SHA-256 of the URL: the unique key (a URL can be longer than an index entry may be).
    url_hash = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("tracked link")
        verbose_name_plural = _("tracked links")
        constraints = [
            models.UniqueConstraint(fields=["mailing", "url_hash"], name="mailings_trackedlink_unique")
        ]

    def __str__(self) -> str:
        return self.url


class EngagementEvent(models.Model):
    """One open or click of one delivery (R-ENG-2). Written in batches from the endpoints' buffer; an open
    that looks like a machine's (a privacy proxy prefetching, a scanner) is kept but counted apart."""

    class Kind(models.TextChoices):
        OPEN = "open", _("open")
        CLICK = "click", _("click")

    kind = models.CharField(_("kind"), max_length=5, choices=Kind.choices)
    mailing = models.ForeignKey(Mailing, on_delete=models.CASCADE, related_name="+", db_index=False)
    occurrence = models.ForeignKey(Occurrence, on_delete=models.CASCADE, related_name="+", db_index=False)
    # No database constraint: the delivery log's retention (DELIVERY_LOG_DAYS) deletes deliveries with one raw
    # DELETE, and a send's opens and clicks outlive its log as its counts do (the id still tells unique
    # openers apart). Deleting the mailing or the send deletes them.
    delivery = models.ForeignKey(
        Delivery,
        verbose_name=_("delivery"),
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="events",
    )
    link = models.ForeignKey(
        TrackedLink, verbose_name=_("link"), null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    at = models.DateTimeField(_("time"))
    is_machine = models.BooleanField(_("by a machine"), default=False)
    user_agent = models.CharField(_("user agent"), max_length=255, blank=True)
    # Random, given when the endpoint took the event: a buffered batch stored twice (a drain that died
    # after inserting) is stored once.
    key = models.CharField(max_length=32, unique=True, null=True, editable=False)

    class Meta:
        verbose_name = _("open or click")
        verbose_name_plural = _("opens and clicks")
        indexes = [
            models.Index(fields=["mailing", "kind", "at"], name="mailings_event_mailing"),
            models.Index(fields=["occurrence", "kind", "at"], name="mailings_event_occurrence"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.delivery_id} {self.at:%Y-%m-%d %H:%M:%S}"


class Suppression(models.Model):
    """What is left of a client erased at their request (R-ENG-4): a hash of the address, never the address,
    so a later import or form does not silently add them again."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        on_delete=models.CASCADE,
        related_name="suppressions",
    )
    email_hash = models.CharField(_("hash of the address"), max_length=64)
    created_at = models.DateTimeField(_("erased at"), auto_now_add=True)

    class Meta:
        verbose_name = _("erased address")
        verbose_name_plural = _("erased addresses")
        constraints = [
            models.UniqueConstraint(fields=["owner", "email_hash"], name="mailings_suppression_unique")
        ]

    def __str__(self) -> str:
        return self.email_hash[:12]
