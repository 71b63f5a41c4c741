"""Rendering the Airflow target's templates (rtc.integrations.codegen does the work)."""

from __future__ import annotations

from rtc.integrations import codegen


def render(template_name: str, **context) -> str:
    """Render a template of integrations/airflow/templates and prove the result is Python."""
    return codegen.render_python(codegen.jinja_environment("rtc.integrations.airflow"), template_name, **context)
