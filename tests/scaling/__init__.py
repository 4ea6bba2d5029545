"""Past one machine: a real redis-server as django-q2's broker and Django's cache (docs/scaling.md)."""
