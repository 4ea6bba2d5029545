# Issue 5: the per-step timings of a document's last ingestion, shown in the admin.
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("django_rag", "0004_access_control"),
    ]

    operations = [
        migrations.AddField(
            model_name="document",
            name="ingest_timings",
            field=models.JSONField(
                blank=True,
                default=dict,
                editable=False,
                help_text="Seconds spent extracting, splitting and embedding in the last ingestion.",
                verbose_name="ingestion timings (s)",
            ),
        ),
    ]
