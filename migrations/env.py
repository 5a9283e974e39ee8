"""Alembic's environment for Tessera (through Flask-Migrate).

Every upgrade runs under ``app.store.schema.migration_lock``: processes that
start together on a new database take turns, and the second finds the work
done. ``compare_type`` makes ``flask db check`` notice changed column types.
"""

import logging
from logging.config import fileConfig

from alembic import context
from flask import current_app

from app.store.schema import migration_lock

config = context.config
# The CLI logs what it does; inside a running app the app's logging stays as it is.
if config.config_file_name is not None and not logging.getLogger().handlers:
    fileConfig(config.config_file_name, disable_existing_loggers=False)
log = logging.getLogger("alembic.env")

db = current_app.extensions["migrate"].db
config.set_main_option("sqlalchemy.url", db.engine.url.render_as_string(hide_password=False).replace("%", "%%"))


def run_migrations_offline() -> None:
    """Emit the SQL instead of running it (``flask db upgrade --sql``)."""
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=db.metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    def skip_empty(context, revision, directives):  # type: ignore[no-untyped-def]
        # `flask db migrate` with no change writes no empty revision.
        if getattr(config.cmd_opts, "autogenerate", False) and directives[0].upgrade_ops.is_empty():
            directives[:] = []
            log.info("No changes in schema detected.")

    options = dict(current_app.extensions["migrate"].configure_args)
    options.setdefault("process_revision_directives", skip_empty)
    options.setdefault("compare_type", True)
    with db.engine.connect() as connection, migration_lock(connection):
        context.configure(connection=connection, target_metadata=db.metadata, **options)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
