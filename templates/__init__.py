"""Jinja templates, shipped inside the wheel as generator.templates."""
