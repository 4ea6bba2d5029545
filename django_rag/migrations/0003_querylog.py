import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('django_rag', '0002_bm25_postings'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='QueryLog',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('question', models.TextField(verbose_name='question')),
                ('standalone_question', models.TextField(blank=True, help_text='The question rewritten from the conversation, if any.', verbose_name='standalone question')),
                ('answer', models.TextField(blank=True, verbose_name='answer')),
                ('cited_chunks', models.JSONField(blank=True, default=list, verbose_name='cited chunks')),
                ('retrieved_chunks', models.JSONField(blank=True, default=list, verbose_name='retrieved chunks')),
                ('llm', models.CharField(blank=True, max_length=255, verbose_name='LLM')),
                ('embed_ms', models.FloatField(blank=True, null=True, verbose_name='embed (ms)')),
                ('retrieve_ms', models.FloatField(blank=True, null=True, verbose_name='retrieve (ms)')),
                ('generate_ms', models.FloatField(blank=True, null=True, verbose_name='generate (ms)')),
                ('total_ms', models.FloatField(blank=True, null=True, verbose_name='total (ms)')),
                ('input_tokens', models.PositiveIntegerField(blank=True, null=True, verbose_name='input tokens')),
                ('output_tokens', models.PositiveIntegerField(blank=True, null=True, verbose_name='output tokens')),
                ('cache_hit', models.BooleanField(default=False, verbose_name='cache hit')),
                ('no_answer', models.BooleanField(default=False, help_text='Nothing relevant was retrieved.', verbose_name='no answer')),
                ('error', models.TextField(blank=True, verbose_name='error')),
                ('created_at', models.DateTimeField(auto_now_add=True, db_index=True, verbose_name='asked')),
                ('collection', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, to='django_rag.collection', verbose_name='collection')),
                ('user', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, to=settings.AUTH_USER_MODEL, verbose_name='user')),
            ],
            options={
                'verbose_name': 'query log',
                'verbose_name_plural': 'query logs',
                'ordering': ['-created_at', '-pk'],
            },
        ),
    ]
