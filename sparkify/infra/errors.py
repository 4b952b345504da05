"""The errors the infra operations raise, besides ``ConfigError``."""

from __future__ import annotations

from sparkify.errors import SparkifyError


class AwsError(SparkifyError):
    """An AWS API call failed (the botocore error, translated, secrets removed)."""

    def __init__(self, action: str, code: str, reason: str) -> None:
        self.action = action
        self.code = code
        self.reason = reason
        super().__init__(f"could not {action} (AWS said {code}): {reason}")


class InfraStateError(SparkifyError):
    """A resource is in a state the command cannot work with."""

    def __init__(self, resource: str, state: str, hint: str) -> None:
        self.resource = resource
        self.state = state
        self.hint = hint
        super().__init__(f"{resource} is {state}: {hint}")


class InfraTimeoutError(SparkifyError):
    """A resource did not reach the wanted state before the timeout."""

    def __init__(self, resource: str, wanted: str, last_state: str, waited: float) -> None:
        self.resource = resource
        self.wanted = wanted
        self.last_state = last_state
        self.waited = waited
        super().__init__(
            f"{resource} still {last_state} after {waited:.0f} s "
            f"(waiting for {wanted}); run the command again to keep waiting"
        )
