# Reserved in the migration chain for issue 5: ingestion timings and queue state shown in the admin.
# Operations are added by that work; an empty migration is a no-op.
from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("django_rag", "0004_access_control"),
    ]

    operations = []
