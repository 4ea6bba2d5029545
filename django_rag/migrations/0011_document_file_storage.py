# Uploads: a random directory per file, DJANGO_RAG["FILE_STORAGE"], links to the
# serving view (django_rag.files). Only Python-side attributes change: no SQL runs.

import django_rag.fields
import django_rag.files
from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("django_rag", "0010_document_lease"),
    ]

    operations = [
        migrations.AlterField(
            model_name="document",
            name="file",
            field=django_rag.fields.DocumentFileField(
                blank=True,
                max_length=500,
                storage=django_rag.files.document_storage,
                upload_to=django_rag.files.upload_path,
                verbose_name="file",
            ),
        ),
    ]
