"""Render a bound field with Bootstrap classes, so forms stay free of presentation."""

from django import forms, template

register = template.Library()


@register.simple_tag
def bootstrap_widget(field: forms.BoundField) -> str:
    widget = field.field.widget
    if isinstance(widget, forms.Select | forms.SelectMultiple) and not isinstance(
        widget, forms.CheckboxSelectMultiple
    ):
        css = "form-select"
    elif isinstance(widget, forms.CheckboxInput):
        css = "form-check-input"
    elif isinstance(widget, forms.CheckboxSelectMultiple | forms.RadioSelect):
        css = ""
    else:
        css = "form-control"
    if field.errors:
        css += " is-invalid"
    attrs = {"class": f"{widget.attrs.get('class', '')} {css}".strip()}
    if field.errors:
        attrs["aria-invalid"] = "true"
    return field.as_widget(attrs=attrs)
