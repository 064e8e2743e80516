"""The web shell: app factory, dependencies, error mapping, layout, login pages."""
