"""Retirement: the 2025 gradual reform, flexible retirement and the pension estimate."""
