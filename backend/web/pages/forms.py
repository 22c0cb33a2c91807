"""The few forms of the owner pages that are not a domain object's form: an upload and a choice."""

from django import forms
from django.utils.translation import gettext_lazy as _


class ClientImportForm(forms.Form):
    file = forms.FileField(
        label=_("CSV file"),
        help_text=_(
            "Columns: email, full name, comment, tags (all but the email optional; tags separated by "
            "commas inside the cell); a header row is optional. UTF-8 with or without BOM, separated by "
            "commas or semicolons. A file over 5 MB is imported in the background."
        ),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv,text/plain"}),
    )
