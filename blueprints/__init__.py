"""One thin blueprint per service: parse → call the domain → serialize."""
