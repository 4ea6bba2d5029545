import django.contrib.postgres.indexes
import django.contrib.postgres.search
import django.db.models.deletion
import django_rag.fields
import pgvector.django.vector
from django.contrib.postgres.operations import CreateExtension
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
    ]

    operations = [
        # makemigrations does not create extensions; pgvector must exist before the vector column.
        CreateExtension("vector"),
        migrations.CreateModel(
            name='Collection',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(max_length=200, verbose_name='name')),
                ('slug', models.SlugField(max_length=200, unique=True, verbose_name='slug')),
                ('description', models.TextField(blank=True, verbose_name='description')),
                ('language', models.CharField(blank=True, help_text="PostgreSQL text search configuration (english, simple, german...) for documents that do not name their own. Empty: DJANGO_RAG['DEFAULT_LANGUAGE'].", max_length=63, verbose_name='full-text language')),
                ('metadata', models.JSONField(blank=True, default=dict, verbose_name='metadata')),
                ('created_at', models.DateTimeField(auto_now_add=True, verbose_name='created')),
                ('updated_at', models.DateTimeField(auto_now=True, verbose_name='updated')),
            ],
            options={
                'verbose_name': 'collection',
                'verbose_name_plural': 'collections',
                'ordering': ['name'],
            },
        ),
        migrations.CreateModel(
            name='Document',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('title', models.CharField(blank=True, max_length=500, verbose_name='title')),
                ('file', models.FileField(blank=True, max_length=500, upload_to='django_rag/%Y/%m/', verbose_name='file')),
                ('text', models.TextField(blank=True, help_text='Used when there is no file.', verbose_name='text')),
                ('source_url', models.URLField(blank=True, max_length=2000, verbose_name='source URL')),
                ('language', models.CharField(blank=True, help_text="Empty: the collection's language, then DJANGO_RAG['DEFAULT_LANGUAGE'].", max_length=63, verbose_name='full-text language')),
                ('metadata', models.JSONField(blank=True, default=dict, verbose_name='metadata')),
                ('status', models.CharField(choices=[('pending', 'Pending'), ('processing', 'Processing'), ('ready', 'Ready'), ('failed', 'Failed')], db_index=True, default='pending', max_length=20, verbose_name='status')),
                ('error', models.TextField(blank=True, verbose_name='last error')),
                ('content_hash', models.CharField(blank=True, help_text='SHA-256 of the file or text last ingested.', max_length=64, verbose_name='content hash')),
                ('ingest_signature', models.CharField(blank=True, editable=False, help_text='Hash of content, chunking settings and embedder of the chunks in place.', max_length=64)),
                ('chunk_count', models.PositiveIntegerField(default=0, verbose_name='chunks')),
                ('ingest_seconds', models.FloatField(blank=True, null=True, verbose_name='ingestion time (s)')),
                ('ingested_at', models.DateTimeField(blank=True, null=True, verbose_name='ingested')),
                ('created_at', models.DateTimeField(auto_now_add=True, verbose_name='created')),
                ('updated_at', models.DateTimeField(auto_now=True, verbose_name='updated')),
                ('collection', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='documents', to='django_rag.collection', verbose_name='collection')),
            ],
            options={
                'verbose_name': 'document',
                'verbose_name_plural': 'documents',
                'ordering': ['-created_at', '-pk'],
            },
        ),
        migrations.CreateModel(
            name='Chunk',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('index', models.PositiveIntegerField(verbose_name='position')),
                ('content', models.TextField(verbose_name='content')),
                ('context', models.TextField(blank=True, db_default='', verbose_name='context')),
                ('metadata', models.JSONField(blank=True, default=dict, verbose_name='metadata')),
                ('embedding', pgvector.django.vector.VectorField(verbose_name='embedding')),
                ('embedder', models.CharField(max_length=255, verbose_name='embedder')),
                ('language', django_rag.fields.RegConfigField(default='english', max_length=63, verbose_name='full-text language')),
                ('search_vector', models.GeneratedField(db_persist=True, expression=django.contrib.postgres.search.SearchVector('context', 'content', config=models.F('language')), output_field=django.contrib.postgres.search.SearchVectorField())),
                ('document', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='chunks', to='django_rag.document')),
            ],
            options={
                'verbose_name': 'chunk',
                'verbose_name_plural': 'chunks',
                'ordering': ['document_id', 'index'],
                'indexes': [django.contrib.postgres.indexes.GinIndex(fields=['search_vector'], name='django_rag_chunk_fts')],
                'constraints': [models.UniqueConstraint(fields=('document', 'index'), name='django_rag_chunk_document_index')],
            },
        ),
    ]
