from pathlib import PurePath

from django import forms
from django.utils.html import format_html, format_html_join

from django_rag.ingestion.extractors import FORMATS_BY_EXTENSION
from django_rag.models import Collection, Document


FORMAT_NAMES = {"pdf": "PDF", "markdown": "Markdown", "html": "HTML", "text": "text"}


def supported_formats() -> list[tuple[str, str]]:
    """(format name, its extensions) in FORMAT_NAMES order: ("PDF", ".pdf"), ("Markdown", ".markdown, .md")..."""
    by_format: dict[str, list[str]] = {}
    for extension, fmt in sorted(FORMATS_BY_EXTENSION.items()):
        by_format.setdefault(fmt, []).append(extension)
    order = list(FORMAT_NAMES)
    formats = sorted(by_format, key=lambda fmt: order.index(fmt) if fmt in order else len(order))
    return [(FORMAT_NAMES.get(fmt, fmt), ", ".join(by_format[fmt])) for fmt in formats]


class UploadForm(forms.ModelForm):
    class Meta:
        model = Document
        fields = ["title", "collection", "file"]

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["collection"].queryset = Collection.objects.visible_to(user)
        self.fields["file"].required = True
        self.fields["title"].help_text = "Leave it empty to use the document's first heading, PDF title or file name."
        # One group per format, each kept on one line (site_pages/base.html): a flat list of
        # eleven extensions after the input wrapped mid-list.
        self.fields["file"].help_text = format_html(
            "Supported: {}",
            format_html_join(", ", '<span class="format">{} ({})</span>', supported_formats()),
        )
        self.fields["file"].widget.attrs["accept"] = ",".join(sorted(FORMATS_BY_EXTENSION))

    def clean_file(self):
        upload = self.cleaned_data["file"]
        # Refuse here, with the form still filled in, rather than store a file that can
        # only fail to ingest.
        suffix = PurePath(upload.name).suffix.lower()
        if suffix not in FORMATS_BY_EXTENSION:
            raise forms.ValidationError(
                f"{suffix or 'Files without an extension'} cannot be searched. "
                f"Upload one of: {', '.join(sorted(FORMATS_BY_EXTENSION))}."
            )
        return upload
