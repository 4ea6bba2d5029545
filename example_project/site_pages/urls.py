from django.urls import path

from . import views

app_name = "site_pages"

urlpatterns = [
    path("", views.home, name="home"),
    path("upload/", views.upload, name="upload"),
    path("documents/", views.documents, name="documents"),
]
