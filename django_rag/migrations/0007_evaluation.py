# Stored evaluation runs (one per dataset and retrieval mode) and their per-question results (issue 8).
import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("django_rag", "0006_api_keys"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='EvalRun',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(blank=True, max_length=200, verbose_name='name')),
                ('dataset', models.CharField(max_length=500, verbose_name='dataset')),
                ('dataset_format', models.CharField(max_length=20, verbose_name='dataset format')),
                ('mode', models.CharField(max_length=20, verbose_name='mode')),
                ('k', models.PositiveIntegerField(help_text='Cut-off of recall@k, MRR@k and nDCG@k.', verbose_name='k')),
                ('status', models.CharField(choices=[('running', 'Running'), ('finished', 'Finished'), ('failed', 'Failed')], default='running', max_length=20, verbose_name='status')),
                ('error', models.TextField(blank=True, verbose_name='error')),
                ('question_count', models.PositiveIntegerField(default=0, verbose_name='questions')),
                ('ndcg', models.FloatField(blank=True, null=True, verbose_name='nDCG@k')),
                ('recall', models.FloatField(blank=True, null=True, verbose_name='recall@k')),
                ('mrr', models.FloatField(blank=True, null=True, verbose_name='MRR@k')),
                ('faithfulness', models.FloatField(blank=True, null=True, verbose_name='faithfulness')),
                ('answer_relevancy', models.FloatField(blank=True, null=True, verbose_name='answer relevancy')),
                ('context_precision', models.FloatField(blank=True, null=True, verbose_name='context precision')),
                ('context_recall', models.FloatField(blank=True, null=True, verbose_name='context recall')),
                ('mean_latency_ms', models.FloatField(blank=True, null=True, verbose_name='mean search (ms)')),
                ('metrics', models.JSONField(blank=True, default=dict, help_text='Every mean, by metric name.', verbose_name='metrics')),
                ('settings_snapshot', models.JSONField(blank=True, default=dict, help_text='Embedder, chunking, fusion and judge settings at the time of the run.', verbose_name='settings')),
                ('started_at', models.DateTimeField(auto_now_add=True, db_index=True, verbose_name='started')),
                ('finished_at', models.DateTimeField(blank=True, null=True, verbose_name='finished')),
                ('collection', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, to='django_rag.collection', verbose_name='collection')),
                ('created_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, to=settings.AUTH_USER_MODEL, verbose_name='created by')),
            ],
            options={
                'verbose_name': 'evaluation run',
                'verbose_name_plural': 'evaluation runs',
                'ordering': ['-started_at', '-pk'],
            },
        ),
        migrations.CreateModel(
            name='EvalResult',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('question_id', models.CharField(max_length=200, verbose_name='question id')),
                ('question', models.TextField(verbose_name='question')),
                ('reference_answer', models.TextField(blank=True, verbose_name='reference answer')),
                ('relevant', models.JSONField(blank=True, default=dict, verbose_name='relevant documents')),
                ('retrieved', models.JSONField(blank=True, default=list, help_text='Best first, top k.', verbose_name='retrieved documents')),
                ('answer', models.TextField(blank=True, verbose_name='answer')),
                ('contexts', models.JSONField(blank=True, default=list, help_text='Chunk ids given to the LLM.', verbose_name='answer contexts')),
                ('ndcg', models.FloatField(blank=True, null=True, verbose_name='nDCG@k')),
                ('recall', models.FloatField(blank=True, null=True, verbose_name='recall@k')),
                ('mrr', models.FloatField(blank=True, null=True, verbose_name='MRR@k')),
                ('faithfulness', models.FloatField(blank=True, null=True, verbose_name='faithfulness')),
                ('answer_relevancy', models.FloatField(blank=True, null=True, verbose_name='answer relevancy')),
                ('context_precision', models.FloatField(blank=True, null=True, verbose_name='context precision')),
                ('context_recall', models.FloatField(blank=True, null=True, verbose_name='context recall')),
                ('judgments', models.JSONField(blank=True, default=dict, verbose_name='judge verdicts')),
                ('latency_ms', models.FloatField(blank=True, null=True, verbose_name='search (ms)')),
                ('error', models.TextField(blank=True, verbose_name='error')),
                ('run', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='results', to='django_rag.evalrun', verbose_name='run')),
            ],
            options={
                'verbose_name': 'evaluation result',
                'verbose_name_plural': 'evaluation results',
                'ordering': ['run', 'pk'],
                'constraints': [models.UniqueConstraint(fields=('run', 'question_id'), name='django_rag_evalresult_run_question')],
            },
        ),
    ]
