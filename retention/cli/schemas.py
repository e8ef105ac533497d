"""`retention schemas export DIR`: JSON Schemas for producers and subscribers elsewhere."""

from __future__ import annotations

import json
from pathlib import Path

import click
from pydantic import BaseModel

from schemas import ChurnRiskAlert, DeadLetter, Milestone, Purchase, SupportEvent, SurveyResponse

EXPORTED: dict[str, type[BaseModel]] = {
    "purchases": Purchase,
    "support-events": SupportEvent,
    "survey-responses": SurveyResponse,
    "churn-risk": ChurnRiskAlert,
    "milestones": Milestone,
    "dead-letter": DeadLetter,
}


@click.group(name="schemas")
def schemas_group() -> None:
    """Event and alert contracts."""


@schemas_group.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def export(directory: Path) -> None:
    """Write one JSON Schema per topic into DIRECTORY."""
    directory.mkdir(parents=True, exist_ok=True)
    for topic, model in EXPORTED.items():
        path = directory / f"{topic}.schema.json"
        path.write_text(json.dumps(model.model_json_schema(), indent=2) + "\n")
        click.echo(str(path))
