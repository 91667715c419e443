"""The template's authenticated-votes block: JWT authorizer and CORS, chosen by stage settings."""

from __future__ import annotations

from typing import Any

import pytest
from cfnlint.api import lint
from cfnlint.decode.decode import decode_str

from tests.unit.test_template import fake_bundle
from votectl.aws.stack import stack_parameters, template_body
from votectl.config import Stage
from votectl.errors import ConfigError

JWT_STAGE = Stage(
    name="prod",
    auth="jwt",
    jwt_issuer="https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Example",
    jwt_audience="votes-api",
    cors_origins=("https://app.example", "https://www.example"),
)


def resources() -> dict[str, Any]:
    template, matches = decode_str(template_body())
    assert not matches and template is not None
    return dict(template["Resources"])


def test_cfn_lint_finds_nothing_in_the_auth_block() -> None:
    # cfn-lint checks every branch of the conditions (Auth none and jwt, CORS on and off)
    body = template_body()
    assert "JwtAuthorizer" in body and "CorsConfiguration" in body
    assert [str(m) for m in lint(body, regions=["us-east-1"])] == []


def test_a_jwt_authorizer_guards_every_route_but_health() -> None:
    found = resources()
    authorizer = found["JwtAuthorizer"]
    assert authorizer["Condition"] == "JwtAuth"
    template, _ = decode_str(template_body())
    assert template["Conditions"]["JwtAuth"] == {
        "Fn::And": [{"Fn::Equals": [{"Ref": "Auth"}, "jwt"]}, {"Condition": "UseHttpApi"}]
    }
    assert authorizer["Properties"]["AuthorizerType"] == "JWT"
    assert authorizer["Properties"]["IdentitySource"] == ["$request.header.Authorization"]
    assert authorizer["Properties"]["JwtConfiguration"] == {
        "Issuer": {"Ref": "JwtIssuer"},
        "Audience": [{"Ref": "JwtAudience"}],
    }
    routes = {r["Properties"]["RouteKey"]: r["Properties"] for r in found.values()
              if r["Type"] == "AWS::ApiGatewayV2::Route"}  # fmt: skip
    for key in ("POST /votes", "$default"):  # $default too: /votes/ must not slip past
        assert routes[key]["AuthorizationType"] == {"Fn::If": ["JwtAuth", "JWT", "NONE"]}
        assert routes[key]["AuthorizerId"]["Fn::If"][1] == {"Ref": "JwtAuthorizer"}
    assert "AuthorizationType" not in routes["GET /health"]


def test_cors_is_on_the_http_api_only_when_origins_are_listed() -> None:
    cors = resources()["HttpApi"]["Properties"]["CorsConfiguration"]["Fn::If"]
    assert cors[0] == "CorsEnabled"
    assert cors[1]["AllowOrigins"] == {"Ref": "CorsOrigins"}
    assert cors[1]["AllowHeaders"] == ["authorization", "content-type"]
    assert cors[2] == {"Ref": "AWS::NoValue"}


def test_the_stage_chooses_auth_and_cors() -> None:
    values = stack_parameters(JWT_STAGE, fake_bundle(), "bucket")
    assert values["Auth"] == "jwt" and values["JwtAudience"] == "votes-api"
    assert values["CorsOrigins"] == "https://app.example,https://www.example"
    plain = stack_parameters(Stage(name="prod"), fake_bundle(), "bucket")
    assert (plain["Auth"], plain["JwtIssuer"], plain["CorsOrigins"]) == ("none", "", "")


def test_the_function_url_gets_the_same_cors_and_refuses_auth_jwt() -> None:
    cors = resources()["ReceiverUrl"]["Properties"]["Cors"]["Fn::If"]
    assert cors[0] == "CorsEnabled" and cors[1]["AllowOrigins"] == {"Ref": "CorsOrigins"}
    from dataclasses import replace

    url = replace(JWT_STAGE, front_door="function-url", receiver_reserved_concurrency=300)
    with pytest.raises(ConfigError, match="front_door http-api"):
        stack_parameters(url, fake_bundle(), "bucket")


@pytest.mark.parametrize(
    ("settings", "words"),
    [
        ({"jwt_issuer": None}, "jwt_issuer"),
        ({"jwt_issuer": "http://issuer.example"}, "https"),
        ({"jwt_audience": None}, "jwt_audience"),
        ({"cors_origins": ("https://a.example,https://b.example",)}, "comma"),
    ],
)
def test_auth_settings_aws_would_reject_are_refused_early(
    settings: dict[str, Any], words: str
) -> None:
    from dataclasses import replace

    with pytest.raises(ConfigError, match=words):
        stack_parameters(replace(JWT_STAGE, **settings), fake_bundle(), "bucket")
