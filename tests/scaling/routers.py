"""A site's own database router: reads on the replica, writes on the primary."""


class ReadsOnReplica:
    def db_for_read(self, model, **hints):
        return "replica"

    def db_for_write(self, model, **hints):
        return "default"

    def allow_relation(self, obj1, obj2, **hints):
        return True
