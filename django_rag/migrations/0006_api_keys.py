# Reserved in the migration chain for issue 6: hashed API keys for the REST router.
# Operations are added by that work; an empty migration is a no-op.
from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("django_rag", "0005_ingestion_surfaces"),
    ]

    operations = []
