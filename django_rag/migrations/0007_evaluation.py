# Reserved in the migration chain for issue 8: stored evaluation runs and per-question results.
# Operations are added by that work; an empty migration is a no-op.
from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("django_rag", "0006_api_keys"),
    ]

    operations = []
