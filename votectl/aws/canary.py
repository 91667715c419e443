"""The AWS target's side of `votectl canary`: send through the stage's front door over HTTP
where the canary can (auth none, or a token), else invoke the receiver function directly with
the event API Gateway would hand it; read and delete one vote item in DynamoDB.

Lambda ``Invoke`` with ``InvocationType=RequestResponse`` runs the function synchronously and
returns what it returned as ``Payload``; when it fails, ``FunctionError`` is "Handled" (the
function's error) or "Unhandled" (Lambda's: timeout, out of memory) and the payload describes it
(https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html). ``GetItem`` reads eventually
consistent by default; ``ConsistentRead`` returns the last write
(https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_GetItem.html).
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any
from urllib.parse import urlsplit

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from lambdas.adapters import partition_key, sort_key
from votectl.aws.session import Aws, aws_errors, error_code
from votectl.aws.stack import FUNCTIONS, DeployedStack
from votectl.config import Stage
from votectl.probe import RECEIVER, Sent, Stored, Unreachable, answer, post_votes

__all__ = ["AwsProbe", "receiver_event"]

# One attempt, and long enough for a cold start: a retried Invoke would send the votes twice
# (harmless, the table keeps the latest) but hide how the first attempt failed.
_INVOKE = Config(retries={"max_attempts": 1, "mode": "standard"}, read_timeout=30)


def receiver_event(body: bytes, request_id: str, claims: dict[str, str] | None) -> dict[str, Any]:
    """The HTTP API (payload format 2.0) event of ``POST /votes``, with the JWT authorizer's
    claims where the stage verifies tokens (tests/fixtures/events/apigw-http-api-v2-jwt.json
    is a real one; claims reach the function at requestContext.authorizer.jwt.claims)."""
    now = time.time()
    context: dict[str, Any] = {
        "accountId": "000000000000",
        "apiId": "votectl-canary",
        "domainName": "votectl-canary",
        "domainPrefix": "votectl-canary",
        "http": {
            "method": "POST",
            "path": "/votes",
            "protocol": "HTTP/1.1",
            "sourceIp": "127.0.0.1",
            "userAgent": "votectl-canary",
        },
        "requestId": request_id,
        "routeKey": "POST /votes",
        "stage": "$default",
        "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
        "timeEpoch": int(now * 1000),
    }
    if claims is not None:
        context["authorizer"] = {"jwt": {"claims": claims, "scopes": None}}
    return {
        "version": "2.0",
        "routeKey": "POST /votes",
        "rawPath": "/votes",
        "rawQueryString": "",
        "headers": {"content-type": "application/json", "user-agent": "votectl-canary"},
        "requestContext": context,
        "body": body.decode(),
        "isBase64Encoded": False,
    }


class AwsProbe:
    default_write_path = "unknown"

    def __init__(self, aws: Aws, stack: DeployedStack, stage: Stage, token: str | None) -> None:
        self._aws, self._stack, self._stage, self._token = aws, stack, stage, token
        self.notes: list[str] = []
        url = stack.endpoint_url()
        self.via, self.door = "invoke", stack.physical(FUNCTIONS["receiver"])
        if stage.auth == "jwt" and not token:
            self.notes.append("auth jwt and no --token: invoking the receiver with its claims")
        elif url is None:
            self.notes.append("the stack reports no front door URL: invoking the receiver")
        elif _leaves_endpoint(url, stage.endpoint_url):
            self.notes.append(
                f"front door {url} is AWS's, not served by endpoint {stage.endpoint_url}:"
                " invoking the receiver"
            )
        else:
            self.via, self.door = "http", url
        self._shards = int(stack.parameters.get("TableShards") or stage.table_shards)
        self._table = stack.physical("VotesTable")

    def send(self, body: bytes, user_id: str) -> Sent:
        if self.via == "http":
            return post_votes(self.door, body, self._token)
        request_id = f"votectl-canary-{uuid.uuid4()}"
        claims = None
        if self._stage.auth == "jwt":
            issuer, audience = self._stage.jwt_issuer or "", self._stage.jwt_audience or ""
            claims = {"sub": user_id, "iss": issuer, "aud": audience}
        event = receiver_event(body, request_id, claims)
        client = self._aws.session.client(
            "lambda",
            region_name=self._aws.region,
            endpoint_url=self._stage.endpoint_url,
            config=_INVOKE,
        )
        try:
            reply = client.invoke(
                FunctionName=self.door,
                InvocationType="RequestResponse",
                Payload=json.dumps(event).encode(),
            )
            payload = reply["Payload"].read()
        except ClientError as exc:
            message = exc.response.get("Error", {}).get("Message", "") or str(exc)
            said = f"lambda.invoke {self.door}: {error_code(exc)}: {_short(message)}"
            raise Unreachable(RECEIVER, said) from None
        except BotoCoreError as exc:
            raise Unreachable(RECEIVER, f"lambda.invoke {self.door}: {exc}") from None
        if reply.get("FunctionError"):
            raise Unreachable(
                RECEIVER,
                f"lambda.invoke {self.door}: the function failed ({reply['FunctionError']}):"
                f" {_short(payload.decode(errors='replace'))}",
            )
        try:
            response = json.loads(payload)
            sent = answer(int(response["statusCode"]), response.get("body") or "")
        except (ValueError, KeyError, TypeError):
            raise Unreachable(
                RECEIVER, f"lambda.invoke {self.door}: not an HTTP response: {_short(str(payload))}"
            ) from None
        return Sent(sent.status, sent.body, sent.request_id or request_id)

    def _key(self, user_id: str, title_id: str, aspect: str) -> dict[str, Any]:
        return {
            "pk": {"S": partition_key(title_id, user_id, self._shards)},
            "sk": {"S": sort_key(aspect, user_id)},
        }

    def read(self, user_id: str, title_id: str, aspect: str) -> Stored | None:
        with aws_errors(f"reading the canary's vote in {self._table}", self._stage):
            item = (
                self._aws.client("dynamodb")
                .get_item(
                    TableName=self._table,
                    Key=self._key(user_id, title_id, aspect),
                    ConsistentRead=True,  # the vote just written, not a replica's older view
                )
                .get("Item")
            )
        if item is None:
            return None
        path = item.get("write_path", {}).get("S")
        return Stored(int(item["score"]["N"]), item["voted_at"]["S"], path)

    def delete(self, user_id: str, title_id: str, aspect: str) -> None:
        with aws_errors(f"deleting the canary's vote in {self._table}", self._stage):
            self._aws.client("dynamodb").delete_item(
                TableName=self._table, Key=self._key(user_id, title_id, aspect)
            )


def _leaves_endpoint(url: str, endpoint_url: str | None) -> bool:
    """A stage pointed at an emulator whose front door URL is AWS's own: posting there would
    leave the emulator (and reach AWS, or nothing)."""
    if not endpoint_url:
        return False
    return urlsplit(url).hostname != urlsplit(endpoint_url).hostname and (
        urlsplit(url).hostname or ""
    ).endswith(".amazonaws.com")


def _short(text: str, limit: int = 300) -> str:
    one = " ".join(text.split())
    return one if len(one) <= limit else one[: limit - 1] + "…"
