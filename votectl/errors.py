"""The error tree. Each error knows its exit code and a hint; the CLI boundary prints one line.

VotectlError                 exit 1, operational failure
├── UsageError               exit 2, bad flags, config or arguments
│   └── ConfigError          votectl.toml unreadable or invalid
├── NotRunning               the local pipeline's data dir does not exist yet
├── NoVotes                  `results` found no vote for the title (exit 1, as grep does)
├── AlreadyRunning           another `votectl up` holds the data dir
├── PipelineFailed           `votectl up` / demo could not start, drain, or lost votes
├── LoadtestFailed           Locust failed or wrote no summary
├── BundleFailed             a function zip could not be built (wheel, platform)
├── DoesNotFit               `votectl plan`: the rate exceeds a limit of the stage
├── QueuesNotEmpty           `votectl destroy`: a queue or DLQ still holds messages
└── AwsError                 an AWS call failed (credentials, endpoint, stack state, ...)
    ├── MissingCredentials
    ├── StackNotFound
    ├── StackBusy            the stack is mid-update or in a failed state
    ├── ResourceMissing      a stack resource is gone
    └── DeployFailed
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "AlreadyRunning",
    "AwsError",
    "BundleFailed",
    "ConfigError",
    "DeployFailed",
    "DoesNotFit",
    "LoadtestFailed",
    "MissingCredentials",
    "NoVotes",
    "NotRunning",
    "PipelineFailed",
    "QueuesNotEmpty",
    "ResourceMissing",
    "StackBusy",
    "StackNotFound",
    "UsageError",
    "VotectlError",
    "make_dir",
]


class VotectlError(Exception):
    exit_code = 1
    hint = ""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        if hint is not None:
            self.hint = hint


class UsageError(VotectlError):
    exit_code = 2
    hint = "see `votectl COMMAND --help`"


def make_dir(path: Path, refusal: str, flag: str) -> Path:
    """``path`` made with its parents, or a UsageError "<refusal>: <why>" whose hint names
    the option ``flag`` that chose it (a file in the way, a read-only place)."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        why = "it is a file" if path.is_file() else (exc.strerror or str(exc))
        raise UsageError(
            f"{refusal}: {why}",
            hint=f"pass {flag} a directory you can write (it is created if missing)",
        ) from None
    return path


class ConfigError(UsageError):
    hint = "check votectl.toml (see docs/deploying.md, 'Stages')"


class NotRunning(VotectlError):
    hint = "start the pipeline with `votectl up`, or pass --data-dir"


class NoVotes(VotectlError):
    hint = (
        "check the title id (ids are case-sensitive); `votectl table count` shows what is stored;"
        " a vote sent a moment ago may still be in a queue (`votectl queue stats`)"
    )


class AlreadyRunning(VotectlError):
    hint = "`votectl down` stops the other `votectl up`; or pass another --data-dir"


class PipelineFailed(VotectlError):
    hint = "run `votectl up` in the foreground to see why"


class LoadtestFailed(VotectlError):
    hint = "run the printed locust command by hand to see why"


class BundleFailed(VotectlError):
    hint = "run `votectl bundle` again; see docs/deploying.md, '`votectl bundle`'"


class DoesNotFit(VotectlError):
    hint = "make the changes listed under 'to fit', or plan a lower --rate"


class QueuesNotEmpty(VotectlError):
    hint = (
        "let the pipeline drain (`votectl status`), redrive the DLQs (`votectl redrive`) or save"
        " their votes (`votectl queue peek`), then destroy again; --force deletes them with the"
        " stack"
    )


class AwsError(VotectlError):
    hint = "check the stage's region, profile and endpoint_url"


class MissingCredentials(AwsError):
    hint = "configure credentials (aws configure, AWS_PROFILE or --profile)"


class StackNotFound(AwsError):
    hint = "deploy the stage first with `votectl deploy --stage NAME`"


class DeployFailed(AwsError):
    hint = "the stack was rolled back; fix the reasons above and deploy again"


class StackBusy(AwsError):
    hint = (
        "wait for the stack to settle (`votectl status`), or fix it in the CloudFormation console"
    )


class ResourceMissing(AwsError):
    hint = "deploy the stage again with `votectl deploy` to recreate it"
