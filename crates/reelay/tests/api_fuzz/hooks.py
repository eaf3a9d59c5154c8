"""schemathesis hooks for reelay's API fuzz run (`tests/it/api_fuzz.rs`, `scripts/fuzz`).

Adds the check the API promises beyond its schema: every error under /api/ is the JSON body
{"error": {"code": "...", "message": "..."}} with a JSON content type, and says nothing of a
backend's own error text. Also lets schemathesis send the one non-JSON text body the API takes
(an HLS multivariant playlist).
"""

import json
import urllib.parse

import schemathesis
from hypothesis import Phase, settings

# Hypothesis's hill-climbing phase (`target`), which schemathesis aims at requests the server
# accepts, now and then fails inside Hypothesis itself ("Index … out of range" in its optimiser);
# the coverage phase already sends the edges of every rule. Without it a run is repeatable.
settings.register_profile("reelay", phases=[p for p in Phase if p not in (Phase.target, Phase.explain)])
settings.load_profile("reelay")

schemathesis.serializer.alias("application/vnd.apple.mpegurl", "text/plain")

# Words that only a backend's or a library's own error text would carry to a client.
LEAKS = ("sqlx", "sqlite", "postgres", "panicked", "os error", "backtrace")


@schemathesis.check
def api_errors_are_json_bodies(ctx, response, case):
    path = urllib.parse.urlsplit(response.request.url).path
    if response.status_code < 400 or not path.startswith("/api/"):
        return None
    content_type = (response.headers.get("content-type") or [""])[0]
    if not content_type.startswith("application/json"):
        raise AssertionError(f"{response.status_code} with content type {content_type!r}")
    try:
        body = json.loads(response.content)
    except ValueError as e:
        raise AssertionError(f"{response.status_code} body is not JSON: {e}") from None
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict) or set(error) != {"code", "message"}:
        raise AssertionError(f"{response.status_code} body is not {{error: {{code, message}}}}")
    if not isinstance(error["code"], str) or not error["code"]:
        raise AssertionError("error.code is not a non-empty string")
    if not isinstance(error["message"], str):
        raise AssertionError("error.message is not a string")
    lowered = error["message"].lower()
    for word in LEAKS:
        if word in lowered:
            raise AssertionError(f"error message carries backend text ({word!r}): {error['message']}")
    return None
