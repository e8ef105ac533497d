"""The registry is the whole rule set: every rule id and milestone kind once, settings declared."""

from __future__ import annotations

import inspect
import re
from datetime import UTC, datetime
from typing import Any, get_args

import pytest

from retention.settings import SignalSettings
from schemas import Purchase, SupportEvent, SurveyResponse
from schemas.alerts import MilestoneKind, RuleId
from streams.signals.base import EVERY_EVENT, AbsenceRule, EventRule, Rule
from streams.signals.outputs import Outputs
from streams.signals.registry import RULES
from streams.signals.state_updates import StateUpdates


class RecordingSettings:
    """SignalSettings that remembers which fields were read."""

    def __init__(self) -> None:
        self._settings = SignalSettings()
        self.read: set[str] = set()

    def __getattr__(self, name: str) -> Any:
        self.read.add(name)
        return getattr(self._settings, name)


def _outputs() -> Outputs:
    return Outputs(SignalSettings(), None, lambda: datetime.now(UTC))


def test_every_rule_id_and_milestone_kind_is_registered_once() -> None:
    """The registry names each RuleId and MilestoneKind of the output schema exactly once."""
    names = [rule.name for rule in RULES]
    assert len(names) == len(set(names)), names
    assert set(names) == set(get_args(RuleId)) | set(get_args(MilestoneKind))


@pytest.mark.parametrize("rule", RULES, ids=lambda rule: rule.name)
def test_rule_reads_exactly_the_settings_it_declares(rule: type[Rule]) -> None:
    """A rule's `reads` lists every SignalSettings field its code reads, and only those."""
    source = inspect.getsource(rule)
    read = set(re.findall(r"settings\.(\w+)", source))
    assert read == set(rule.reads)
    assert read <= SignalSettings.model_fields.keys()


@pytest.mark.parametrize("reader", [Outputs, StateUpdates], ids=lambda r: r.__name__)
def test_shared_steps_read_exactly_the_settings_they_declare(reader: Any) -> None:
    """The outputs builder and the state updates declare their settings like rules do."""
    settings = RecordingSettings()
    if reader is Outputs:
        Outputs(settings, None, lambda: datetime.now(UTC))  # type: ignore[arg-type]
    else:
        StateUpdates(settings)  # type: ignore[arg-type]
    assert settings.read == set(reader.reads)


@pytest.mark.parametrize("rule", RULES, ids=lambda rule: rule.name)
def test_rule_listens_to_events_or_to_event_time(rule: type[Rule]) -> None:
    """A rule that never runs is a mistake: it is an event rule with kinds, or an absence rule."""
    assert issubclass(rule, EventRule | AbsenceRule)
    if issubclass(rule, EventRule):
        assert rule.on and set(rule.on) <= set(EVERY_EVENT)


def test_event_kinds_are_exactly_what_the_schemas_allow() -> None:
    """Each event family's discriminating field has exactly the values EventKind lists, so
    the engine routes every valid event (a new schema value fails here first)."""
    allowed = {
        f"{family}.{value}"
        for family, model, field in [("purchase", Purchase, "kind"),
                                     ("support", SupportEvent, "action"),
                                     ("survey", SurveyResponse, "survey")]
        for value in get_args(model.model_fields[field].annotation)
    }
    assert set(EVERY_EVENT) == allowed
    assert len(EVERY_EVENT) == len(allowed)
