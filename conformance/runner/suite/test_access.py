"""Cross-cutting rules per operation: auth, api-version, routes and methods."""

from __future__ import annotations

from typing import Any

import pytest

from conformance.constants import KEY_SCHEMES
from conformance.rules import behaviour as B
from conformance.runner.preflight import claimed_by_name
from conformance.runner.session import Outgoing, TestJudge
from conformance.spec import available_versions


def _send(judge: TestJudge, base: Any, purpose: str, **kwargs: Any) -> Any:
    return judge.send_planned(base, purpose=purpose, **kwargs)


@pytest.mark.rules("OPERATION-SERVED")
def test_operation_is_served(operation: Any, base: Any, judge: TestJudge, suite: Any) -> None:
    """A 404 to the valid baseline request: not served (one finding; the operation's other tests stand down)."""
    ex = suite.preflight.get(operation.operation_id)
    if ex is None:  # an xdist worker, or the pre-flight stopped early: ask again
        ex = _send(judge, base, "is the operation served")
    else:
        judge.adopt(ex)
    judge.judge("OPERATION-SERVED", B.operation_served(ex, claimed_by_name=claimed_by_name(suite.config, operation.operation_id)))


@pytest.mark.rules("AUTH-MISSING")
def test_missing_credential_is_refused(operation: Any, base: Any, judge: TestJudge) -> None:
    ex = _send(judge, base, "auth: no credential", credential="none", retry=False)
    judge.judge("AUTH-MISSING", B.auth_missing(ex))


@pytest.mark.rules("AUTH-WRONG")
def test_wrong_credential_is_refused(operation: Any, base: Any, judge: TestJudge) -> None:
    ex = _send(judge, base, "auth: wrong credential", credential="wrong", retry=False)
    judge.judge("AUTH-WRONG", B.auth_wrong(ex))


@pytest.mark.rules("AUTH-SCHEMES")
def test_every_claimed_credential_scheme_works(operation: Any, base: Any, judge: TestJudge, suite: Any) -> None:
    schemes = [s for s in (suite.config.auth_schemes or [suite.config.auth]) if s in KEY_SCHEMES]
    if not schemes:
        judge.not_applicable("the target claims no api-key or bearer scheme (entra only)", rules=["AUTH-SCHEMES"])
    plan = [(Outgoing.planned(base, purpose=f"auth: {scheme}", credential=scheme), scheme) for scheme in schemes]
    with judge.sending(plan) as answers:  # one scheme per request: none depends on another's answer
        for scheme, ex in answers:
            judge.judge("AUTH-SCHEMES", B.auth_scheme(ex, scheme=scheme))


@pytest.mark.rules("APIVERSION-MISSING")
def test_missing_api_version_is_refused(operation: Any, base: Any, judge: TestJudge) -> None:
    ex = _send(judge, base, "api-version: missing", api_version=None)
    judge.judge("APIVERSION-MISSING", B.api_version_missing(ex))


@pytest.mark.rules("APIVERSION-UNKNOWN")
def test_unknown_api_version_is_refused(operation: Any, base: Any, judge: TestJudge) -> None:
    version = "1999-01-01-conformance"
    ex = _send(judge, base, "api-version: unknown", api_version=version)
    judge.judge("APIVERSION-UNKNOWN", B.api_version_unknown(ex, version=version))


@pytest.mark.rules("APIVERSION-SUPPORTED")
def test_claimed_api_versions_work(operation: Any, base: Any, judge: TestJudge, suite: Any) -> None:
    claimed = suite.config.capabilities.get("api_versions") if suite.config.capabilities else None
    versions = [v for v in (claimed or [suite.api_version]) if v in available_versions(suite.api)]
    worked = []
    plan = [(Outgoing.planned(base, purpose=f"api-version: {v}", api_version=v), v) for v in versions]
    with judge.sending(plan) as answers:  # one version per request: none depends on another's answer
        for version, ex in answers:
            judge.judge("APIVERSION-SUPPORTED", B.api_version_supported(ex, version=version))
            if ex.response is not None and 200 <= ex.response.status < 300:
                worked.append(version)
    if claimed:
        known = suite.discovered.get("api_versions")
        # Per operation: a version counts as working only if it worked on every operation tried.
        suite.discovered["api_versions"] = sorted(set(worked) & set(known)) if isinstance(known, list) else sorted(worked)


@pytest.mark.rules("ROUTE-NOT-FOUND", operation="(unknown route)")
def test_unknown_route_is_404(judge: TestJudge, suite: Any) -> None:
    path = "/conformance-no-such-route" if suite.api == "model-inference" else "/deployments/conformance-no-such/nothing"
    ex = judge.send("POST", path, json={}, purpose="route-not-found", operation_id="(unknown route)")
    judge.judge("ROUTE-NOT-FOUND", B.route_not_found(ex), operation_id="(unknown route)")


@pytest.mark.rules("METHOD-NOT-ALLOWED")
def test_wrong_method_is_405(operation: Any, base: Any, judge: TestJudge, suite: Any) -> None:
    defined = {m.upper() for p, ms in suite.spec.raw.get("paths", {}).items() if p == operation.path for m in ms}
    method = "DELETE" if "DELETE" not in defined else "PATCH"
    ex = judge.send(method, base.path, purpose="method-not-allowed")
    judge.judge("METHOD-NOT-ALLOWED", B.method_not_allowed(ex))
