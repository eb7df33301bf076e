"""The API holds its OpenAPI contract under schemathesis, with every check and every phase.

Examples, coverage (boundary and negative values of every parameter and body field) and
fuzzing run per operation; the stateful phase chains operations through the links it infers.
Requests come from the owner of real objects: path parameters are, half of the time, the ids
of a project, script, environment, change set and run that exist, so a bad version or body
reaches the code behind the 404. DELETEs get objects of a second project of their own, so the
rest keep something to work on. A fixed seed makes a failure reproduce.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from hypothesis.stateful import run_state_machine_as_test
from schemathesis.config import SchemathesisConfig
from schemathesis.python import asgi as schemathesis_asgi

from app.main import create_app
from scriptflow.generate.live import ExplorationFailed
from tests.factories import DEFAULT_PASSWORD
from tests.support.openai_stub import OpenAIStub
from tests.support.settings import settings_with_openai

pytestmark = pytest.mark.slow

SEED = 20261201
# Enough draws per operation to reach the boundary bugs (10**30 versions, year-1 cursors,
# NUL bytes), few enough that both backends fit the suite's budget.
FUZZ_EXAMPLES = 8
STATEFUL_EXAMPLES = 8
STATEFUL_STEPS = 8
# The operations are checked in this many test items per backend (about 60 in all).
CONTRACT_PARTS = 3
BASE = "http://testserver"

SCRIPT = (
    "import time\n\n\ndef test_checkout(page):\n    page.goto('/')\n    time.sleep(1)\n"
    "    page.click('#buy')\n"
)


@dataclass(frozen=True)
class World:
    """The real objects the fuzzed requests may name, keyed by path parameter."""

    app: FastAPI
    token: str
    ids: dict[str, str]
    doomed: dict[str, str]


@pytest.fixture(autouse=True)
def _schemathesis_node_id(request: pytest.FixtureRequest) -> None:
    # schemathesis 4.32's lazy tests rename the pytest node through `_nodeid`, which pytest 9
    # no longer has; giving it one keeps the per-operation subtest names readable.
    request.node._nodeid = request.node.nodeid  # type: ignore[attr-defined]


def _seed_project(client: Any, headers: dict[str, str], project_id: str) -> dict[str, str]:
    r = client.post(
        f"{BASE}/v1/projects/{project_id}/environments",
        json={"name": "staging", "base_url": "http://127.0.0.1:9"},
        headers=headers,
    )
    assert r.status_code == 201, r.text
    env_id = r.json()["id"]
    body = {"project_id": project_id, "title": "Checkout", "content": SCRIPT}
    r = client.post(f"{BASE}/v1/scripts", json=body, headers=headers)
    assert r.status_code == 201, r.text
    script_id = r.json()["id"]
    r = client.post(
        f"{BASE}/v1/auth/register",
        json={"email": f"viewer-{project_id[:8]}@example.com", "password": DEFAULT_PASSWORD},
    )
    assert r.status_code == 201, r.text
    member_id = r.json()["id"]
    r = client.post(
        f"{BASE}/v1/projects/{project_id}/members",
        json={"email": r.json()["email"], "role": "viewer"},
        headers=headers,
    )
    assert r.status_code == 201, r.text
    return {
        "project_id": project_id,
        "env_id": env_id,
        "script_id": script_id,
        "member_user_id": member_id,
    }


class UnreachablePage:
    """The seeded environment is a closed loopback port: the sandboxed explorer answers 422
    for it after starting a browser; this answers the same at once."""

    async def explore(self, base_url: str, job: dict[str, Any]) -> dict[str, Any]:
        raise ExplorationFailed("The page could not be explored: net::ERR_CONNECTION_REFUSED")


@pytest.fixture
def world(db_url: str, tmp_path: Path, stub: OpenAIStub) -> Iterator[World]:
    """An owner with a project full of objects, seeded through the API as a client would.

    The `openai` provider answers from the loopback stub, so enhance and summaries are real
    calls that succeed, not a 503 for a missing key.
    """
    stub.answer(SCRIPT)
    app = create_app(settings_with_openai(db_url, tmp_path, stub), run_background=False)
    app.state.page_explorer = UnreachablePage()
    with schemathesis_asgi.get_client(app) as client:
        creds = {"email": "owner@example.com", "password": DEFAULT_PASSWORD}
        assert client.post(f"{BASE}/v1/auth/register", json=creds).status_code == 201
        r = client.post(f"{BASE}/v1/auth/login", json=creds)
        token = r.json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        project_id = client.get(f"{BASE}/v1/projects", headers=headers).json()[0]["id"]
        ids = _seed_project(client, headers, project_id)
        r = client.post(
            f"{BASE}/v1/scripts/{ids['script_id']}/enhance",
            json={"provider": "rules"},
            headers=headers,
        )
        assert r.status_code == 200 and r.json()["status"] == "proposed", r.text
        ids["changeset_id"] = r.json()["id"]
        r = client.post(
            f"{BASE}/v1/test-runs",
            json={"script_id": ids["script_id"], "environment": "staging"},
            headers=headers,
        )
        assert r.status_code == 201, r.text
        ids["run_id"] = r.json()["id"]
        r = client.post(f"{BASE}/v1/projects", json={"name": "Doomed"}, headers=headers)
        doomed = _seed_project(client, headers, r.json()["id"])
    yield World(app=app, token=token, ids=ids, doomed=doomed)


def operation_labels(app: FastAPI) -> list[str]:
    return [
        f"{method.upper()} {path}"
        for path, operations in app.openapi()["paths"].items()
        for method in operations
    ]


def contract_config(world: World, part: int | None = None) -> SchemathesisConfig:
    """The whole contract, or (``part``) one part of its operations: the others are turned off
    in the config, the one place schemathesis' pytest integration keeps a selection from."""
    names = set(world.ids) | {"version"}
    dictionaries = {f"real_{name}": {"values": [world.ids[name]]} for name in world.ids}
    dictionaries["real_version"] = {"values": [1]}
    # A run or a generation names its environment in the body; an unknown name is a 422 by
    # design (tests/runs/test_api.py), so schema-valid requests name the real one.
    dictionaries["real_environment"] = {"values": ["staging"]}
    dictionaries |= {f"doomed_{name}": {"values": [world.doomed[name]]} for name in world.doomed}

    def bound(prefix: str, available: set[str]) -> dict[str, Any]:
        return {
            f"path.{name}": {"dictionary": f"{prefix}_{name}", "probability": 0.5}
            for name in names & available
        }

    return SchemathesisConfig.from_dict(
        {
            "seed": SEED,
            "headers": {"Authorization": f"Bearer {world.token}"},
            "dictionaries": dictionaries,
            "parameters": bound("real", names)
            | {"body.environment": {"dictionary": "real_environment", "probability": 1.0}},
            "operations": [
                *(
                    [{"include-name": others, "enabled": False}]
                    if part is not None
                    and (others := [n for n in operation_labels(world.app) if part_of(n) != part])
                    else []
                ),
                {"include-method": "DELETE", "parameters": bound("doomed", set(world.doomed))},
                # A JUnit report's validity (well-formed XML with test cases) is more than
                # OpenAPI can say of a body, so a schema-valid one may be a 422.
                {
                    "include-path": "/v1/projects/{project_id}/results",
                    "checks": {"positive_data_acceptance": {"enabled": False}},
                },
                # Nor can OpenAPI say that a binary body is a readable zip or tar.gz archive: an
                # unreadable one is a 422 by design (tests/files cover the archive rules).
                {
                    "include-path": "/v1/projects/{project_id}/import",
                    "checks": {"positive_data_acceptance": {"enabled": False}},
                },
                # Whether a page can be generated from is known only once it is opened.
                {
                    "include-path": "/v1/projects/{project_id}/generate",
                    "checks": {"positive_data_acceptance": {"enabled": False}},
                },
                {
                    "include-path": "/v1/projects/{project_id}/generate/preview",
                    "checks": {"positive_data_acceptance": {"enabled": False}},
                },
            ],
            "generation": {"max-examples": FUZZ_EXAMPLES},
            "phases": {
                "examples": {"enabled": True},
                "coverage": {"enabled": True},
                "fuzzing": {"enabled": True},
                "stateful": {"enabled": True},
            },
            "checks": {"enabled": True},
            "suppress-health-check": ["too_slow", "filter_too_much"],
        }
    )


def contract_schema_of(world: World, part: int | None = None) -> Any:
    config = contract_config(world, part)
    return schemathesis.openapi.from_asgi("/openapi.json", world.app, config=config)


def part_of(label: str) -> int:
    """A fixed part for each operation, from its label alone (same split on every run)."""
    return zlib.crc32(label.encode()) % CONTRACT_PARTS


@pytest.fixture(params=range(CONTRACT_PARTS), ids=lambda i: f"part{i + 1}of{CONTRACT_PARTS}")
def contract_schema(request: pytest.FixtureRequest, world: World) -> Any:
    """One part of the operations, each part a test item of its own: xdist spreads the parts
    over its workers, and no item comes near the per-test timeout on a loaded machine."""
    return contract_schema_of(world, request.param)


schema = schemathesis.pytest.from_fixture("contract_schema")


@schema.parametrize()
def test_every_operation_holds_its_contract(case: Any) -> None:
    case.call_and_validate()


def test_chained_operations_hold_the_contract(world: World) -> None:
    machine = contract_schema_of(world).as_state_machine()
    run_state_machine_as_test(
        machine,
        settings=hypothesis_settings(
            max_examples=STATEFUL_EXAMPLES,
            stateful_step_count=STATEFUL_STEPS,
            derandomize=True,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        ),
    )
