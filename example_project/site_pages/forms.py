from pathlib import PurePath

from django import forms
from django.utils.html import format_html, format_html_join

from django_rag.ingestion.extractors import extension_map, extractors
from django_rag.models import Collection, Document


def supported_formats() -> list[tuple[str, str]]:
    """(format label, its extensions) in the registry's order: ("PDF", ".pdf"), ("Markdown", ".markdown, .md")...

    Formats whose extra is not installed are left out: such a file could only fail."""
    by_format: dict[str, list[str]] = {}
    for extension, fmt in sorted(extension_map().items()):
        by_format.setdefault(fmt, []).append(extension)
    return [
        (extractor.label or fmt, ", ".join(by_format[fmt]))
        for fmt, extractor in extractors().items() if fmt in by_format and not extractor.missing()
    ]


def accepted_extensions() -> list[str]:
    usable = {fmt for fmt, extractor in extractors().items() if not extractor.missing()}
    return sorted(ext for ext, fmt in extension_map().items() if fmt in usable)


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
        self.fields["file"].widget.attrs["accept"] = ",".join(accepted_extensions())

    def clean_file(self):
        upload = self.cleaned_data["file"]
        # Refuse here, with the form still filled in, rather than store a file that can
        # only fail to ingest.
        suffix = PurePath(upload.name).suffix.lower()
        if suffix not in accepted_extensions():
            raise forms.ValidationError(
                f"{suffix or 'Files without an extension'} cannot be searched. "
                f"Upload one of: {', '.join(accepted_extensions())}."
            )
        return upload
