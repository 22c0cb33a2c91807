"""The few forms of the owner pages that are not a domain object's form: an upload and a choice."""

from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from backend.mailings import selectors
from backend.mailings.errors import ErrorCode
from backend.mailings.forms import ChoicesField


class ClientImportForm(forms.Form):
    file = forms.FileField(
        label=_("CSV file"),
        help_text=_(
            "Columns: email, full name, comment, tags (all but the email optional; tags separated by "
            "commas inside the cell); a header row is optional. Any spreadsheet's CSV or Unicode text: "
            "UTF-8, UTF-16 or a code page such as Windows-1251, separated by commas, semicolons or tabs. A "
            "file over 5 MB is imported in the background."
        ),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.txt,.tsv,text/csv,text/plain"}),
    )


class ClientBulkForm(forms.Form):
    """The client list's bulk actions (R-AUD-2, R-OWN-3): add or remove a tag, unsubscribe, re-subscribe,
    delete or export the ticked clients, or every client matching the list's search (`q`), tag filter
    (`tag_filter`) and bounced filter (`bounced_filter`). Tags and clients are the owner's only: another
    owner's id is not a valid choice."""

    ADD, REMOVE = "add", "remove"
    UNSUBSCRIBE, RESUBSCRIBE, DELETE, EXPORT = "unsubscribe", "resubscribe", "delete", "export"
    TAG_ACTIONS = (ADD, REMOVE)
    TICKED, MATCHING = "ticked", "matching"

    action = forms.ChoiceField(
        label=_("Action"),
        choices=[
            (ADD, _("Add the tag")),
            (REMOVE, _("Remove the tag")),
            (UNSUBSCRIBE, pgettext_lazy("a bulk action on clients", "Unsubscribe")),
            (RESUBSCRIBE, _("Re-subscribe")),
            (EXPORT, _("Export as CSV")),
            (DELETE, _("Delete")),
        ],
    )
    tag = forms.ModelChoiceField(label=_("Tag"), queryset=None, empty_label=None, required=False)
    scope = forms.ChoiceField(
        label=_("To"),
        choices=[(TICKED, _("the ticked clients")), (MATCHING, _("every client matching the search"))],
        initial=TICKED,
        widget=forms.RadioSelect,
    )
    clients = ChoicesField(label=_("Clients"), queryset=None, required=False)
    q = forms.CharField(required=False, max_length=200)
    tag_filter = forms.IntegerField(required=False, min_value=1, max_value=2**63 - 1)
    bounced_filter = forms.ChoiceField(required=False, choices=[("", ""), ("yes", "yes"), ("no", "no")])
    # A bulk delete is asked about first; the confirmation page posts the same form with this set.
    confirmed = forms.BooleanField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, owner, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["tag"].queryset = selectors.tags_for(owner).order_by("name", "pk")
        self.fields["clients"].queryset = selectors.clients_for(owner)

    def clean(self) -> dict:
        cleaned = super().clean()
        ticked = cleaned.get("scope") == self.TICKED
        if ticked and "clients" not in self.errors and not cleaned.get("clients"):
            self.add_error(
                "clients", forms.ValidationError(_("Tick at least one client."), code=ErrorCode.REQUIRED)
            )
        if cleaned.get("action") in self.TAG_ACTIONS and "tag" not in self.errors and not cleaned.get("tag"):
            self.add_error("tag", forms.ValidationError(_("Choose a tag."), code=ErrorCode.REQUIRED))
        return cleaned
