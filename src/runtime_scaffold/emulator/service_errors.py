"""Lambda's service errors as a caller receives them: ``x-amzn-ErrorType`` and a ``{"Type", "Message"}`` body.

That is what botocore and the JavaScript SDK read to raise the named exception (``ResourceNotFoundException``...);
every Lambda API route (Invoke, the read-only function calls, response streaming) answers its errors with it.
"""

from __future__ import annotations

import json

from runtime_scaffold.emulator.messages import Reply


def service_error(status: int, error_type: str, message: str) -> Reply:
    body = json.dumps({"Type": "User", "Message": message, "message": message}).encode()
    return Reply(status, body, {"x-amzn-ErrorType": error_type})
