"""Scheduled and background jobs: what runs by itself, on time, once."""
