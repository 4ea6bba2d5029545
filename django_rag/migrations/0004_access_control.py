# Reserved in the migration chain for issue 7: who may see collections and documents; registered model sources.
# Operations are added by that work; an empty migration is a no-op.
from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("django_rag", "0003_querylog"),
    ]

    operations = []
