from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.urls import path

from site_pages import views

from .api import api

urlpatterns = [
    path("", views.home, name="home"),
    path("admin/", admin.site.urls),
    path("api/", api.urls),
] + static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
