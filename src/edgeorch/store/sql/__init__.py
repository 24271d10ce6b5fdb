"""The SQL implementation of the store: ORM tables, one repository module per kind, migrations."""
