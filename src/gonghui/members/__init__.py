"""The spine: units, members, union member service cards, users and roles."""
