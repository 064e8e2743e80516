"""Infrastructure every module stands on: settings, database, money, clock, auth, audit, errors."""
