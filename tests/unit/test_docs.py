"""The README, the docs and the compose file stay true to the code."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from streams.core.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def test_every_setting_is_in_the_configuration_table() -> None:
    table = (ROOT / "docs" / "configuration.md").read_text()
    missing = [n for n in Settings.model_fields if f"`RAPPORT_{n.upper()}`" not in table]
    assert missing == []


def test_readme_links_to_docs_that_exist() -> None:
    readme = (ROOT / "README.md").read_text()
    links = re.findall(r"\]\((docs/[^)#]+)", readme)
    assert len(set(links)) >= 9
    assert [link for link in links if not (ROOT / link).is_file()] == []


def test_readme_quickstart_commands_exist_in_makefile_and_ci() -> None:
    readme = (ROOT / "README.md").read_text()
    makefile = (ROOT / "Makefile").read_text()
    assert "make run " in readme and "make test " in readme
    assert "\nrun: " in makefile and "\ntest: " in makefile
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_compose_ports_match_settings_defaults() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    defaults = Settings.model_validate({})
    published = {
        name: [p.split(":")[0] for p in svc.get("ports", [])] for name, svc in services.items()
    }
    assert defaults.kafka_bootstrap_servers.rsplit(":", 1)[1] in published["kafka"]
    assert defaults.redis_url.get_secret_value().split(":")[2].split("/")[0] in published["redis"]
    assert str(defaults.web_port) in published["worker"]
    assert defaults.llm_base_url.split(":")[2].split("/")[0] in published["llm"]
    worker_env = services["worker"]["environment"]
    assert set(worker_env) <= {f"RAPPORT_{n.upper()}" for n in Settings.model_fields}
    for image in (
        "apache/kafka:4.",
        "redis:",
        "clickhouse/clickhouse-server:",
        "prom/prometheus:",
        "grafana/grafana:",
    ):
        assert any(str(s.get("image", "")).startswith(image) for s in services.values()), image


def anchor(heading: str) -> str:
    """GitHub's anchor of a Markdown heading.

    >>> anchor("Drafting on the hot path (`rapport bench drafting`)")
    'drafting-on-the-hot-path-rapport-bench-drafting'
    """
    kept = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return kept.replace(" ", "-")


def test_every_relative_link_in_the_docs_resolves() -> None:
    """Links between README.md and docs/*.md point to files that exist, and to headings
    those files have."""
    broken = []
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text()):
            if re.match(r"[a-z]+:", target):
                continue  # http(s), mailto: not checked offline
            path, _, fragment = target.partition("#")
            file = (page.parent / path).resolve() if path else page
            if not file.exists():
                broken.append(f"{page.name}: {target} (no such file)")
            elif fragment and file.suffix == ".md":
                headings = re.findall(r"^#+ (.+)$", file.read_text(), re.MULTILINE)
                if fragment not in {anchor(h) for h in headings}:
                    broken.append(f"{page.name}: {target} (no such heading)")
    assert broken == []
