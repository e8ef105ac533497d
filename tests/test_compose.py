"""docker-compose.yml cannot run here (no Docker engine): check it against the code instead."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from retention.embedded.stack import patched_environ
from retention.settings import Settings
from tests.grafana.dashboards import dashboards, query_panels, variables
from tests.grafana.macros import PLUGIN_VERSION

COMPOSE = yaml.safe_load((Path(__file__).parents[1] / "docker-compose.yml").read_text())


def _field_exists(model: type[BaseModel], path: list[str]) -> bool:
    name, *rest = path
    fields = {f.lower(): info for f, info in model.model_fields.items()}
    if name not in fields:
        return False
    if not rest:
        return True
    annotation = fields[name].annotation
    return isinstance(annotation, type) and issubclass(annotation, BaseModel) and \
        _field_exists(annotation, rest)


def test_compose_has_the_services_of_compose_mode():
    """Kafka (KRaft), ClickHouse server, a one-shot migration, the worker and Grafana are
    defined."""
    services = COMPOSE["services"]
    assert {"kafka", "clickhouse", "migrate", "worker", "topics", "grafana"} <= set(services)
    assert "controller" in services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"]
    assert services["migrate"]["command"] == ["db", "migrate"]
    assert services["worker"]["command"] == ["worker"]


def test_every_compose_variable_is_a_setting_the_code_reads():
    """Each RETENTION_* variable in the file names a real (nested) settings field."""
    env = COMPOSE["services"]["worker"]["environment"]
    assert env, "the worker gets its configuration from the environment"
    for key in env:
        assert key.startswith("RETENTION_"), key
        path = key.removeprefix("RETENTION_").lower().split("__")
        assert _field_exists(Settings, path), f"{key} is not read by retention.settings"


def test_compose_environment_selects_server_backends():
    """With the compose environment the settings point at Kafka and a ClickHouse server."""
    env = {k: str(v).replace("${CLICKHOUSE_PASSWORD:-retention}", "pw")
           for k, v in COMPOSE["services"]["worker"]["environment"].items()}
    with patched_environ(env):
        settings = Settings()
    assert settings.kafka.bootstrap_servers == "kafka:9092"
    assert not settings.clickhouse.is_embedded
    assert settings.clickhouse.database_name == "retention"
    assert "pw" not in repr(settings)  # the DSN's password stays masked


def test_the_worker_api_is_not_published():
    """The worker's HTTP port is not published to the host, and its environment keeps the
    API on loopback (a wider bind would need a token: tests/streams/test_web.py)."""
    worker = COMPOSE["services"]["worker"]
    assert "ports" not in worker
    env = {k: str(v).replace("${CLICKHOUSE_PASSWORD:-retention}", "pw")
           for k, v in worker["environment"].items()}
    with patched_environ(env):
        settings = Settings()
    assert settings.worker.web_is_loopback


def test_every_topic_the_code_uses_is_created_by_compose():
    """The topics job creates every input, output and dead-letter topic the code uses."""
    command = "\n".join(COMPOSE["services"]["topics"]["command"])
    settings = Settings()
    for topic in settings.kafka.input_topics + settings.kafka.output_topics:
        assert f" {topic}" in command or f"{topic} " in command, topic
    assert f"--partitions {settings.kafka.partitions}" in command


# --- Grafana ---------------------------------------------------------------------------
ROOT = Path(__file__).parents[1]
GRAFANA = COMPOSE["services"]["grafana"]
CLICKHOUSE = COMPOSE["services"]["clickhouse"]
DATASOURCES = yaml.safe_load(
    (ROOT / "grafana/provisioning/datasources/clickhouse.yaml").read_text())["datasources"]
DASHBOARD_PROVIDERS = yaml.safe_load(
    (ROOT / "grafana/provisioning/dashboards/retention.yaml").read_text())["providers"]
READER_SQL = (ROOT / "grafana/clickhouse-init/grafana_reader.sql").read_text()


def _mounts(service: dict[str, Any]) -> dict[str, Path]:
    """Container path -> repository path of each bind mount (named volumes left out)."""
    found = {}
    for volume in service["volumes"]:
        source, target, *_ = volume.split(":")
        if source.startswith("./"):
            found[target] = ROOT / source
    return found


def test_grafana_runs_a_pinned_image_with_the_clickhouse_plugin():
    """A fixed Grafana tag; the plugin installed before start-up (so provisioning finds it),
    at the version whose macros tests/grafana expands."""
    assert re.fullmatch(r"grafana/grafana:\d+\.\d+\.\d+", GRAFANA["image"])
    env = GRAFANA["environment"]
    assert env["GF_PLUGINS_PREINSTALL_SYNC"] == f"grafana-clickhouse-datasource@{PLUGIN_VERSION}"
    assert GRAFANA["ports"] == ["3000:3000"]
    assert env["GF_AUTH_ANONYMOUS_ENABLED"] == "false"
    assert GRAFANA["depends_on"]["clickhouse"] == {"condition": "service_healthy"}


def test_grafana_mounts_its_provisioning_and_the_dashboards():
    """Provisioning and dashboards come from the repository, read-only, and the dashboard
    provider reads the folder the dashboards are mounted at."""
    mounts = _mounts(GRAFANA)
    assert mounts["/etc/grafana/provisioning"] == ROOT / "grafana/provisioning"
    assert all(v.endswith(":ro") for v in GRAFANA["volumes"] if v.startswith("./"))
    (provider,) = DASHBOARD_PROVIDERS
    dashboards = mounts[provider["options"]["path"]]
    assert sorted(p.name for p in dashboards.glob("*.json")) == [
        "retention-kpis.json", "retention-pipeline.json"]
    home = GRAFANA["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert (dashboards / Path(home).name).is_file()
    assert home.startswith(provider["options"]["path"] + "/")
    assert provider["allowUiUpdates"] is False


def test_the_data_source_logs_in_as_the_read_only_user_compose_creates():
    """The provisioned user is the one grafana/clickhouse-init creates with the
    retention_reader role, on compose's ClickHouse and database, with the password both
    services get from the same variable."""
    (datasource,) = DATASOURCES
    assert datasource["type"] == "grafana-clickhouse-datasource"
    data = datasource["jsonData"]
    created = re.search(r"CREATE USER OR REPLACE (\w+) ", READER_SQL)
    assert created is not None
    assert data["username"] == created.group(1)
    assert f"GRANT retention_reader TO {data['username']};" in READER_SQL
    assert "SETTINGS PROFILE 'retention_readonly'" in READER_SQL
    assert data["username"] != CLICKHOUSE["environment"]["CLICKHOUSE_USER"]
    assert (data["host"], data["port"], data["protocol"]) == ("clickhouse", 9000, "native")
    assert data["defaultDatabase"] == CLICKHOUSE["environment"]["CLICKHOUSE_DB"]
    assert datasource["secureJsonData"]["password"] == "$CLICKHOUSE_READER_PASSWORD"
    password = "${CLICKHOUSE_READER_PASSWORD:-reader}"
    assert GRAFANA["environment"]["CLICKHOUSE_READER_PASSWORD"] == password
    assert CLICKHOUSE["environment"]["CLICKHOUSE_READER_PASSWORD"] == password


def test_clickhouse_creates_the_roles_and_the_reader_on_first_start():
    """The init script is in the image's init folder, beside the roles file and the user's
    SQL it reads; the administrator may manage access in SQL."""
    mounts = _mounts(CLICKHOUSE)
    init = {t: s for t, s in mounts.items() if t.startswith("/docker-entrypoint-initdb.d/")}
    assert list(init.values()) == [ROOT / "grafana/clickhouse-init/create-grafana-reader.sh"]
    assert next(iter(init)).endswith(".sh")
    assert mounts["/retention-init/roles.sql"] == ROOT / "sql/roles/roles.sql"
    assert mounts["/retention-init/grafana_reader.sql"] == \
        ROOT / "grafana/clickhouse-init/grafana_reader.sql"
    assert all(path.is_file() for path in mounts.values())
    assert CLICKHOUSE["environment"]["CLICKHOUSE_DEFAULT_ACCESS_MANAGEMENT"] == "1"


def test_every_dashboard_panel_has_its_sql_file():
    """Each ClickHouse panel names a file under sql/grafana that exists, and queries the
    provisioned data source."""
    (datasource,) = DATASOURCES
    panels = query_panels()
    assert len(panels) >= 10
    for panel in panels:
        assert (ROOT / panel.sql_file).is_file(), f"{panel.title}: {panel.sql_file}"
        assert panel.target["datasource"]["uid"] == datasource["uid"]


def test_the_dashboards_use_the_workers_activity_window():
    """The churn panel's window is the dashboard constant, equal to compose's setting."""
    env = COMPOSE["services"]["worker"]["environment"]
    assert variables(dashboards()["retention-kpis"]) == {
        "activity_window_days": env["RETENTION_ACTIVITY_WINDOW_DAYS"]}
