from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('django_rag', '0009_bm25_search_function'),
    ]

    operations = [
        migrations.AddField(
            model_name='document',
            name='lease_owner',
            field=models.CharField(blank=True, editable=False, help_text='The worker ingesting this document now (host:pid:token).', max_length=200, verbose_name='lease owner'),
        ),
        migrations.AddField(
            model_name='document',
            name='lease_expires_at',
            field=models.DateTimeField(blank=True, editable=False, null=True, verbose_name='lease expires'),
        ),
    ]
