# Issue 7: who may see collections and documents (owner, shared groups, visibility), and
# the link from a document to the registered model instance it indexes.
import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('auth', '0012_alter_user_first_name_max_length'),
        ('contenttypes', '0002_remove_content_type_name'),
        ('django_rag', '0003_querylog'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name='collection',
            name='groups',
            field=models.ManyToManyField(blank=True, help_text='Members of these groups may see it when it is private.', related_name='+', to='auth.group', verbose_name='shared with groups'),
        ),
        migrations.AddField(
            model_name='collection',
            name='owner',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='owner'),
        ),
        migrations.AddField(
            model_name='collection',
            name='visibility',
            field=models.CharField(choices=[('public', 'Everyone, including anonymous visitors'), ('users', 'Signed-in users'), ('private', 'Its owner and the groups it is shared with')], default='public', max_length=10, verbose_name='visibility'),
        ),
        migrations.AddField(
            model_name='document',
            name='groups',
            field=models.ManyToManyField(blank=True, help_text='Members of these groups may see it when it is private.', related_name='+', to='auth.group', verbose_name='shared with groups'),
        ),
        migrations.AddField(
            model_name='document',
            name='owner',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='owner'),
        ),
        migrations.AddField(
            model_name='document',
            name='source_id',
            field=models.CharField(blank=True, default='', max_length=255, verbose_name='source id'),
        ),
        migrations.AddField(
            model_name='document',
            name='source_type',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='contenttypes.contenttype', verbose_name='source type'),
        ),
        migrations.AddField(
            model_name='document',
            name='visibility',
            field=models.CharField(choices=[('inherit', 'As its collection'), ('public', 'Everyone, including anonymous visitors'), ('users', 'Signed-in users'), ('private', 'Its owner and the groups it is shared with')], default='inherit', help_text="Narrows its collection's visibility; it never widens it.", max_length=10, verbose_name='visibility'),
        ),
        migrations.AddConstraint(
            model_name='document',
            constraint=models.UniqueConstraint(condition=models.Q(('source_type__isnull', False)), fields=('source_type', 'source_id'), name='django_rag_document_source'),
        ),
    ]
