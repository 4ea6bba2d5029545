from pathlib import PurePath

from django import forms

from django_rag.ingestion.extractors import FORMATS_BY_EXTENSION
from django_rag.models import Collection, Document


class UploadForm(forms.ModelForm):
    class Meta:
        model = Document
        fields = ["title", "collection", "file"]

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["collection"].queryset = Collection.objects.visible_to(user)
        self.fields["file"].required = True
        self.fields["file"].help_text = "Supported: " + ", ".join(sorted(FORMATS_BY_EXTENSION))

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
