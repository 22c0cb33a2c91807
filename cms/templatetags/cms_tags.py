from django import template

from cms.cache import blog_version as current_blog_version

register = template.Library()


@register.simple_tag
def blog_version() -> int:
    return current_blog_version()
