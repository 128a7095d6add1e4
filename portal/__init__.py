"""The web portal: FastAPI + Jinja2 + htmx."""
