"""PAS application package. Importing app.domain must not load Flask: nothing is imported here."""
