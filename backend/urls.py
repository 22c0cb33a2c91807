from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.urls import include, path
from django.views.i18n import JavaScriptCatalog
from wagtail import urls as wagtail_urls
from wagtail.admin import urls as wagtailadmin_urls
from wagtail.documents import urls as wagtaildocs_urls

from backend.accounts.views import CmsPasswordResetView
from backend.api.core.views import MailerGraphQLView
from backend.api.schema import schema

urlpatterns = [
    path("admin/", admin.site.urls),
    # Before Wagtail's own: its password reset, under the account-email limits.
    path("cms/password_reset/", CmsPasswordResetView.as_view(), name="cms_password_reset"),
    path("cms/", include(wagtailadmin_urls)),
    path("accounts/", include("backend.accounts.urls")),
    path("graphql/", MailerGraphQLView.as_view(graphiql=True, schema=schema), name="graphql"),
    path("i18n/", include("django.conf.urls.i18n")),
    # The pages' JavaScript words (the djangojs catalogue): gettext/ngettext/interpolate for static/js.
    path("jsi18n/", JavaScriptCatalog.as_view(), name="javascript-catalog"),
    path("documents/", include(wagtaildocs_urls)),
    # The owner pages, one URL module per area.
    path("clients/", include("backend.web.urls_clients")),
    path("tags/", include("backend.web.urls_tags")),
    path("messages/", include("backend.web.urls_messages")),
    path("mailings/", include("backend.web.urls_mailings")),
    path("reports/", include("backend.web.urls_reports")),
    path("senders/", include("backend.web.urls_senders")),
    path("signup-forms/", include("backend.web.urls_signups")),
    path("", include("backend.web.urls")),
]

if settings.DEBUG:
    # Uploaded images in development; in production the reverse proxy serves MEDIA_ROOT at /media/.
    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)

# Last: Wagtail serves the page tree (the blog at /blog/); "/" above stays the Django home page.
urlpatterns.append(path("", include(wagtail_urls)))
