"""Shape errors: each pydantic error becomes one located, readable issue."""

from __future__ import annotations

from collections.abc import Callable

import pytest

Edit = Callable[[str, str], str]
IssuesOf = Callable[[str], list[str]]

INVALID_NAME = "use lower-case letters, digits and '-' (at most 63)"
NO_OUTPUTS = (
    "repo 'hello' has no outputs, so it builds nothing to run "
    "(give repos.hello.outputs the files the service needs)"
)

# --- shape errors, one mistake each --------------------------------------------------------

SHAPE_CASES = [
    pytest.param(
        "timeout-minutes: 2",
        "timeout-minutes: three",
        ["f.yaml:9:28: repos.hello.build.steps[0].timeout-minutes: expected a number, got 'three'"],
        id="float-from-word",
    ),
    pytest.param(
        "timeout-minutes: 2",
        "timeout-minutes: 0",
        ["f.yaml:9:28: repos.hello.build.steps[0].timeout-minutes: must be greater than 0, got 0"],
        id="float-bound",
    ),
    pytest.param(
        "run: ./build.sh",
        "runn: ./build.sh",
        [
            "f.yaml:7:11: repos.hello.build.steps[0]: missing required key 'run'",
            "f.yaml:8:11: repos.hello.build.steps[0].runn: "
            "unknown key 'runn' (did you mean 'run'?)",
        ],
        id="misspelt-required-key",
    ),
    pytest.param(
        "          timeout-minutes: 2",
        "          enviroment: {A: b}",
        [
            "f.yaml:9:11: repos.hello.build.steps[0].enviroment: "
            "unknown key 'enviroment' (did you mean 'env'?)"
        ],
        id="unknown-key-prefix-hint",
    ),
    pytest.param(
        "    outputs:",
        "    output:",
        [
            "f.yaml:10:5: repos.hello.output: unknown key 'output' (did you mean 'outputs'?)",
            f"f.yaml:13:15: services.web.artifact: {NO_OUTPUTS}",
        ],
        id="unknown-in-repo-and-service-of-a-repo-without-outputs",
    ),
    pytest.param(
        "environments:",
        "enviroments:",
        ["f.yaml:17:1: enviroments: unknown key 'enviroments' (did you mean 'environments'?)"],
        id="unknown-top-level-key",
    ),
    pytest.param(
        "health: {path: /healthz}",
        "health: {path: /healthz, timeout: 5}",
        [
            "f.yaml:15:30: services.web.health.timeout: "
            "unknown key 'timeout' (did you mean 'timeout-seconds'?)"
        ],
        id="unknown-key-in-flow-mapping",
    ),
    pytest.param(
        "    source: ./app\n",
        "",
        ["f.yaml:4:5: repos.hello: missing required key 'source'"],
        id="missing-key-points-at-parent-mapping",
    ),
    pytest.param(
        "system: hello\n",
        "",
        ["f.yaml:1:1: missing required key 'system'"],
        id="missing-top-level-key",
    ),
    pytest.param(
        "replicas: 1",
        "replicas: 0",
        ["f.yaml:16:15: services.web.replicas: must be at least 1, got 0"],
        id="int-lower-bound",
    ),
    pytest.param(
        "replicas: 1",
        "replicas: 65",
        ["f.yaml:16:15: services.web.replicas: must be at most 64, got 65"],
        id="int-upper-bound",
    ),
    pytest.param(
        "replicas: 1",
        "replicas: 1.5",
        ["f.yaml:16:15: services.web.replicas: expected a whole number, got 1.5"],
        id="int-from-fraction",
    ),
    pytest.param(
        "replicas: 1",
        "replicas: many",
        ["f.yaml:16:15: services.web.replicas: expected an integer, got 'many'"],
        id="int-from-word",
    ),
    pytest.param(
        "health: {path: /healthz}",
        "health: {path: healthz}",
        ["f.yaml:15:20: services.web.health.path: health path must start with '/', got 'healthz'"],
        id="model-validator-message",
    ),
    pytest.param(
        "health: {path: /healthz}",
        "health: {path: /healthz, status: 700}",
        ["f.yaml:15:38: services.web.health.status: must be at most 599, got 700"],
        id="nested-flow-value",
    ),
    pytest.param(
        "health: {path: /healthz}",
        "health: /healthz",
        ["f.yaml:15:13: services.web.health: expected a mapping, got '/healthz'"],
        id="scalar-for-model",
    ),
    pytest.param(
        "run: ./build.sh",
        "run: ./build.sh\n          env: {A: 1}",
        ["f.yaml:9:20: repos.hello.build.steps[0].env.A: expected a string, got 1"],
        id="env-value-not-string",
    ),
    pytest.param(
        "run: python3 server.py",
        "run: [python3, server.py]",
        ["f.yaml:14:10: services.web.run: expected a string, got a list"],
        id="list-for-string",
    ),
    pytest.param(
        "- name: build",
        '- name: ""',
        ["f.yaml:7:17: repos.hello.build.steps[0].name: must not be empty"],
        id="empty-string",
    ),
    pytest.param(
        'outputs: ["dist/**"]',
        "outputs: []",
        [f"f.yaml:13:15: services.web.artifact: {NO_OUTPUTS}"],
        id="empty-outputs-of-a-served-repo",
    ),
    pytest.param(
        'outputs: ["dist/**"]',
        "outputs: dist/**",
        ["f.yaml:10:14: repos.hello.outputs: expected a list, got 'dist/**'"],
        id="scalar-for-list",
    ),
    pytest.param(
        "      steps:\n        - name: build\n          run: ./build.sh\n"
        "          timeout-minutes: 2\n",
        "",
        ["f.yaml:5:5: repos.hello.build: expected a mapping, got nothing"],
        id="empty-value-points-at-key",
    ),
    pytest.param(
        "    regions:\n      local-1: {zones: [a]}\n",
        "    regions: {}\n",
        ["f.yaml:20:14: environments.dev.regions: must not be empty"],
        id="empty-mapping",
    ),
    pytest.param(
        "        - name: build\n          run: ./build.sh\n",
        "        - build\n        - name: test\n",
        [
            "f.yaml:7:11: repos.hello.build.steps[0]: expected a mapping, got 'build'",
            "f.yaml:8:11: repos.hello.build.steps[1]: missing required key 'run'",
        ],
        id="all-items-invalid-no-spurious-too-short",
    ),
    pytest.param(
        "system: hello",
        "system: Hello",
        [f"f.yaml:1:9: system: invalid name 'Hello': {INVALID_NAME}"],
        id="invalid-system-name",
    ),
    pytest.param(
        "  dev:",
        "  Dev_1:",
        [f"f.yaml:18:3: environments.Dev_1: invalid name 'Dev_1': {INVALID_NAME}"],
        id="invalid-key-name-points-at-key",
    ),
    pytest.param(
        "{zones: [a]}",
        "{zones: [a, B, c, D]}",
        [
            f"f.yaml:21:28: environments.dev.regions.local-1.zones[1]: invalid name 'B': "
            f"{INVALID_NAME}",
            f"f.yaml:21:34: environments.dev.regions.local-1.zones[3]: invalid name 'D': "
            f"{INVALID_NAME}",
        ],
        id="every-invalid-zone-name",
    ),
    pytest.param(
        "{zones: [a]}",
        "{zones: [a, a]}",
        ["f.yaml:21:24: environments.dev.regions.local-1.zones: zones must be unique"],
        id="duplicate-zones",
    ),
    pytest.param(
        "  hello:\n    source",
        "  7:\n    source",
        [
            "f.yaml:3:3: repos.7: expected a string, got 7",
            "f.yaml:13:15: services.web.artifact: unknown repo 'hello'",
        ],
        id="non-string-key",
    ),
]


@pytest.mark.parametrize(("old", "new", "expected"), SHAPE_CASES)
def test_shape_error_is_located(
    old: str, new: str, expected: list[str], edit: Edit, issues_of: IssuesOf
) -> None:
    assert issues_of(edit(old, new)) == expected
