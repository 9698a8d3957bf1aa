"""The public status page (GET /status and its feeds): fed only by statement versions approved and published to it,
and by approved maintenance windows; rendered in memory so a crowd of readers never reaches the database."""
